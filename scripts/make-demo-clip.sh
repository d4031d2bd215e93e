#!/usr/bin/env bash
# Rebuilds examples/assets/speech.ogg, the speech clip `npm start` runs on: three sentences from
# two espeak-ng voices with silences between them, 48 kHz Opus (so the demo also exercises the
# 48k -> 16k resampler). Needs espeak-ng, sox and ffmpeg (scripts/setup.sh installs them).
# The expected speech spans are printed so the demo's output can be checked by eye.
set -euo pipefail
out="${1:-$(dirname "$0")/../examples/assets/speech.ogg}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
say() { espeak-ng -v "$1" -s 150 -w "$tmp/$2.raw.wav" "$3"; sox "$tmp/$2.raw.wav" -r 48000 -c 1 -b 16 "$tmp/$2.wav"; }
gap() { sox -n -r 48000 -c 1 -b 16 "$tmp/$1.wav" trim 0 "$2"; }
say en-us s1 "Causeway runs streaming models on live audio."
say en-gb s2 "Every frame keeps its time stamp."
say en-us+f3 s3 "Speech segments come out while the audio is still arriving."
gap g0 1.0; gap g1 1.5; gap g2 2.0; gap g3 1.0
sox "$tmp"/g0.wav "$tmp"/s1.wav "$tmp"/g1.wav "$tmp"/s2.wav "$tmp"/g2.wav "$tmp"/s3.wav "$tmp"/g3.wav "$tmp/all.wav"
t=0
for f in g0 s1 g1 s2 g2 s3 g3; do d=$(soxi -D "$tmp/$f.wav"); case $f in s*) echo "speech $f: ${t}s + ${d}s";; esac; t=$(awk -v a="$t" -v b="$d" "BEGIN{print a+b}"); done
ffmpeg -hide_banner -loglevel error -y -i "$tmp/all.wav" -c:a libopus -b:a 32k "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
