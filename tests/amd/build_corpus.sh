#!/usr/bin/env bash
# Build the labelled AMD corpus in tests/amd/corpus/: 8 kHz mono 16-bit WAVs plus labels.csv
# (file,truth,split,beep_ms,speech_end_ms,notes; speech_end_ms: end of a person's first utterance). Deterministic: the same tools give the same files.
#
# Needs: espeak-ng, sox, and Debian's asterisk-core-sounds-en-wav (/usr/share/asterisk/sounds/en).
#
# What is in it (each file starts at the answer):
# - people: "Hello?"-style greetings, two-part greetings, whole sentences, a silent answer before
#   speaking, hello → pause → hello again; they start speaking 100–500 ms after the answer and
#   then wait (blocks e, f and g have the mix of a consumer campaign, the others lean on the hard
#   cases);
# - machines: long and short greetings with a beep (400–2000 Hz, 150–1000 ms, 100–800 ms after
#   the greeting), greetings with no beep, Asterisk's own voicemail prompts with beep.wav;
# - every file goes through a G.711 µ-law round trip; about half get noise (white, pink, brown)
#   or a quiet (−20 to −28 dB) or hot level.
# - people who keep talking (blocks h-r): a live opening said phrase by phrase ("Hello?" ...
#   "Yes, who is this?"), in English, Spanish, German, French, Russian, Italian, Polish...; and
#   machines with a short greeting (1.5-3 s) and no beep.
# Parameters are drawn from the ranges above with a seeded generator, not picked per file.
# The train, test and holdout splits use different texts, espeak voices and seeds; the
# detector's defaults were tuned looking at the train split only. `holdout` (blocks q, r) is the
# split no tuning has looked at; `test` (d-g) and blocks i-p (now train) were held out once and
# have been seen since.
# Voices: espeak-ng falls back silently to the plain voice for a variant it does not know, and
# `en-gb+<variant>` is always plain en-gb (blocks b-l use it so); blocks m-r name British
# variants as `en+<variant>`, which applies them.
set -euo pipefail
cd "$(dirname "$0")"

SND=/usr/share/asterisk/sounds/en
OUT=corpus
for tool in espeak-ng sox soxi; do
    command -v "$tool" >/dev/null || { echo "build_corpus.sh: $tool is missing" >&2; exit 1; }
done
[ -f "$SND/vm-intro.wav" ] || { echo "build_corpus.sh: $SND is missing (asterisk-core-sounds-en-wav)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.wav
echo "file,truth,split,beep_ms,speech_end_ms,notes" >"$OUT/labels.csv"

F8=(-r 8000 -c 1 -b 16 -e signed-integer)
n=0

# A seeded LCG in this shell (bash's $RANDOM is reseeded in every $(...) subshell, so it would
# not be repeatable). Both set REPLY.
SEED=1
next() { SEED=$(((SEED * 1103515245 + 12345) % 2147483648)); }
rnd() { next; REPLY=$(($1 + (SEED >> 8) % ($2 - $1 + 1))); }   # integer in [lo, hi]
pick() { next; local a=("$@"); REPLY=${a[(SEED >> 8) % ${#a[@]}]}; }  # one of the arguments
ms_of() { echo $(($(soxi -s "$1") / 8)); }                   # duration in ms
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }   # ms → seconds for sox

# Speech pieces, trimmed of leading/trailing silence, telephone band, peak −3 dBFS.
clean() { sox -R "$1" "${F8[@]}" "$2" sinc 300-3400 silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse norm -3; }
say() { # voice speed pitch text out
    espeak-ng -m -v "$1" -s "$2" -p "$3" -w "$TMP/raw.wav" "$4"
    clean "$TMP/raw.wav" "$5"
}
speak() { # voice text out, at a random speed and pitch
    local sp
    rnd 145 195
    sp=$REPLY
    rnd 30 70
    say "$1" "$sp" "$REPLY" "$2" "$3"
}
prompt() { clean "$SND/$1.wav" "$2"; }                       # an Asterisk prompt
sil() { sox -R -n "${F8[@]}" "$2" trim 0 "$(secs "$1")"; }  # silence of $1 ms
beep() { # hz ms out
    sox -R -n "${F8[@]}" "$3" synth "$(secs "$2")" sine "$1" fade 0.005 0 0.005 vol 0.4
}

# finish NAME TRUTH SPLIT BEEP_MS SPEECH_END_MS NOTES PIECES...: concatenate, apply a random line condition,
# G.711 round trip, write the file and its label.
finish() {
    local name=$1 truth=$2 split=$3 beep_ms=$4 speech_end=$5 notes=${6//\"/}
    shift 6
    sox -R "$@" "$TMP/cat.wav"
    local dur cond
    dur=$(ms_of "$TMP/cat.wav")
    pick clean clean clean noise noise quiet hot
    cond=$REPLY
    case $cond in
    clean) cp "$TMP/cat.wav" "$TMP/line.wav" ;;
    quiet)
        local g
        rnd 20 28
        g=$REPLY
        sox -R "$TMP/cat.wav" "$TMP/line.wav" gain -"$g"
        cond="quiet -${g} dB"
        ;;
    hot) sox -R "$TMP/cat.wav" "$TMP/line.wav" gain 2 ;;
    noise)
        local kind level
        pick whitenoise pinknoise brownnoise
        kind=$REPLY
        rnd 30 42
        level=$REPLY
        sox -R -n "${F8[@]}" "$TMP/noise.wav" synth "$(secs "$dur")" "$kind" gain -"$level" sinc 200-3400
        sox -R -m -v 1 "$TMP/cat.wav" -v 1 "$TMP/noise.wav" "${F8[@]}" "$TMP/line.wav"
        cond="$kind -${level} dBFS"
        ;;
    esac
    sox -R "$TMP/line.wav" -t wav -e u-law "$TMP/ulaw.wav"
    sox -R "$TMP/ulaw.wav" "${F8[@]}" "$OUT/$name.wav"
    echo "$name.wav,$truth,$split,$beep_ms,$speech_end,\"$notes; $cond; g711\"" >>"$OUT/labels.csv"
    n=$((n + 1))
}

# A person: optional long silent answer, a greeting, the pause left for an answer.
person() { # split voice text kind
    local split=$1 voice=$2 text=$3 kind=$4 lead name
    name=$(printf '%s_human_%02d' "$BLOCK" "$n")
    case $kind in
    silent) rnd 1500 3000 ;;
    *) rnd 100 500 ;;
    esac
    lead=$REPLY
    sil "$lead" "$TMP/lead.wav"
    if [ "$voice" = allison ]; then prompt "$text" "$TMP/s1.wav"; else speak "$voice" "$text" "$TMP/s1.wav"; fi
    local end
    end=$((lead + $(ms_of "$TMP/s1.wav")))
    case $kind in
    again)
        rnd 1200 2000
        sil "$REPLY" "$TMP/gap.wav"
        speak "$voice" "Hello?" "$TMP/s2.wav"
        sil 1000 "$TMP/tail.wav"
        finish "$name" human "$split" "" "$end" "$kind: $voice '$text' then 'Hello?'" \
            "$TMP/lead.wav" "$TMP/s1.wav" "$TMP/gap.wav" "$TMP/s2.wav" "$TMP/tail.wav"
        ;;
    *)
        sil 1500 "$TMP/tail.wav"
        finish "$name" human "$split" "" "$end" "$kind: $voice '$text' after ${lead} ms" \
            "$TMP/lead.wav" "$TMP/s1.wav" "$TMP/tail.wav"
        ;;
    esac
}

