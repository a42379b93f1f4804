#!/bin/sh
# Rebuild the example prerecorded messages that a person may hear without an agent: the
# safe-harbor messages, the voicemail drop and the agentless survey's introduction. Each names the caller and a number to call back
# and says how to opt out by key press (47 CFR 64.1200(b)(2), (b)(3) and (a)(7)(i)(A); 16 CFR
# 310.4(b)(4)(iii)): the key is the campaigns' `dnc.opt_out_key` (default 9); set KEY to the
# one you configured. 8 kHz mono 16-bit, as the media engine plays them.
#
#   sh campaigns/audio/make_prompts.sh            # from the repository root
#   KEY=5 sh campaigns/audio/make_prompts.sh
#
# Needs: espeak-ng and sox. The numbers are fictional (555-01xx).
set -eu
KEY=${KEY:-9}
cd "$(dirname "$0")"
for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "make_prompts.sh: $tool is not installed" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

say() {
    espeak-ng -v en-us -s 150 -w "$TMP/raw.wav" "$2"
    sox "$TMP/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1"
    echo "$1: $2"
}

# The opt-out instructions come within 2 s of the identification (64.1200(b)(3)), the number
# to call back after them (b)(2).
say safe_harbor.wav "Hello, this is Example Home Services. To be put on our do not call list, \
press $KEY now. We are sorry: nobody is free to take this call right now. You can call us back \
at 2 0 2, 5 5 5, 0 1 4 3."

say collections_safe_harbor.wav "Hello, this is Example Recovery Services. To stop our calls to \
this number, press $KEY now. Please call us back at 2 0 2, 5 5 5, 0 1 5 8."

say voicemail.wav "Hi, this is Example Home Services. To be put on our do not call list, press \
$KEY now, or call us toll free at 8 8 8, 5 5 5, 0 1 4 3. We are following up on your request for \
a quote: please call us back at 2 0 2, 5 5 5, 0 1 4 3."

# The agentless survey (campaigns/survey.toml): the key is taken during every message of it.
say survey_intro.wav "Hello, this is Example Home Services with a two question survey about \
your recent service. To be put on our do not call list, press $KEY at any time."
