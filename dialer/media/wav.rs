//! WAV in and out: prompts of any rate, channel count and sample format become 8 kHz mono i16;
//! recordings are written as 8 kHz 16-bit mono or stereo.
//!
//! Reading goes through `hound` (integer PCM of 8–32 bits, 32-bit float) and a small parser of
//! our own for G.711 WAVs (format tags 6 and 7, common for telephony prompts), which `hound`
//! does not read. Channels are averaged; the rate is converted with a Kaiser-windowed sinc
//! low-pass interpolator (cut-off at 92 % of the lower Nyquist frequency, 16 zero crossings each
//! side), so tones above 4 kHz do not alias into the call.

use std::f64::consts::PI;
use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::bridge::RecordSink;
use super::g711::{Codec, FRAME_SAMPLES};

/// The telephony sample rate everything in `media` runs at.
pub const RATE: u32 = 8000;

/// A WAV file that could not be read or written; names the file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a WAV file we can read: {source}", path.display())]
    Format { path: PathBuf, source: hound::Error },
    #[error("{}: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: hound::Error },
    #[error("{}: {what}", path.display())]
    Usage { path: PathBuf, what: &'static str },
}

/// Read a WAV file as 8 kHz mono 16-bit samples (channels averaged, rate converted).
pub fn read_8k_mono(path: &Path) -> Result<Vec<i16>, WavError> {
    let bytes = std::fs::read(path).map_err(|source| WavError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode_8k_mono(&bytes).map_err(|e| e.at(path))
}

/// Like [`read_8k_mono`], from the bytes of a WAV file.
pub fn decode_8k_mono(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    let (rate, mono) = match decode_with_hound(bytes) {
        Ok(v) => v,
        Err(hound::Error::Unsupported) => decode_g711_wav(bytes)?,
        Err(source) => {
            return Err(WavError::Format {
                path: PathBuf::new(),
                source,
            });
        }
    };
    let out = resample(&mono, rate, RATE);
    Ok(out.iter().map(|&x| to_i16(x)).collect())
}

impl WavError {
    fn at(self, p: &Path) -> WavError {
        let path = p.to_owned();
        match self {
            WavError::Io { source, .. } => WavError::Io { path, source },
            WavError::Format { source, .. } => WavError::Format { path, source },
            WavError::Unsupported { what, .. } => WavError::Unsupported { path, what },
            WavError::Write { source, .. } => WavError::Write { path, source },
            WavError::Usage { what, .. } => WavError::Usage { path, what },
        }
    }
}

fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Samples as f32 in [-1, 1], channels averaged, with the file's rate.
fn decode_with_hound(bytes: &[u8]) -> Result<(u32, Vec<f32>), hound::Error> {
    let mut r = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = r.spec();
    let ch = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    Ok((spec.sample_rate, downmix(&interleaved, ch)))
}

fn downmix(interleaved: &[f32], ch: usize) -> Vec<f32> {
    if ch == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect()
}

fn unsupported(what: impl Into<String>) -> WavError {
    WavError::Unsupported {
        path: PathBuf::new(),
        what: what.into(),
    }
}

/// A RIFF/WAVE file whose `fmt ` says A-law (6) or µ-law (7), possibly inside
/// WAVE_FORMAT_EXTENSIBLE.
fn decode_g711_wav(b: &[u8]) -> Result<(u32, Vec<f32>), WavError> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(unsupported("not a RIFF/WAVE file"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut pos = 12;
    let mut fmt: Option<(Codec, u16, u32)> = None;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let len = u32_at(pos + 4) as usize;
        let body = pos + 8;
        let end = body.saturating_add(len).min(b.len());
        if id == b"fmt " {
            if end - body < 16 {
                return Err(unsupported("`fmt ` chunk is too short"));
            }
            let mut tag = u16_at(body);
            if tag == 0xFFFE && end - body >= 26 {
                tag = u16_at(body + 24);
            }
            let codec = match tag {
                6 => Codec::Pcma,
                7 => Codec::Pcmu,
                t => {
                    return Err(unsupported(format!(
                        "WAV format tag {t} is not supported (PCM, float, A-law and µ-law are)"
                    )));
                }
            };
            fmt = Some((codec, u16_at(body + 2).max(1), u32_at(body + 4)));
        } else if id == b"data" {
            let Some((codec, ch, rate)) = fmt else {
                return Err(unsupported("`data` chunk before `fmt ` chunk"));
            };
            let pcm: Vec<f32> = b[body..end]
                .iter()
                .map(|&x| codec.decode_sample(x) as f32 / 32768.0)
                .collect();
            return Ok((rate, downmix(&pcm, ch as usize)));
        }
        pos = body.saturating_add(len + (len & 1));
    }
    Err(unsupported("no `data` chunk"))
}

/// Zero crossings of the sinc on each side of the interpolation point.
const ZEROS: usize = 16;
/// Kernel table entries per zero crossing (linear interpolation between them).
const KERNEL_RES: usize = 512;
/// Pass band as a fraction of the lower Nyquist frequency.
const CUTOFF: f64 = 0.92;
const KAISER_BETA: f64 = 9.0;

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        k += 1.0;
    }
    sum
}