# A machine: a greeting (espeak text or a list of Asterisk prompts), then a beep or not.
machine() { # split voice text beep(yes|no) [prompts...]
    local split=$1 voice=$2 text=$3 has_beep=$4 lead name
    shift 4
    name=$(printf '%s_machine_%02d' "$BLOCK" "$n")
    rnd 0 500
    lead=$REPLY
    if [ "$lead" -gt 0 ]; then sil "$lead" "$TMP/lead.wav"; else sil 20 "$TMP/lead.wav"; lead=20; fi
    if [ "$voice" = allison ]; then
        local parts=() i=0
        for p in "$@"; do prompt "$p" "$TMP/p$i.wav"; parts+=("$TMP/p$i.wav"); i=$((i + 1)); done
        sox -R "${parts[@]}" "$TMP/greet.wav"
    else
        speak "$voice" "$text" "$TMP/greet.wav"
    fi
    local g
    g=$(ms_of "$TMP/greet.wav")
    if [ "$has_beep" = yes ]; then
        local gap hz len
        rnd 100 800
        gap=$REPLY
        pick 425 440 500 600 700 800 850 1000 1000 1200 1400 1600 1800 1950
        hz=$REPLY
        rnd 150 1000
        len=$REPLY
        sil "$gap" "$TMP/gap.wav"
        if [ "$voice" = allison ] && rnd 0 1 && [ "$REPLY" = 0 ]; then
            clean "$SND/beep.wav" "$TMP/beep.wav"
            hz="beep.wav"
            len=$(ms_of "$TMP/beep.wav")
        else
            beep "$hz" "$len" "$TMP/beep.wav"
        fi
        sil 500 "$TMP/tail.wav"
        finish "$name" machine "$split" $((lead + g + gap)) "" \
            "greeting ${g} ms by $voice: '$text'; beep $hz Hz ${len} ms after ${gap} ms" \
            "$TMP/lead.wav" "$TMP/greet.wav" "$TMP/gap.wav" "$TMP/beep.wav" "$TMP/tail.wav"
    else
        sil 2000 "$TMP/tail.wav"
        finish "$name" machine "$split" "" "" "greeting ${g} ms by $voice: '$text'; no beep" \
            "$TMP/lead.wav" "$TMP/greet.wav" "$TMP/tail.wav"
    fi
}

# A person who keeps talking: phrases said one at a time (each with its own intonation, the
# speed and pitch drifting a little around the person's own), 200-800 ms apart, as a live
# opening goes ("Hello?" ... "Yes, who is this?"); then the pause left for an answer.
# speech_end_ms is the end of the first phrase (the first utterance).
live() { # split voice phrase...
    local split=$1 voice=$2 lead name sp pt i=0 end=0 parts=()
    shift 2
    name=$(printf '%s_human_%02d' "$BLOCK" "$n")
    rnd 100 500
    lead=$REPLY
    sil "$lead" "$TMP/lead.wav"
    parts+=("$TMP/lead.wav")
    rnd 145 195
    sp=$REPLY
    rnd 30 70
    pt=$REPLY
    for ph in "$@"; do
        if [ "$i" -gt 0 ]; then
            rnd 200 800
            sil "$REPLY" "$TMP/g$i.wav"
            parts+=("$TMP/g$i.wav")
        fi
        rnd -15 15
        local s2=$((sp + REPLY))
        rnd -10 10
        say "$voice" "$s2" $((pt + REPLY)) "$ph" "$TMP/ph$i.wav"
        parts+=("$TMP/ph$i.wav")
        [ "$i" -gt 0 ] || end=$((lead + $(ms_of "$TMP/ph$i.wav")))
        i=$((i + 1))
    done
    sil 1500 "$TMP/tail.wav"
    parts+=("$TMP/tail.wav")
    local text
    text=$(printf '%s | ' "$@")
    finish "$name" human "$split" "" "$end" "live: $voice '${text% | }' after ${lead} ms" "${parts[@]}"
}

# ---------------------------------------------------------------- block a: train split
BLOCK=a
SEED=6001
VI=0
TV=(en-us en-us+f3 en-gb+m3 en-us+f2 en-gb-x-rp+m5 en+klatt)
for t in "Hello?" "Hello?" "Hi." "Yeah, hello?" "Hello." "Yes?" "Hello, who's calling?"; do
    person train "${TV[VI++ % ${#TV[@]}]}" "$t" short
done
person train allison hello short
person train "${TV[VI++ % ${#TV[@]}]}" "Hello, this is Dana speaking." sentence
person train "${TV[VI++ % ${#TV[@]}]}" "Good afternoon, Smith residence." sentence
person train "${TV[VI++ % ${#TV[@]}]}" "Hi, this is Tom, who is this?" sentence
person train "${TV[VI++ % ${#TV[@]}]}" "Hello?" silent
person train "${TV[VI++ % ${#TV[@]}]}" "Yes, hello?" silent
person train "${TV[VI++ % ${#TV[@]}]}" "Hello?" again
person train "${TV[VI++ % ${#TV[@]}]}" "Hi?" again

machine train "${TV[VI++ % ${#TV[@]}]}" "Hi, you've reached Sam and Alex. We can't take your call right now. Please leave a message after the tone." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "Hello, this is Dana. I'm not available right now. Please leave your name and number and I'll call you back." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "You have reached the voicemail of five five five, one two three four. Please leave a message." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "The person you are calling is not available. At the tone, please record your message." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "Hey, it's Jordan. I'm away from my phone, so leave a message and I'll get back to you." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "Thanks for calling Acme Plumbing. Our office is closed. Please leave a message with your address." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "Leave a message." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "Please leave a message." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "It's Kim. Leave a message." yes
machine train "${TV[VI++ % ${#TV[@]}]}" "Hi, you have reached Pat. Sorry I missed your call, I will call you back as soon as I can." no
machine train "${TV[VI++ % ${#TV[@]}]}" "The subscriber you have dialed is not available. Please try again later." no
machine train allison "" yes vm-theperson digits/2 digits/0 digits/4 vm-isunavail vm-intro
machine train allison "" yes vm-nobodyavail vm-intro
machine train allison "" no vm-rec-unv

# ---------------------------------------------------------------- block b: train split
# (first built as the held-out split; its errors were seen while the defaults were being set,
# so it counts as training data now)
BLOCK=b
SEED=9907
SV=(en-gb en-us+m7 en-029+f4 en-us-nyc+m2 en-gb-scotland+f5 en+m6)
for t in "Hello?" "Hello?" "Hi there?" "Yep, hello?" "Hey." "Hello, yes?" "Who is this?"; do
    person train "${SV[VI++ % ${#SV[@]}]}" "$t" short
done
person train "${SV[VI++ % ${#SV[@]}]}" "Hello, Mike speaking." sentence
person train "${SV[VI++ % ${#SV[@]}]}" "Good morning, this is the Johnson house." sentence
person train "${SV[VI++ % ${#SV[@]}]}" "Hello, how can I help you?" sentence
person train "${SV[VI++ % ${#SV[@]}]}" "Hello?" silent
person train "${SV[VI++ % ${#SV[@]}]}" "Hello, who is it?" silent
person train "${SV[VI++ % ${#SV[@]}]}" "Hello?" again
person train "${SV[VI++ % ${#SV[@]}]}" "Yes?" again

machine train "${SV[VI++ % ${#SV[@]}]}" "Hi, you have reached Maria. Please leave a message and I will get back to you as soon as I can." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Hello, you've reached the Garcia family. We are not home right now, but if you leave a message we'll call you back." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Thank you for calling. Our office is closed. Please leave a message after the beep." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Welcome to the voice mailbox of extension two one four. Record your message at the tone." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "This is Chris. I can't answer right now. Text me or leave a voicemail." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Hi, it's Lee. Busy, leave a message." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Leave your message." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Not here, leave a message." yes
machine train "${SV[VI++ % ${#SV[@]}]}" "Sorry, we missed you. Please call again during business hours, Monday to Friday." no
machine train "${SV[VI++ % ${#SV[@]}]}" "The mailbox of the person you are calling is full and cannot accept messages." no
machine train allison "" yes vm-theperson digits/7 digits/1 vm-isunavail vm-intro
machine train allison "" yes vm-nobodyavail vm-intro
machine train allison "" no number-not-answering please-try-call-later

# ---------------------------------------------------------------- block c: train split
# Built as the second held-out split after the first defaults were frozen; evaluated once
# (85 %: two long sentences from people called machines, one "Message please." + late beep
# called human), then `greeting_ms` went from 2600 to 3000 ms, so it is training data now.
BLOCK=c
SEED=4242
CV=(en-us+f4 en-gb-x-gbclan+m1 en-gb-x-gbcwmd+f1 en-us+m4 en+klatt3 en-029+m3)
for t in "Hello?" "Hello?" "Hiya." "Yeah?" "Hello there." "Hello, who's this?"; do
    person train "${CV[VI++ % ${#CV[@]}]}" "$t" short
