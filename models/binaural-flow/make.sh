#!/usr/bin/env bash
# The whole recipe of Causeway's neural binaural renderer, from nothing to models/binaural-flow/model:
# speech (espeak-ng, flite) and noise -> binaural pairs by Causeway's own hrtf engine + image
# sources + a diffuse tail (gen-data.mjs) -> conditional flow matching (train.py) -> step.onnx +
# step.json + offline.onnx. Offline only (CI never trains). Needs the Debian packages espeak-ng,
# flite, libmysofa1 (the SOFA file), python3-torch, python3-onnx, libopenblas0-pthread, and
# `npm run build` (the renderer comes from dist/).
#   bash models/binaural-flow/make.sh [workDir] [threads] [steps]
# One training run on a fixed step schedule (default 12000 steps: about an hour on 2 CPU cores),
# fixed seeds for the data and the batches, so the recipe is the same on any machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-binaural-flow}"
threads="${2:-2}"
steps="${3:-12000}"
mkdir -p "$work"
cd "$root"
[ -f dist/kernels/index.js ] || npm run build
node "$here/gen-data.mjs" "$work/train-a" 400 11 train &
node "$here/gen-data.mjs" "$work/train-b" 400 13 train &
wait
node "$here/gen-data.mjs" "$work/eval" 40 2 eval
# What was trained on, recorded beside the weights: the data set's hash and the training log.
(cd "$work" && sha256sum train-a/* train-b/* eval/*) > "$here/model/data.sha256"
train="$work/train-a,$work/train-b"
/usr/bin/python3 "$here/train.py" "$train" "$work/eval" "$here/model" "$steps" "$threads" | tee "$here/model/training.log"