/// sinc(u)·kaiser(u/ZEROS) for u = i / KERNEL_RES, i in 0..=ZEROS·KERNEL_RES (+1 guard).
fn kernel() -> &'static [f32] {
    static K: OnceLock<Vec<f32>> = OnceLock::new();
    K.get_or_init(|| {
        let n = ZEROS * KERNEL_RES;
        let i0b = bessel_i0(KAISER_BETA);
        (0..=n + 1)
            .map(|i| {
                let u = i as f64 / KERNEL_RES as f64;
                if u >= ZEROS as f64 {
                    return 0.0;
                }
                let sinc = if i == 0 {
                    1.0
                } else {
                    (PI * u).sin() / (PI * u)
                };
                let r = u / ZEROS as f64;
                let w = bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / i0b;
                (sinc * w) as f32
            })
            .collect()
    })
}

/// Convert `input` sampled at `from` Hz to `to` Hz (band-limited; unity gain in the pass band).
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let k = kernel();
    let ratio = from as f64 / to as f64; // input samples per output sample
    let cutoff = 0.5 * CUTOFF * (1.0f64).min(1.0 / ratio); // cycles per input sample
    let scale = 2.0 * cutoff; // input-sample distance → zero crossings
    let half = ZEROS as f64 / scale;
    let out_len = (input.len() as u64 * to as u64).div_ceil(from as u64) as usize;
    let last = input.len() as i64 - 1;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let t = (n as u64 * from as u64) as f64 / to as f64;
        let lo = ((t - half).ceil() as i64).max(0);
        let hi = ((t + half).floor() as i64).min(last);
        let (mut acc, mut wsum) = (0.0f64, 0.0f64);
        for j in lo..=hi {
            let u = (j as f64 - t).abs() * scale * KERNEL_RES as f64;
            let i = u as usize;
            if i > ZEROS * KERNEL_RES {
                continue;
            }
            let f = (u - i as f64) as f32;
            let w = (k[i] + (k[i + 1] - k[i]) * f) as f64;
            acc += input[j as usize] as f64 * w;
            wsum += w;
        }
        out.push(if wsum.abs() > 1e-9 {
            (acc / wsum) as f32
        } else {
            0.0
        });
    }
    out
}

/// A streaming 8 kHz 16-bit WAV writer (mono or stereo). The header is brought up to date on
/// [`flush`](Self::flush) and [`finalize`](Self::finalize), so a file cut short by a crash
/// still plays up to the last flush.
pub struct WavWriter {
    path: PathBuf,
    channels: u16,
    inner: hound::WavWriter<BufWriter<File>>,
}