done
person train "${CV[VI++ % ${#CV[@]}]}" "Hi, this is Sarah." sentence
person train "${CV[VI++ % ${#CV[@]}]}" "Hello, Brown residence, who's calling?" sentence
person train "${CV[VI++ % ${#CV[@]}]}" "Good morning, Acme Plumbing, this is Dana speaking, how can I help you?" sentence
person train "${CV[VI++ % ${#CV[@]}]}" "Hello?" silent
person train "${CV[VI++ % ${#CV[@]}]}" "Hello?" again

machine train "${CV[VI++ % ${#CV[@]}]}" "Hi, you've reached Ben. I'm not around right now, please leave your name, number and a short message." yes
machine train "${CV[VI++ % ${#CV[@]}]}" "Hello. You have reached the Nguyen family. Please leave a message after the beep and we'll return your call." yes
machine train "${CV[VI++ % ${#CV[@]}]}" "Thank you for calling Riverside Dental. Our office is now closed. Please leave a message." yes
machine train "${CV[VI++ % ${#CV[@]}]}" "Hey, this is Alex. <break time=\"800ms\"/> Leave a message." yes
machine train "${CV[VI++ % ${#CV[@]}]}" "Leave a message after the tone." yes
machine train "${CV[VI++ % ${#CV[@]}]}" "Message please." yes
machine train "${CV[VI++ % ${#CV[@]}]}" "Hi. You've reached Jamie. I'm on vacation until Monday. For urgent matters, call my office." no
machine train allison "" yes vm-theperson digits/9 digits/3 vm-isonphone vm-intro
machine train allison "" yes vm-nobodyavail vm-intro

# ---------------------------------------------------------------- block d: test split (held out)
# Written after the defaults were frozen again; evaluated once and reported as it came out.
# (Issue 6 changed the defaults again, looking at blocks a-c only, and evaluated it again.)
BLOCK=d
SEED=777
DV=(en-us+m1 en-gb+f1 en-us-nyc+f3 en-gb-scotland+m4 en+klatt4 en-029+f5 en-gb-x-rp+f2)
for t in "Hello?" "Hello?" "Hello?" "Yes, hi?" "Hi, hello?" "Speaking." "Hello, good evening."; do
    person test "${DV[VI++ % ${#DV[@]}]}" "$t" short
done
person test "${DV[VI++ % ${#DV[@]}]}" "Hello, this is Robert, who am I speaking to?" sentence
person test "${DV[VI++ % ${#DV[@]}]}" "Hi, it's Emma, what's up?" sentence
person test "${DV[VI++ % ${#DV[@]}]}" "Hello?" silent
person test "${DV[VI++ % ${#DV[@]}]}" "Hello? Hello?" again

machine test "${DV[VI++ % ${#DV[@]}]}" "Hi, this is Olivia. I can't get to the phone right now. Leave a message and I'll call you back." yes
machine test "${DV[VI++ % ${#DV[@]}]}" "You've reached the office of Doctor Patel. We are closed for the day. Please leave a message after the tone." yes
machine test "${DV[VI++ % ${#DV[@]}]}" "Hello, you have reached five five five, two six seven eight. Nobody is available. Please leave a message." yes
machine test "${DV[VI++ % ${#DV[@]}]}" "It's Sam, you know what to do." yes
machine test "${DV[VI++ % ${#DV[@]}]}" "Please leave your message after the tone." yes
machine test "${DV[VI++ % ${#DV[@]}]}" "Hi, you've got Mark and Lisa. <break time=\"600ms\"/> We're out, so leave a message." yes
machine test "${DV[VI++ % ${#DV[@]}]}" "The number you have called is not in service. Please check the number and dial again." no
machine test allison "" yes vm-theperson digits/5 digits/8 vm-isunavail vm-intro
machine test allison "" no vm-nobodyavail

# ---------------------------------------------------------------- block e: test split (held out)
# The mix of people a consumer campaign reaches: most answer with one short word and wait, a few
# add a second phrase, say a sentence, wait silently before speaking, or say hello twice (blocks
# a-d have many more sentences and two-part greetings than live answers do, which sets their
# median decision time). Machines include the hard cases for a quick human decision: short
# greetings with a beep, and greetings that open with "Hello." and a sentence pause. Written when
# the second set of defaults (issue 6) was frozen; evaluated once and reported as it came out.
BLOCK=e
SEED=31337
EV=(en-us+m3 en-gb+f4 en-029+m2 en-us-nyc+m5 en-gb-scotland+f3 en+klatt5 en-us+f5 en-gb-x-rp+m3)
for t in "Hello?" "Hello?" "Hello?" "Hello?" "Hello?" "Hi." "Yes?" "Hello." "Yeah?" "Hey?"; do
    person test "${EV[VI++ % ${#EV[@]}]}" "$t" short
done
person test "${EV[VI++ % ${#EV[@]}]}" "Hi, who's this?" short
person test "${EV[VI++ % ${#EV[@]}]}" "Yes, hello?" short
person test "${EV[VI++ % ${#EV[@]}]}" "Hello, Carter residence." sentence
person test "${EV[VI++ % ${#EV[@]}]}" "Hi, this is Jenny, who's calling?" sentence
person test "${EV[VI++ % ${#EV[@]}]}" "Hello?" silent
person test "${EV[VI++ % ${#EV[@]}]}" "Hello?" again

machine test "${EV[VI++ % ${#EV[@]}]}" "Hi, you've reached Nora and Ben. We can't come to the phone right now, so please leave a message." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Thank you for calling Lakeside Auto Repair. We are open Monday to Saturday. Please leave a message after the tone." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Hello. You've reached the Carter family. Leave us a message and we'll call you back." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Hello. This is Victor. Please leave a message." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Leave a message." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Hi, leave a message." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "You know what to do." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Please leave a message after the beep." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "Hi, it's Tess. <break time=\"500ms\"/> Leave a message." yes
machine test "${EV[VI++ % ${#EV[@]}]}" "The wireless customer you are calling is not available. Please try your call again later." no
machine test "${EV[VI++ % ${#EV[@]}]}" "Hi, this is Omar. I'm not taking calls today, please send me an email instead." no
machine test allison "" yes vm-theperson digits/6 digits/1 vm-isunavail vm-intro
machine test allison "" yes vm-leavemsg
machine test allison "" no vm-nobodyavail

# ---------------------------------------------------------------- block f: test split (held out)
# A consumer campaign's mix again, with voices and texts no other block uses: most people say one
# short word and wait, two add a second phrase, two say a sentence, two wait silently before
# speaking, one says hello twice; machines with long and short greetings, with and without a
# beep. Written and declared held out (issue 6, third round) before the detector ran on it; the
# defaults changed in that round were set looking at blocks a-e only. Evaluated once: 28/28
# (one silent person "not sure"), people's median 1280 ms, p95 3940 ms (a 3 s sentence).
BLOCK=f
SEED=2718
FV=(en-us+m2 en-gb+m5 en-us+f1 en-gb-x-gbclan+f2 en-us-nyc+f4 en-029+m1 en+klatt2 en-gb-x-rp+f4 en-gb-scotland+m2 en-us+m5)
for t in "Hello?" "Hello?" "Hello?" "Hello?" "Hello?" "Hi." "Yes?" "Hello." "Yeah?"; do
    person test "${FV[VI++ % ${#FV[@]}]}" "$t" short
done
person test "${FV[VI++ % ${#FV[@]}]}" "Hello, yes?" short
person test "${FV[VI++ % ${#FV[@]}]}" "Hi, who is this?" short
person test "${FV[VI++ % ${#FV[@]}]}" "Hello, Wilson residence." sentence
person test "${FV[VI++ % ${#FV[@]}]}" "Hi, this is Paul speaking, who's this?" sentence
person test "${FV[VI++ % ${#FV[@]}]}" "Hello?" silent
person test "${FV[VI++ % ${#FV[@]}]}" "Yes?" silent
person test "${FV[VI++ % ${#FV[@]}]}" "Hello?" again

