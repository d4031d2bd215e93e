#!/usr/bin/env bash
# The whole recipe of Causeway's command recogniser, from nothing to models/command-asr/model:
# synthetic speech -> augmentation (augment.mjs) -> Causeway's own log-mel -> CTC training ->
# export in the NeMo contract. Offline only (CI never trains). Needs the Debian packages
# espeak-ng, flite, python3-torch, python3-onnx and libopenblas0-pthread, and `npm run build`
# (the features come from dist/).
#   bash models/command-asr/make.sh [workDir] [epochs]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-command-asr}"
epochs="${2:-12}"
mkdir -p "$work"
cd "$root"
[ -f dist/kernels/index.js ] || npm run build
# Training voices and held-out voices never overlap (voices.mjs); a quarter of the utterances
# are spoken by flite voices, the rest by espeak-ng accents and variants.
# The counts are those of the shipped model's run (each half's first N utterances are a function
# of its seed alone, so these reproduce its data byte for byte: see model/data.sha256).
node "$here/gen-features.mjs" "$work/train-a" 3444 11 train 0.25 &
node "$here/gen-features.mjs" "$work/train-b" 3394 13 train 0.25 &
node "$here/gen-features.mjs" "$work/eval" 400 2 eval 0.25 &
wait
# What was trained on, recorded beside the weights: the data set's hash and the training log.
(cd "$work" && sha256sum train-a/feats.f32 train-a/manifest.jsonl train-b/feats.f32 train-b/manifest.jsonl eval/feats.f32 eval/manifest.jsonl) > "$here/model/data.sha256"
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b" "$work/eval" "$here/model" "$epochs" full | tee "$here/model/training.log"