impl WavWriter {
    /// Create (or truncate) `path` with 1 or 2 channels at 8 kHz.
    pub fn create(path: &Path, channels: u16) -> Result<WavWriter, WavError> {
        if !(1..=2).contains(&channels) {
            return Err(WavError::Usage {
                path: path.to_owned(),
                what: "recordings have 1 or 2 channels",
            });
        }
        let spec = hound::WavSpec {
            channels,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let inner = hound::WavWriter::create(path, spec).map_err(|source| WavError::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(WavWriter {
            path: path.to_owned(),
            channels,
            inner,
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples written per channel so far.
    pub fn frames_written(&self) -> u32 {
        self.inner.duration()
    }

    fn err(&self, source: hound::Error) -> WavError {
        WavError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Append mono samples (the file must be mono).
    pub fn write_mono(&mut self, samples: &[i16]) -> Result<(), WavError> {
        if self.channels != 1 {
            return Err(WavError::Usage {
                path: self.path.clone(),
                what: "write_mono on a stereo file",
            });
        }
        let mut w = self.inner.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w.write_sample(s);
        }
        w.flush().map_err(|e| self.err(e))
    }

    /// Append stereo samples, `left` and `right` of the same length (the file must be stereo).
    pub fn write_stereo(&mut self, left: &[i16], right: &[i16]) -> Result<(), WavError> {
        if self.channels != 2 || left.len() != right.len() {
            return Err(WavError::Usage {
                path: self.path.clone(),
                what: "write_stereo needs a stereo file and channels of equal length",
            });
        }
        let mut w = self.inner.get_i16_writer(2 * left.len() as u32);
        for (&l, &r) in left.iter().zip(right) {
            w.write_sample(l);
            w.write_sample(r);
        }
        w.flush().map_err(|e| self.err(e))
    }

    /// Write buffered samples out and update the header.
    pub fn flush(&mut self) -> Result<(), WavError> {
        self.inner.flush().map_err(|source| WavError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Finish the file.
    pub fn finalize(self) -> Result<(), WavError> {
        let path = self.path;
        self.inner
            .finalize()
            .map_err(|source| WavError::Write { path, source })
    }
}

/// A bridge's recording goes to a stereo WAV file (the sink lives here, beside the file IO).
impl RecordSink for WavWriter {
    fn write(
        &mut self,
        left: &[i16; FRAME_SAMPLES],
        right: &[i16; FRAME_SAMPLES],
    ) -> Result<(), String> {
        self.write_stereo(left, right).map_err(|e| e.to_string())
    }

    fn finish(self: Box<Self>) -> Result<(), String> {
        self.finalize().map_err(|e| e.to_string())
    }
}

/// Write 8 kHz 16-bit `interleaved` samples with `channels` channels to `path`.
pub fn write(path: &Path, channels: u16, interleaved: &[i16]) -> Result<(), WavError> {
    let mut w = WavWriter::create(path, channels)?;
    let mut iw = w.inner.get_i16_writer(interleaved.len() as u32);
    for &s in interleaved {
        iw.write_sample(s);
    }
    iw.flush().map_err(|e| w.err(e))?;
    w.finalize()
}

/// Write 8 kHz mono samples as a G.711 WAV (format tag 7 for µ-law, 6 for A-law), the form
/// telephony tools such as sipp's `rtp_stream` play.
pub fn write_g711(path: &Path, codec: Codec, samples: &[i16]) -> Result<(), WavError> {
    let io = |source| WavError::Io {
        path: path.to_owned(),
        source,
    };
    let n = samples.len() as u32;
    let tag: u16 = match codec {
        Codec::Pcma => 6,
        Codec::Pcmu => 7,
    };
    let mut b = Vec::with_capacity(58 + samples.len() + 1);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4 + 26 + 12 + 8 + n + (n & 1)).to_le_bytes());
    b.extend_from_slice(b"WAVE");
    b.extend_from_slice(b"fmt ");
    b.extend_from_slice(&18u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // channels
    b.extend_from_slice(&RATE.to_le_bytes());
    b.extend_from_slice(&RATE.to_le_bytes()); // bytes per second
    b.extend_from_slice(&1u16.to_le_bytes()); // block align
    b.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    b.extend_from_slice(&0u16.to_le_bytes()); // cbSize
    b.extend_from_slice(b"fact");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&n.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&n.to_le_bytes());
    b.extend(samples.iter().map(|&s| codec.encode_sample(s)));
    if n & 1 == 1 {
        b.push(0);
    }
    let mut f = File::create(path).map_err(io)?;
    f.write_all(&b).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Power of `freq` in `x` (Goertzel), normalised so a full-scale sine gives ~0.25.
    pub(crate) fn tone_power(x: &[f32], rate: u32, freq: f64) -> f64 {
        let w = 2.0 * PI * freq / rate as f64;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = v as f64 + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f64 * x.len() as f64)
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    fn sine(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<f32> {
        let n = (rate as f64 * secs) as usize;
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / rate as f64).sin()) as f32)
            .collect()
    }

    /// Zero-crossing frequency estimate over the middle of the signal (edges trimmed).
    fn zc_freq(x: &[f32], rate: u32) -> f64 {
        let x = &x[x.len() / 10..x.len() * 9 / 10];
        let crossings: Vec<usize> = (1..x.len())
            .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
            .collect();
        let (a, b) = (crossings[0], crossings[crossings.len() - 1]);
        (crossings.len() - 1) as f64 * rate as f64 / (b - a) as f64
    }

    #[test]
    fn tone_frequency_and_level_survive_downsampling() {
        for (rate, f) in [
            (44100, 1000.0),
            (48000, 440.0),
            (16000, 3000.0),
            (11025, 2500.0),
        ] {
            let x = sine(f, rate, 0.5, 0.5);
            let y = resample(&x, rate, RATE);
            assert_eq!(y.len(), 4000, "{rate}");
            let est = zc_freq(&y, RATE);
            assert!((est - f).abs() < 2.0, "{rate} Hz {f} Hz tone → {est} Hz");
            let mid = &y[400..3600];
            let level = rms(mid) / (0.5 / 2f64.sqrt());
            assert!(
                (level - 1.0).abs() < 0.02,
                "{rate} Hz {f} Hz level ratio {level}"
            );
        }
    }

    #[test]
    fn tones_above_4khz_do_not_alias() {
        // Naive decimation folds 6 kHz at 48 kHz onto 2 kHz and 5 kHz at 44.1 kHz onto 3 kHz.
        for (rate, f, alias) in [(48000, 6000.0, 2000.0), (44100, 5000.0, 3000.0)] {
            let x = sine(f, rate, 0.5, 0.8);
            let y = resample(&x, rate, RATE);
            let mid = &y[400..3600];
            let db = 20.0 * (rms(mid) / (0.8 / 2f64.sqrt())).log10();
            assert!(db < -60.0, "{f} Hz at {rate} Hz left {db:.1} dB");
            let p = tone_power(mid, RATE, alias);
            assert!(p < 1e-7, "{alias} Hz alias power {p}");
        }
    }

    #[test]
    fn upsampling_keeps_the_tone() {
        let x = sine(1000.0, 6000, 0.5, 0.5);
        let y = resample(&x, 6000, RATE);
        assert_eq!(y.len(), 4000);
        assert!((zc_freq(&y, RATE) - 1000.0).abs() < 2.0);
    }

    fn write_spec(path: &Path, spec: hound::WavSpec, frames: &[Vec<f64>]) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for f in frames {
            for &v in f {
                match (spec.sample_format, spec.bits_per_sample) {
                    (hound::SampleFormat::Float, _) => w.write_sample(v as f32).unwrap(),
                    (_, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
                    (_, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                    (_, bits) => w
                        .write_sample((v * ((1i64 << (bits - 1)) - 1) as f64) as i32)
                        .unwrap(),
                }
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_any_layout_as_8k_mono() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (44100, 2, 16, hound::SampleFormat::Int),
            (48000, 1, 24, hound::SampleFormat::Int),
            (22050, 2, 8, hound::SampleFormat::Int),
            (16000, 1, 32, hound::SampleFormat::Float),
            (8000, 1, 16, hound::SampleFormat::Int),
            (32000, 2, 32, hound::SampleFormat::Int),
        ];
        for (rate, channels, bits, fmt) in cases {
            let spec = hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: bits,
                sample_format: fmt,
            };
            // Left a 1 kHz tone, right silent when stereo: the mix halves it.
            let n = rate as usize / 4;
            let frames: Vec<Vec<f64>> = (0..n)
                .map(|i| {
                    let v = 0.6 * (2.0 * PI * 1000.0 * i as f64 / rate as f64).sin();
                    if channels == 2 { vec![v, 0.0] } else { vec![v] }
                })
                .collect();
            let p = dir.path().join(format!("t{rate}_{channels}_{bits}.wav"));
            write_spec(&p, spec, &frames);
            let got = read_8k_mono(&p).unwrap();
            assert_eq!(got.len(), 2000, "{p:?}");
            let f: Vec<f32> = got.iter().map(|&s| s as f32 / 32768.0).collect();
            assert!((zc_freq(&f, RATE) - 1000.0).abs() < 3.0, "{p:?}");
            let want = 0.6 / channels as f64 / 2f64.sqrt();
            let level = rms(&f[200..1800]) / want;
            assert!((level - 1.0).abs() < 0.03, "{p:?} level {level}");
        }
    }

    #[test]
    fn g711_wav_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let pcm: Vec<i16> = sine(700.0, RATE, 0.3, 0.4)
            .iter()
            .map(|&v| to_i16(v))
            .collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let p = dir.path().join(format!("{}.wav", codec.name()));
            write_g711(&p, codec, &pcm).unwrap();
            let back = read_8k_mono(&p).unwrap();
            assert_eq!(back.len(), pcm.len());
            for (a, b) in pcm.iter().zip(&back) {
                assert_eq!(codec.decode_sample(codec.encode_sample(*a)), *b);
            }
        }
    }

    #[test]
    fn writer_mono_and_stereo() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("st.wav");
        let mut w = WavWriter::create(&p, 2).unwrap();
        w.write_stereo(&[1, 2, 3], &[-1, -2, -3]).unwrap();
        w.flush().unwrap();
        w.write_stereo(&[4], &[-4]).unwrap();
        assert!(w.write_mono(&[0]).is_err());
        assert!(w.write_stereo(&[1, 2], &[1]).is_err());
        assert_eq!(w.frames_written(), 4);
        w.finalize().unwrap();
        let mut r = hound::WavReader::open(&p).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.spec().sample_rate, 8000);
        let s: Vec<i16> = r.samples::<i16>().map(|x| x.unwrap()).collect();
        assert_eq!(s, vec![1, -1, 2, -2, 3, -3, 4, -4]);

        let p = dir.path().join("mono.wav");
        write(&p, 1, &[5, 6, 7]).unwrap();
        assert_eq!(read_8k_mono(&p).unwrap(), vec![5, 6, 7]);
        assert!(WavWriter::create(&p, 3).is_err());
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.wav");
        std::fs::write(&p, b"RIFF\x04\0\0\0WAVEjunk").unwrap();
        let e = read_8k_mono(&p).unwrap_err().to_string();
        assert!(e.contains("junk.wav"), "{e}");
        let e = read_8k_mono(&dir.path().join("missing.wav"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.wav"), "{e}");
    }
}