machine test "${FV[VI++ % ${#FV[@]}]}" "Hi, you've reached Grace. I can't take your call right now, please leave a message after the beep." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "Thank you for calling Hilltop Veterinary Clinic. We are closed. Please leave your name and number." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "Hello. You've reached Tom and Anna. We're not in, leave us a message." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "You have reached the voicemail box of two four one, six six zero, nine nine one two. Please leave a message." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "Leave a message please." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "Hey, leave a message." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "Sorry I missed you, leave a message." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "Hi, it's Dan. <break time=\"700ms\"/> Leave a message." yes
machine test "${FV[VI++ % ${#FV[@]}]}" "The number you have dialed is not reachable at this time. Please try again later." no
machine test "${FV[VI++ % ${#FV[@]}]}" "Hi, it's Rosa. This mailbox is full, so please text me instead." no
machine test allison "" yes vm-theperson digits/8 digits/2 digits/7 vm-isunavail vm-intro
machine test allison "" no vm-mailboxfull

# ---------------------------------------------------------------- block g: test split (held out)
# Fourth held-out block (issue 6, fourth round), with its own seed, voices and texts: a consumer
# campaign's mix of people (most say one short word and wait; two add a second phrase, three say
# a sentence, two wait silently before speaking, one says hello twice) and the machines that are
# hard for a quick human decision (short greetings with a beep, a "Hello." opener with a sentence
# pause, a pause after the name) besides long greetings with and without a beep. Written and
# declared held out before the detector ran on it; the settings changed in that round were tuned
# looking at blocks a-f only. Evaluated once: 30/31 (g_human_166, a 3.07 s sentence, called a
# machine, as by the detector before that round; one silent person not sure), people's median
# 1360 ms, p95 3320 ms.
BLOCK=g
SEED=1618
GV=(en-us+m6 en-gb+f2 en-029+f3 en-us-nyc+m6 en-gb-scotland+m5 en+klatt6 en-gb-x-rp+m7 en-gb-x-gbcwmd+m2 en-gb-x-gbclan+m4)
for t in "Hello?" "Hello?" "Hello?" "Hello?" "Hi?" "Yep?" "Hello." "Yeah, hi?" "Uh, hello?"; do
    person test "${GV[VI++ % ${#GV[@]}]}" "$t" short
done
person test "${GV[VI++ % ${#GV[@]}]}" "Hello, who's there?" short
person test "${GV[VI++ % ${#GV[@]}]}" "Hi, yes?" short
person test "${GV[VI++ % ${#GV[@]}]}" "Hello, Martin speaking." sentence
person test "${GV[VI++ % ${#GV[@]}]}" "Good evening, Parker residence, who's calling please?" sentence
person test "${GV[VI++ % ${#GV[@]}]}" "Hi, it's Linda, can I help you?" sentence
person test "${GV[VI++ % ${#GV[@]}]}" "Hello?" silent
person test "${GV[VI++ % ${#GV[@]}]}" "Hi?" silent
person test "${GV[VI++ % ${#GV[@]}]}" "Hello?" again

machine test "${GV[VI++ % ${#GV[@]}]}" "Hi, you've reached Ellen and Mark. We're not able to answer right now, please leave a message after the tone." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Thank you for calling Northside Pharmacy. We are closed for the evening. Please leave your name, number and the reason for your call." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Hello. This is Frank. Leave me a message." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "You have reached three one two, eight four four, five zero six seven. Please leave a message." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Leave it at the tone." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Go ahead, leave a message." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Hi, you know the drill." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Message after the beep, thanks." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "Hey, it's Ruth. <break time=\"600ms\"/> Leave a message." yes
machine test "${GV[VI++ % ${#GV[@]}]}" "We're sorry, the person you are trying to reach has a voice mailbox that has not been set up yet. Goodbye." no
machine test "${GV[VI++ % ${#GV[@]}]}" "Hi, it's Greg. I don't check this voicemail, please call my cell instead." no
machine test allison "" yes vm-theperson digits/3 digits/9 vm-isonphone vm-intro
machine test allison "" yes vm-nobodyavail vm-intro
machine test allison "" no vm-theperson digits/6 digits/4 vm-isunavail

# ---------------------------------------------------------------- block h: train split
# Issue 18: longer live openings and short machine greetings without a beep, in several
# languages. People keep talking ("Hello?" ... "Yes, who is this?", each phrase on its own,
# 200-800 ms apart), or say a sentence and, hearing nothing, "Hello?" again 1.2-2 s later; a few
# say one word, or a sentence and then wait. Machines: mostly one short even utterance (1.5-3 s)
# with no beep, some with one. The training block for that round: blocks i and j were its
# held-out twins, with their own texts, voices and seeds.
BLOCK=h
SEED=5150
person train en-029+m5 "Hello?" short
person train es "¿Bueno?" short
person train de+f3 "Hallo?" short
person train ru+m2 "Алло?" short
live train en-us+f4 "Hello?" "Yes, who is this?"
live train en-gb+m6 "Yes?" "Who is it?"
live train es-419+m3 "¿Aló?" "¿Sí, quién habla?"
live train de+m5 "Ja, hallo?" "Wer ist denn da?"
live train fr-be+f2 "Allô?" "Oui, c'est qui?"
live train ru+f4 "Да?" "Я слушаю."
live train en-us+m7 "Hi." "Yeah, hello?" "Who's calling?"
person train en-us-nyc+f2 "Hello, this is Rick speaking." again
person train pl+f2 "Halo, tu Marek, słucham." again
person train en-gb-scotland+m3 "Good evening, Ross here." sentence
person train pt-br+f4 "Hello?" silent

machine train en-us+f5 "Hi, it's Ruby. Leave a message." no
machine train en-gb+m2 "You've reached Carl, please leave a message." no
machine train es+m4 "Hola, soy Lucía. Deja tu mensaje." no
machine train de+f5 "Hallo, hier ist Jonas. Bitte eine Nachricht." no
machine train fr-fr+m5 "Bonjour, vous êtes chez Paul, laissez un message." no
machine train ru+m5 "Здравствуйте, это Олег. Оставьте сообщение." no
machine train pt-br+m2 "Oi, é a Bia. Deixe seu recado." no
machine train en-029+f2 "This is Dave, I'll call you back." no
machine train nl+m3 "Hallo, met Sanne. Spreek een bericht in." yes
machine train en-us+m1 "Hi, you've reached Leo. Leave a message after the tone." yes
machine train en-gb-x-rp+f5 "Thank you for calling Harbour Books. We are closed today. Please leave your name and number and we will call you back." yes

# ---------------------------------------------------------------- block i: train split
# Issue 18's first held-out block, written with block h and declared held out before the
# detector ran on it: the same kinds of answer as h with other texts, voices, languages and seed.
# Evaluated once (with j: accuracy 87.0 %, 12 of 18 short beepless machines) and looked at since,
# so it is training data now; blocks k and l took its place.
BLOCK=i
SEED=8086
person train en-us+m5 "Hello?" short
person train en-gb+f5 "Hello?" short
person train es+m2 "¿Diga?" short
person train fr-fr+f4 "Oui, allô?" short
person train de+m2 "Ja?" short
live train en-us+m2 "Hello?" "Hello, who is this?"
live train en-029+f1 "Yes?" "Who is this?"
live train es-419+f4 "¿Bueno?" "Sí, ¿quién llama?"
live train de+f2 "Hallo?" "Ja, wer ist da?"
live train ru+m6 "Алло?" "Да, кто это?"
live train en-gb+m4 "Hi." "Yes, hello?" "Who's this?"
person train en-us+f3 "Hello, this is Sam speaking." again
person train es+f5 "Hola, habla Marta." again
person train en-gb-scotland+f1 "Hi, this is Sam, who's calling?" sentence
person train en-us-nyc+m4 "Hello, Baker residence." sentence
person train fr-fr+m4 "Allô?" silent

machine train en-us+f2 "Hi, it's Sam. Leave a message." no
machine train en-gb+f4 "You've reached Kate. I'll call you back." no
machine train en-us-nyc+m3 "Hello, Miller residence, leave a message." no
machine train es+f3 "Hola, soy Ana. Deja un mensaje." no
machine train de+m6 "Hier ist Anna. Ich rufe zurück." no
machine train fr-fr+f5 "Bonjour, c'est Marie. Laissez un message." no
machine train ru+f5 "Привет, это Иван. Перезвоню позже." no
machine train it+m4 "Ciao, sono Luca. Lasciate un messaggio." no
machine train en-gb-x-rp+m2 "Hello, it's Peter, please leave a message." no
machine train en-us+m6 "Hi, this is Nina. Leave a message after the beep." yes
machine train de+f4 "Guten Tag, hier ist die Praxis Doktor Weber. Wir sind zurzeit nicht erreichbar. Bitte sprechen Sie nach dem Signalton." yes

