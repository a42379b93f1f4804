//! Answering-machine detection on 20 ms frames of 8 kHz PCM, and voicemail beep detection.
