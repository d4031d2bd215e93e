#!/usr/bin/env bash
# The whole recipe of Causeway's command recogniser, from nothing to models/command-asr/model:
# synthetic speech -> Causeway's own log-mel -> CTC training -> export in the NeMo contract.
# Offline only (CI never trains). Needs the Debian packages espeak-ng, flite, python3-torch,
# python3-onnx and libopenblas0-pthread, and `npm run build` (the features come from dist/).
#   bash models/command-asr/make.sh [workDir] [epochs]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-command-asr}"
epochs="${2:-15}"
mkdir -p "$work"
cd "$root"
[ -f dist/kernels/index.js ] || npm run build
# Odd seeds draw training voices, even seeds the held-out ones (gen-features.mjs). A quarter of
# the utterances are spoken by flite voices, the rest by espeak-ng accents and variants.
node "$here/gen-features.mjs" "$work/train-a" 4000 11 0.25 &
node "$here/gen-features.mjs" "$work/train-b" 4000 13 0.25 &
wait
node "$here/gen-features.mjs" "$work/eval" 400 2 0.25
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b" "$work/eval" "$here/model" "$epochs" full