# ---------------------------------------------------------------- block j: train split
# Issue 18's second held-out block, declared held out with block i: other texts, voices,
# languages and seed. Evaluated once with i and looked at since: training data now.
BLOCK=j
SEED=6502
person train en-us+f1 "Hello?" short
person train en-029+m4 "Hello?" short
person train ru+f2 "Да?" short
person train it+f3 "Pronto?" short
person train es-419+m5 "¿Sí?" short
live train en-gb+f1 "Yes?" "Who is it, please?"
live train en-us-nyc+f5 "Hello?" "Yeah, hi, who's this?"
live train fr-fr+m3 "Allô?" "Oui, qui est à l'appareil?"
live train it+m2 "Pronto?" "Sì, chi parla?"
live train ru+m3 "Алло?" "Говорите, я слушаю."
live train en-us+m4 "Hey." "Hello?" "Anyone there?"
person train en-gb+m5 "Hello, Tom speaking." again
person train de+f6 "Hallo, hier ist Lena." again
person train en-us+f6 "Good afternoon, this is Grace, how can I help?" sentence
person train es+m6 "Hola, buenas tardes." sentence
person train en-029+f3 "Hello?" silent

machine train en-us+m2 "Hey, it's Josh. Leave a message." no
machine train en-gb+f6 "This is Claire. Sorry I missed you." no
machine train en-us+f7 "You've reached the Lopez family, leave a message." no
machine train es+m5 "Has llamado a Pedro. Deja tu recado." no
machine train de+m3 "Hallo, hier ist Max. Sprich aufs Band." no
machine train fr-fr+f3 "Salut, c'est Julie, laisse un message." no
machine train ru+m4 "Это Сергей. Оставьте сообщение." no
machine train it+f2 "Ciao, sono Giulia. Richiamo io." no
machine train pt+m3 "Olá, é o Rui. Deixe mensagem." no
machine train en-us-nyc+m1 "Hi, it's Ben, leave a message after the tone." yes
machine train fr-fr+m6 "Bonjour, vous êtes bien au cabinet du docteur Martin. Nous sommes absents pour le moment. Merci de laisser un message après le bip." yes

# ---------------------------------------------------------------- block k: train split
# Issue 18's second round: a fresh held-out block written before the detector of that round was
# changed, with the kinds of answer of blocks h-j and texts, voices, languages and a seed no other
# block used. Evaluated once before and once after that round's change (with l: accuracy 96.3 %,
# one person called a machine of 32) and looked at since, so it is training data now; blocks m
# and n took its place.
BLOCK=k
SEED=4711
person train en-us+m8 "Hello?" short
person train en-gb+steph "Hello?" short
person train sv+f2 "Hallå?" short
person train cs+m3 "Prosím?" short
person train en-029+m6 "Yeah?" short
live train en-us+paul "Hello?" "Yes, who's calling?"
live train en-gb+f3 "Hi?" "Sorry, who is this?"
live train da+m2 "Hallo?" "Ja, hvem taler jeg med?"
live train nl+f4 "Hallo?" "Ja, met wie spreek ik?"
live train pt-br+m4 "Alô?" "Sim, quem fala?"
live train en-us+linda "Hey." "Hello?" "Who's there?"
person train en-us+m3 "Hi, Jones residence, Kelly speaking." again
person train it+f5 "Pronto, sono Chiara." again
person train en-gb-x-gbcwmd+m5 "Good morning, Evans here." sentence
person train en-us-nyc+f1 "Hi, this is Rachel, can I help you?" sentence
person train sv+m4 "Hallå?" silent

machine train en-us+shelby "Hi, this is Megan. Leave a message." no
machine train en-gb+m7 "You've reached Oliver. Talk soon." no
machine train en-us+m7 "Hello, Garcia residence, please leave a message." no
machine train sv+f3 "Hej, det är Erik. Lämna ett meddelande." no
machine train da+f2 "Hej, det er Mette. Læg en besked." no
machine train cs+f4 "Dobrý den, tady Petr. Zanechte vzkaz." no
machine train nl+m5 "Hoi, met Daan. Ik bel je terug." no
machine train pt-br+f5 "Oi, aqui é o Caio. Deixe um recado." no
machine train en-029+f5 "Hey, it's Tasha, leave me a message." no
machine train en-us+m1 "Hi, it's Owen. Leave a message at the tone." yes
machine train nb+m2 "Hei, du har kommet til tannlegekontoret. Vi er stengt nå. Legg igjen en beskjed etter pipetonen." yes

# ---------------------------------------------------------------- block l: train split
# Held out with block k (other texts, voices, languages and seed), evaluated with it and looked
# at since: training data now.
BLOCK=l
SEED=9241
person train en-us+andy "Hello?" short
person train en-gb+f2 "Hi?" short
person train pl+m4 "Halo?" short
person train ro+f3 "Alo?" short
person train fr-ch+m2 "Allô?" short
live train en-gb+annie "Hello?" "Yes, can I help you?"
live train en-us+david "Yeah?" "Who is this, please?"
live train de+m7 "Hallo?" "Ja bitte, wer spricht?"
live train es+f4 "¿Dígame?" "Sí, ¿quién es?"
live train uk+m3 "Алло?" "Так, хто це?"
live train en-us+f5 "Hi." "Hello?" "Can you hear me?"
person train en-gb-x-rp+f1 "Hello, Sarah speaking." again
person train ro+m5 "Alo, sunt Mihai." again
person train en-us+m4 "Hello, this is the Wright family." sentence
person train fi+f2 "Haloo, Virtanen." sentence
person train en-gb+m8 "Hello?" silent

machine train en-us+steph "Hi, you've got Amy. Leave a message." no
machine train en-gb-scotland+f4 "This is Ian. I'll ring you back." no
machine train en-us-nyc+m7 "You've reached the Kim family, please leave a message." no
machine train pl+f3 "Cześć, tu Ola. Zostaw wiadomość." no
machine train fi+m3 "Hei, täällä Mikko. Jätä viesti." no
machine train uk+f4 "Привіт, це Оксана. Залиште повідомлення." no
machine train fr-ch+f2 "Bonjour, ici Claude. Je vous rappelle." no
machine train ro+f2 "Bună, sunt Ioana. Lăsați un mesaj." no
machine train en-us+m5 "Hi, it's Nate, I'll get back to you." no
machine train en-gb+m1 "Hello, it's Rob, leave a message after the beep." yes
machine train it+m6 "Buongiorno, studio legale Bianchi. L'ufficio è chiuso. Lasciate un messaggio dopo il segnale acustico." yes

