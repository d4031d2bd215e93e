#!/usr/bin/env bash
# The whole recipe of Causeway's command recogniser, from nothing to models/command-asr/model:
# synthetic speech -> augmentation (augment.mjs) -> Causeway's own log-mel -> CTC training ->
# export in the NeMo contract. Offline only (CI never trains). Needs the Debian packages
# espeak-ng, flite, python3-torch, python3-onnx and libopenblas0-pthread, and `npm run build`
# (the features come from dist/).
#   bash models/command-asr/make.sh [workDir] [epochs of the second stage, default 8]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-command-asr}"
epochs="${2:-8}"
mkdir -p "$work"
cd "$root"
[ -f dist/kernels/index.js ] || npm run build
# Training voices and held-out voices never overlap (voices.mjs); a quarter of the utterances
# are spoken by flite voices, the rest by espeak-ng accents and variants. Each shard's first N
# utterances are a function of its seed alone (model/data.sha256 records the shipped run's).
node "$here/gen-features.mjs" "$work/train-a" 3444 11 train 0.25 &
node "$here/gen-features.mjs" "$work/train-b" 3394 13 train 0.25 &
wait
node "$here/gen-features.mjs" "$work/train-c" 3400 17 train 0.25 &
node "$here/gen-features.mjs" "$work/train-d" 3400 19 train 0.25 &
node "$here/gen-features.mjs" "$work/eval" 400 2 eval 0.25 &
wait
# What was trained on, recorded beside the weights: the data set's hash and the training log.
(cd "$work" && sha256sum train-?/feats.f32 train-?/manifest.jsonl eval/feats.f32 eval/manifest.jsonl) > "$here/model/data.sha256"
# Two stages: 12 epochs from random weights on shards a and b (no vocal-tract warping), then
# $epochs epochs on all four shards from those weights, at half the peak learning rate, with
# vocal-tract-length warping (train.py: WARP). Each stage saves its weights to $work/command-asr.pt.
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b" "$work/eval" "$work/stage1" 12 full - 0 | tee "$here/model/training.log"
cp "$work/command-asr.pt" "$work/stage1.pt"
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b,$work/train-c,$work/train-d" "$work/eval" "$here/model" "$epochs" full "$work/stage1.pt" 0.12 | tee -a "$here/model/training.log"
