#!/usr/bin/env bash
# The whole recipe of Causeway's command recogniser, from nothing to models/command-asr/model:
# synthetic speech -> augmentation (augment.mjs) -> Causeway's own log-mel -> CTC training ->
# export in the NeMo contract. Offline only (CI never trains). Needs the Debian packages
# espeak-ng, flite, python3-torch, python3-onnx and libopenblas0-pthread, and `npm run build`
# (the features come from dist/).
#   bash models/command-asr/make.sh [workDir] [epochs of the third stage, default 3]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-command-asr}"
epochs="${2:-3}"
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
# Shards e and f also speak with the accents' plain voices (30% of the espeak-ng utterances):
# a-d never do (every espeak-ng utterance there has a variant), and the plain en-us voice, the
# one most people try first, said "start" for "stop" through the browser's path.
node "$here/gen-features.mjs" "$work/train-e" 3400 23 train 0.25 0.3 &
node "$here/gen-features.mjs" "$work/train-f" 3400 29 train 0.25 0.3 &
wait
# What was trained on, recorded beside the weights: the data set's hash and the training log.
(cd "$work" && sha256sum train-?/feats.f32 train-?/manifest.jsonl eval/feats.f32 eval/manifest.jsonl) > "$here/model/data.sha256"
# Three stages: 12 epochs from random weights on shards a and b (no vocal-tract warping); 8 on
# a-d from those weights, at half the peak learning rate, with vocal-tract-length warping
# (train.py: WARP); then $epochs on all six shards from those. Each stage saves its weights to
# $work/command-asr.pt (and each epoch's to $work/epoch-N.pt).
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b" "$work/eval" "$work/stage1" 12 full - 0 | tee "$here/model/training.log"
cp "$work/command-asr.pt" "$work/stage1.pt"
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b,$work/train-c,$work/train-d" "$work/eval" "$work/stage2" 8 full "$work/stage1.pt" 0.12 | tee -a "$here/model/training.log"
cp "$work/command-asr.pt" "$work/stage2.pt"
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b,$work/train-c,$work/train-d,$work/train-e,$work/train-f" "$work/eval" "$here/model" "$epochs" full "$work/stage2.pt" 0.12 | tee -a "$here/model/training.log"
# The step graph in its batch-friendly form (same weights; README, "Recipe" 4).
/usr/bin/python3 "$here/restep.py" "$here/model"