# ---------------------------------------------------------------- block m: train split
# Issue 18's third round: a fresh, larger held-out block (with n: 63 people and 42 machines, so
# that 2 % of people is more than one) written and committed before the detector ran on it, with
# the kinds of answer of blocks h-l and texts, voices, languages (Hungarian, Slovak, Croatian,
# Turkish, Catalan, Bulgarian, Greek, Afrikaans, Latvian, Lithuanian, Estonian, Icelandic,
# Indonesian, named English variants) and a seed no other block uses. Evaluated once before and
# once after that round's change (with n: accuracy 95.2 %, one person called a machine of 63)
# and looked at since, so it is training data now; blocks o and p took its place.
BLOCK=m
SEED=7331
person train en-us+Alex "Hello?" short
person train en+belinda "Hello?" short
person train hu "Halló?" short
person train sk+m2 "Haló?" short
person train hr+f3 "Molim?" short
person train en-us+john "Yeah, hello?" short
person train tr+m4 "Alo?" short
person train ca+f2 "Digui?" short
person train en-029+m7 "Hello." short
person train en-us+Michael "Hi?" short
live train en-us+Mike "Hello?" "Hello, this is Sam speaking."
live train en+f4 "Yes?" "Who is this?"
live train hu+f2 "Halló?" "Igen, ki beszél?"
live train sk+m5 "Prosím?" "Áno, kto volá?"
live train bg+m3 "Ало?" "Да, кой се обажда?"
live train el+f4 "Εμπρός?" "Ναι, ποιος είναι?"
live train tr+f3 "Alo?" "Evet, kim arıyor?"
live train ca+m2 "Sí?" "Qui és, si us plau?"
live train en-us+Storm "Hi." "Yes, hello?" "Who's calling, please?"
live train af+m4 "Hallo?" "Ja, wie praat?"
live train lv+f2 "Hallo?" "Jā, kas zvana?"
live train en+rob "Hello?" "Hello? Can you hear me?"
person train en-us+Andrea "Hello, this is Sam speaking." again
person train en-us+caleb "Hi, Walker residence, Jenny speaking." again
person train hr+m2 "Halo, ovdje Ivan." again
person train id+f2 "Halo, dengan Budi." again
person train en+edward "Good afternoon, this is Harris speaking." sentence
person train et+m3 "Tere, Kask kuuleb." sentence
person train en-us+Lee "Yes? Who is this?" sentence
person train is+f3 "Halló, þetta er Anna." sentence
person train lt+m3 "Alio?" silent
person train en-us+Alicia "Hello?" silent

machine train en-us+benjamin "Hi, it's Noah. Leave a message." no
machine train en+aunty "You've reached Emma. I'll call you back." no
machine train en-us+Gene "This is Victor, leave a message." no
machine train hu+m3 "Szia, itt Péter. Hagyj üzenetet." no
machine train sk+f3 "Dobrý deň, tu Jana. Zanechajte odkaz." no
machine train hr+m4 "Bok, ovdje Marko. Ostavite poruku." no
machine train bg+f2 "Здравейте, това е Мария. Оставете съобщение." no
machine train el+m2 "Γεια σας, είμαι ο Νίκος. Αφήστε μήνυμα." no
machine train tr+m5 "Merhaba, ben Ahmet. Mesaj bırakın." no
machine train ca+f4 "Hola, sóc la Laia. Deixa un missatge." no
machine train af+f2 "Hallo, dis Pieter. Los 'n boodskap." no
machine train en-us+quincy "Hey, Mark here. Call you later." no
machine train en-029+Jacky "Hi, it's Tony. Talk to you soon." no
machine train lt+f2 "Labas, čia Rūta. Palikite žinutę." no
machine train en+victor "Sorry I missed you. Leave a message." no
machine train en-us+travis "Hi, you've reached Dylan. Leave a message." yes
machine train lv+m3 "Sveiki, te Jānis. Atstājiet ziņu." yes
machine train et+f4 "Tere, siin Mari. Jätke sõnum." yes
machine train en+Hugo "Thank you for calling Oakwood Surgery. The surgery is now closed. Please leave a message after the tone and we will return your call." yes
machine train is+m2 "Halló, þú hefur náð í Jón. Ég get ekki svarað núna, vinsamlegast skildu eftir skilaboð og ég hringi til baka." no
machine train en-us+zac "Hi, this is the Patel family. We're not able to get to the phone right now. Please call back later." no

# ---------------------------------------------------------------- block n: train split
# Held out with block m (other texts, voices, languages: Slovenian, Serbian, Macedonian,
# Albanian, Basque, Welsh, Malay, named English variants; and seed), evaluated with it and looked
# at since: training data now.
BLOCK=n
SEED=2718
person train en+anika "Hello?" short
person train en-us+adam "Hello?" short
person train sl+f2 "Prosim?" short
person train sr+m3 "Halo?" short
person train sq+f3 "Alo?" short
person train cy+m2 "Helo?" short
person train en-us+robert "Yes?" short
person train ms+f2 "Helo?" short
person train en+ed "Hiya?" short
person train en+klatt5 "Hello there." short
live train en-us+steph3 "Hello?" "Yes? Who is this?"
live train en+norbert "Hello?" "Hello, this is Sam speaking."
live train sl+m4 "Halo?" "Ja, kdo kliče?"
live train sr+f4 "Halo?" "Da, ko je to?"
live train mk+m2 "Ало?" "Да, кој е?"
live train eu+f2 "Bai?" "Nor da?"
live train cy+f4 "Helo?" "Ie, pwy sy 'na?"
live train ms+m4 "Helo?" "Ya, siapa ni?"
live train en-us+iven "Yeah?" "Sorry, who's calling?"
live train en+steph2 "Hi." "Hello?" "Is anyone there?"
live train sq+m4 "Alo?" "Po, kush flet?"
person train en-us+Denis "Hi, this is Chris speaking." again
person train en+grandpa "Hello, Thompson's, Arthur speaking." again
person train sl+f3 "Halo, tukaj Mojca." again
person train sq+f2 "Alo, jam Arta." again
person train en-us+boris "Yes? Who's this, please?" sentence
person train en-us+max "Good evening, Collins speaking." sentence
person train mk+f3 "Ало, кај Јованови." sentence
person train eu+m3 "Kaixo, Mikel naiz." sentence
person train cy+m3 "Helo?" silent
person train en-us+sandro "Hello?" silent

machine train en-us+edward2 "Hey, it's Lucas. Leave me a message." no
machine train en+marcelo "You've reached Hannah. Call me later." no
machine train en-us+michel "This is the Reed family, leave a message." no
machine train sl+m2 "Živjo, tukaj Luka. Pustite sporočilo." no
machine train sr+f2 "Zdravo, ovde Ana. Ostavite poruku." no
machine train mk+m4 "Здраво, ова е Петар. Оставете порака." no
machine train sq+m2 "Përshëndetje, jam Gent. Lini një mesazh." no
machine train eu+f3 "Kaixo, Ane naiz. Utzi mezua." no
machine train cy+f2 "Helo, Siân sy 'ma. Gadewch neges." no
machine train ms+m3 "Helo, saya Ali. Sila tinggalkan pesanan." no
machine train en-us+pablo "It's Kevin. I'll ring you back." no
machine train en-us+miguel "Hi, Sophie here. Leave a message." no
machine train en+Gene2 "Not available. Leave a message." no
machine train sr+m5 "Ovde Milan. Javiću se." no
machine train en-us+Mario "Hi there, it's Jen. Text me instead." no
machine train en-us+pedro "Hello, you've reached Omar. Leave a message after the beep." yes
machine train sl+f4 "Dober dan, tukaj Nina. Pustite sporočilo po signalu." yes
machine train en+Marco "Leave a message." yes
machine train cy+m5 "Diolch am ffonio. Mae'r swyddfa ar gau. Gadewch neges ar ôl y tôn os gwelwch yn dda." yes
machine train en-us+antonio "The person you are calling cannot take your call at the moment. Please try again later. Goodbye." no
machine train ms+f4 "Terima kasih kerana menelefon. Pejabat kami kini ditutup. Sila hubungi kami semula esok." no

# ---------------------------------------------------------------- block o: train split
# Issue 18's fourth round: a fresh held-out block (with p: 64 people and 44 machines, 32 of them
# short greetings with no beep, so that 90 % of them means something) written and committed
# before the detector ran on it, with the kinds of answer of blocks h-n and texts, voices,
# languages (Irish, Scottish Gaelic, Esperanto, Swahili, Vietnamese, Maltese, Luxembourgish,
# Aragonese, Bosnian, English variants no block used) and a seed no other block uses. Evaluated once
# before and once after that round's change (with p: accuracy 94.4 %, two people called machines
# of 64) and looked at since, so it is training data now; blocks q and r took its place.
BLOCK=o
SEED=3947
person train en-us+iven2 "Hello?" short
person train en+grandma "Hello?" short
person train ga "Haló?" short
person train gd "Halò?" short
person train eo "Saluton?" short
person train en-us+Nguyen "Yeah?" short
person train sw "Haloo?" short
person train vi "A lô?" short
person train en-029+iven3 "Hello." short
person train en-us+gustave "Hi?" short
live train en-us+kaukovalta "Hello?" "Yes, who am I speaking with?"
live train en+iven4 "Hi?" "Who's this, then?"
live train ga+f2 "Haló?" "Sea, cé atá ann?"
live train gd+m3 "Halò?" "Seadh, cò tha seo?"
live train eo+f3 "Saluton?" "Jes, kiu parolas?"
live train sw+m2 "Haloo?" "Ndiyo, ni nani?"
live train vi+f4 "A lô?" "Vâng, ai đấy ạ?"
live train mt+m4 "Hello?" "Iva, min qed ikellem?"
live train en-us+Henrique "Hey." "Hello?" "Who is it?"
live train lb+f2 "Hallo?" "Jo, wie ass do?"
live train an+m3 "Digas?" "Sí, qui ye?"
live train en+Diogo "Hello?" "Hello? Are you there?"
person train en-us+RicishayMax "Hi, this is Laura." again
person train en+AnxiousAndy "Morning, Fisher residence." again
person train bs+m2 "Halo, ovdje Emir." again
person train eo+m4 "Saluton, jen Petro." again
person train en+gustave "Good morning, this is Rogers speaking." sentence
person train mt+f3 "Bongu, hawn Maria." sentence
person train en-us+Diogo "Yes? Who's calling?" sentence
person train sw+f3 "Habari, mimi ni Juma." sentence
person train ga+m3 "Haló?" silent
person train en-us+iven3 "Hello?" silent

machine train en-us+iven2 "Hi, it's Brian. Leave a message." no
machine train en+grandma "You've reached Ruth and Tom. Speak soon." no
machine train en-us+Nguyen "This is Derek, I'll call you back." no
machine train en-029+iven3 "Hey, Carla here. Leave me a note." no
machine train en+gustave "Sorry, can't talk. Leave a message." no
machine train en-us+kaukovalta "Hi, Ellie here. Call me back later." no
machine train ga+m2 "Dia duit, seo Seán. Fág teachtaireacht." no
machine train gd+f2 "Halò, seo Mòrag. Fàg teachdaireachd." no
machine train eo+m2 "Saluton, ĉi tie Karlo. Lasu mesaĝon." no
machine train sw+f2 "Habari, mimi ni Amina. Acha ujumbe." no
machine train vi+m3 "Xin chào, tôi là Minh. Vui lòng để lại lời nhắn." no
machine train mt+f2 "Bongu, hawn Sarah. Ħalli messaġġ." no
machine train lb+m3 "Moien, hei ass de Luc. Schwätzt op de Band." no
machine train an+f4 "Hola, soi Pilar. Deixa un mensache." no
machine train bs+f2 "Zdravo, ovdje Amra. Ostavite poruku." no
machine train en-us+Henrique "Hey, you got Marcus. Talk later." no
machine train en+iven4 "Hi, you've reached Fiona. Leave a message at the tone." yes
machine train eo+f4 "Saluton, jen Ana. Parolu post la signalo." yes
machine train en+Diogo "Speak after the tone." yes
machine train en+RicishayMax "Thank you for calling Greenfield Library. We are closed right now. Please leave a message after the tone and we will call you back." yes
machine train vi+f2 "Cảm ơn quý khách đã gọi. Văn phòng chúng tôi hiện đã đóng cửa. Vui lòng gọi lại vào ngày mai." no
machine train en-us+gustave "You have reached the offices of Hart and Cole. Our office is closed for the weekend. Please call again on Monday." no

# ---------------------------------------------------------------- block p: train split
# Declared held out with block o: other texts, voices, languages (Azerbaijani, Uzbek, Armenian,
# Georgian, Hindi, Haitian Creole, Papiamento, Interlingua, Maori, Kazakh, English variants) and
# seed. Training data with it now.
BLOCK=p
SEED=6173
person train en-us+grandma "Hello?" short
person train en+iven3 "Hello?" short
person train az+m2 "Alo?" short
person train uz+f3 "Allo?" short
person train hy+m3 "Ալո?" short
person train ka+f2 "ალო?" short
person train en-us+kaukovalta "Yes, hello?" short
person train ht+m2 "Alo?" short
person train en+Henrique "Hey?" short
person train en-us+Diogo "Hi there." short
live train en+Nguyen "Hello?" "Yes, who's this calling?"
live train en-us+iven4 "Yeah?" "Who is calling, please?"
live train az+f3 "Alo?" "Bəli, kimdir?"
live train uz+m4 "Allo?" "Ha, kim bu?"
live train hy+f2 "Ալո?" "Այո, ով է?"
live train ka+m3 "ალო?" "დიახ, ვინ ბრძანდებით?"
live train hi+f4 "हैलो?" "जी, कौन बोल रहा है?"
live train pap+m2 "Halo?" "Si, ken ta papia?"
live train ia+f2 "Allo?" "Si, qui parla?"
live train mi+m4 "Kia ora?" "Āe, ko wai tēnā?"
live train en-us+gustave "Hi." "Hello?" "Hello, anybody there?"
live train kk+f3 "Алло?" "Иә, кім сөйлеп тұр?"
person train en+iven2 "Hi, this is Martin speaking." again
person train en-us+RicishayMax2 "Hello, Turner household." again
person train az+m4 "Alo, mən Elçinəm." again
person train ht+f2 "Alo, se Jak k ap pale." again
person train en+kaukovalta "Good afternoon, Hughes residence." sentence
person train en-us+Henrique "Yes? Hello, who is this?" sentence
person train pap+f3 "Bon dia, ami ta Maria." sentence
person train ia+m3 "Bon die, io es Marco." sentence
person train mi+f2 "Kia ora?" silent
person train en+grandma "Hello?" silent

machine train en-us+Nguyen "Hi, it's Wendy. Please leave a message." no
machine train en+iven4 "You've got Sean. Back soon." no
machine train en-us+iven2 "This is Greta, leave a message." no
machine train en+Diogo "Hey, Priya here. Ring me later." no
machine train en-us+grandma "Sorry we missed you. Leave a message." no
machine train en+gustave "It's Felix. I'll get back to you." no
machine train az+f2 "Salam, mən Aydanam. Mesaj qoyun." no
machine train uz+m2 "Salom, men Dilnoza. Xabar qoldiring." no
machine train hy+m4 "Բարև, ես Արամն եմ. Թողեք հաղորդագրություն." no
machine train ka+f3 "გამარჯობა, ეს ნინოა. დატოვეთ შეტყობინება." no
machine train hi+m3 "नमस्ते, मैं राहुल हूँ. कृपया संदेश छोड़ें." no
machine train ht+m4 "Bonjou, se Woodly. Kite yon mesaj." no
machine train pap+f4 "Bon dia, ami ta Lisa. Laga un mensahe." no
machine train ia+f4 "Salute, io es Clara. Lassa un message." no
machine train mi+m2 "Kia ora, ko Hemi tēnei. Waiho he karere." no
machine train kk+m3 "Сәлем, бұл Ерлан. Хабарлама қалдырыңыз." no
machine train en-us+kaukovalta "Hello, you've reached Isaac. Leave a message after the tone." yes
machine train ka+m2 "გამარჯობა, ეს გიორგია. დატოვეთ შეტყობინება სიგნალის შემდეგ." yes
machine train en+iven3 "Go ahead after the beep." yes
machine train en-us+Henrique "Thank you for calling Maple Street Dental. Our office is closed. Please leave your name and number after the tone." yes
machine train hi+f2 "धन्यवाद, आपने शर्मा परिवार को फ़ोन किया है. हम अभी फ़ोन नहीं उठा सकते. कृपया बाद में फिर से कोशिश करें." no
machine train en+grandpa "The customer you are calling is unavailable. Please hang up and try your call again later. Thank you." no

# ---------------------------------------------------------------- block q: held-out split
# Issue 18's fifth round: a fresh held-out block (with r: 64 people and 44 machines, 32 of them
# short greetings with no beep) written and committed before the detector ran on it, with the
# kinds of answer of blocks h-p and texts, voices, languages (Latin, Ido, Hawaiian, Quechua,
# Guarani, Setswana, Turkmen, Oromo, Lingua Franca Nova, English variants no block used) and a
# seed no other block uses. Declared held out: no tuning looks at it; it is run once before that
# round's change and once after it, and reported as it comes out.
BLOCK=q
SEED=8231
person holdout en-us+Andy "Hello?" short
person holdout en+Annie "Hello?" short
person holdout la "Salve?" short
person holdout io "Saluto?" short
person holdout haw "Aloha?" short
person holdout en-gb-x-gbclan "Yeah, hello?" short
person holdout qu "Aló?" short
person holdout tn "Dumela?" short
person holdout en-us+RicishayMax3 "Hiya?" short
person holdout en+announcer "Hello." short
live holdout en-us+Annie "Hello?" "Yes, who's speaking?"
live holdout en+Andy "Hey?" "Who's on the line?"
live holdout la+f3 "Salve?" "Ita, quis loquitur?"
live holdout io+m2 "Saluto?" "Yes, qua parolas?"
live holdout haw+f2 "Aloha?" "Ae, o wai keia?"
live holdout qu+m3 "Aló?" "Arí, pitaq rimachkan?"
live holdout gn+f4 "Hálo?" "Heẽ, máva pa oñe'ẽ?"
live holdout tn+m4 "Haló?" "Ee, ke mang?"
live holdout en-gb-x-gbclan+f2 "Hello?" "Hello, who's that?"
live holdout tk+f3 "Alo?" "Hawa, kim bu?"
live holdout om+m3 "Haloo?" "Eeyyee, eenyu?"
live holdout en-us+announcer "Hi." "Hello?" "Can you hear me?"
person holdout en-us+Annie "Hi, Olivia speaking." again
person holdout en+RicishayMax3 "Hello, the Bennett house." again
person holdout la+m4 "Salve, Marcus hic." again
person holdout lfn+f2 "Alo, me es Paula." again
person holdout en+Andy "Good evening, this is Mitchell here." sentence
person holdout io+f3 "Bona jorno, me esas Anna." sentence
person holdout en-us+RicishayMax3 "Yes? Who's this calling?" sentence
person holdout tk+m2 "Salam, men Merdan." sentence
person holdout haw+m3 "Aloha?" silent
person holdout en+Annie "Hello?" silent

machine holdout en-us+Andy "Hi, it's Kevin. Leave a message." no
machine holdout en+Annie "You've reached Hannah. Talk soon." no
machine holdout en-us+RicishayMax3 "This is Paul, call me later." no
machine holdout en-gb-x-gbclan "Hiya, Jess here. Leave a message." no
machine holdout en+announcer "Sorry, I'm out. Leave your number." no
machine holdout en-us+announcer "Hey, it's Nora. I'll ring you back." no
machine holdout la+m2 "Marcus sum. Nuntium relinque." no
machine holdout io+f2 "Saluto, me esas Karlo. Lasez mesajo." no
machine holdout haw+f4 "O Keola keia. Waiho i ka leka." no
machine holdout qu+f2 "Rosa kani. Willakuyta saqiy." no
machine holdout gn+m2 "Che Tupa. Eheja marandu." no
machine holdout tn+f3 "Dumela, ke Thabo. Tlogela molaetsa." no
machine holdout tk+m4 "Salam, men Aýna. Habar galdyryň." no
machine holdout om+f2 "Ani Caalaa. Ergaa dhiisi." no
machine holdout lfn+m3 "Bon dia, me es Lucas. Lasa un mesaje." no
machine holdout en+Andy "Hello, it's Gary. Back later." no
machine holdout en-us+Annie "Hi, you've reached Chloe. Leave a message after the beep." yes
machine holdout la+f4 "Salve, Julia sum. Post sonum loquere." yes
machine holdout en+RicishayMax3 "Record after the tone." yes
machine holdout en-us+Andy "Thank you for calling Riverside Veterinary Clinic. We are closed at the moment. Please leave a message after the tone and we will return your call." yes
machine holdout io+m4 "Danko pro vua voko. Nia oficeyo esas klozita nun. Voluntez telefonar itere morge." no
machine holdout en+announcer "The number you have dialled is not available. Please try again later. Thank you." no

# ---------------------------------------------------------------- block r: held-out split
# Declared held out with block q: other texts, voices, languages (Arabic, Hebrew, Persian,
# Korean, Mandarin, Tamil, Bengali, Amharic, Nepali, Tatar, Kyrgyz, Thai, English variants) and
# seed.
BLOCK=r
SEED=9419
person holdout en+Andy "Hello?" short
person holdout en-us+Annie "Yeah?" short
person holdout ar "ألو؟" short
person holdout he "הלו?" short
person holdout fa "الو؟" short
person holdout ko "여보세요?" short
person holdout en-gb-x-gbclan+m3 "Hello?" short
person holdout cmn "喂?" short
person holdout en+RicishayMax3 "Yes?" short
person holdout en-us+announcer "Hi there?" short
live holdout en-us+Andy "Hello?" "Yes, who is this please?"
live holdout en+Annie "Hi?" "Sorry, who's calling?"
live holdout ar+m2 "ألو؟" "نعم، من المتكلم؟"
live holdout he+f2 "הלו?" "כן, מי מדבר?"
live holdout fa+m3 "الو؟" "بله، شما؟"
live holdout ko+f3 "여보세요?" "네, 누구세요?"
live holdout cmn+m4 "喂?" "你好, 请问是哪位?"
live holdout ta+f2 "ஹலோ?" "ஆமாம், யார் பேசுறது?"
live holdout bn+m2 "হ্যালো?" "হ্যাঁ, কে বলছেন?"
live holdout ne+f4 "हेलो?" "हजुर, को बोल्नुभएको?"
live holdout tt+m3 "Алло?" "Әйе, кем бу?"
live holdout en+RicishayMax3 "Hey." "Hello?" "Anyone there?"
person holdout en-us+RicishayMax3 "Hi, this is Daniel." again
person holdout en+announcer "Hello, Walker residence." again
person holdout ky+f2 "Алло, бул Айбек." again
person holdout am+m3 "ሃሎ, እኔ ሰላም ነኝ." again
person holdout en-us+Annie "Good afternoon, you're speaking to Ellis." sentence
person holdout th+f3 "สวัสดีครับ, ผมสมชายพูด." sentence
person holdout en+Andy "Hello? Yes, who's there?" sentence
person holdout he+m4 "שלום, כאן יוסי." sentence
person holdout ko+m2 "여보세요?" silent
person holdout en-us+Andy "Hello?" silent

machine holdout en+RicishayMax3 "Hi, it's Laura. Leave a message." no
machine holdout en-us+announcer "You've got Martin. Speak later." no
machine holdout en+Annie "This is Simon, I'll call you back." no
machine holdout en-gb-x-gbclan+f4 "Hello, Beth here. Leave me a message." no
machine holdout en-us+Andy "Sorry, not here. Try me later." no
machine holdout en+announcer "It's Zoe. I'll get back to you soon." no
machine holdout ar+f2 "مرحبا، أنا سارة. اترك رسالة." no
machine holdout he+m2 "שלום, זה דני. השאירו הודעה." no
machine holdout fa+f3 "مریم هستم. پیغام بگذارید." no
machine holdout ko+m3 "민수입니다. 메시지 남겨 주세요." no
machine holdout cmn+f2 "我是小王. 请留言." no
machine holdout ta+m4 "நான் ராஜா. செய்தி விடுங்கள்." no
machine holdout bn+f4 "আমি রিয়া. বার্তা রাখুন." no
machine holdout ne+m2 "म सीता. सन्देश छोड्नुहोस्." no
machine holdout tt+f2 "Сәлам, бу Алсу. Хәбәр калдырыгыз." no
machine holdout ky+m4 "Нурлан. Кабар калтырыңыз." no
machine holdout en-us+RicishayMax3 "Hello, you've reached Owen. Leave a message after the tone." yes
machine holdout am+f2 "ሰላም, እኔ ሃና ነኝ. ከድምፁ በኋላ መልእክት ይተዉ." yes
machine holdout en+Andy "Leave it after the beep." yes
machine holdout en-us+Annie "Thank you for calling Oakwood Community Centre. We are closed today. Please leave your name and number after the tone." yes
machine holdout th+m2 "ขอบคุณที่โทรมา. สำนักงานของเราปิดแล้ว. กรุณาโทรมาใหม่พรุ่งนี้." no
machine holdout en+RicishayMax3 "The subscriber you are trying to reach is not available. Please call back later. Goodbye." no

echo "build_corpus.sh: wrote $n files to $(pwd)/$OUT ($(du -sh "$OUT" | cut -f1))"
