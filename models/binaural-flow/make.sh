#!/usr/bin/env bash
# The whole recipe of Causeway's neural binaural renderer, from nothing to models/binaural-flow/model:
# speech (espeak-ng, flite) and noise -> binaural pairs by Causeway's own hrtf engine + image
# sources + a diffuse tail (gen-data.mjs) -> conditional flow matching (train.py) -> step.onnx +
# step.json + offline.onnx. Offline only (CI never trains). Needs the Debian packages espeak-ng,
# flite, libmysofa1 (the SOFA file), python3-torch, python3-onnx, libopenblas0-pthread, and
# `npm run build` (the renderer comes from dist/).
#   bash models/binaural-flow/make.sh [workDir] [threads]
# The shipped model was trained in three stages (wall-clock budgets on 2 busy cores, so the step
# counts in step.json depend on the machine), each continuing from the previous one's weights:
#  1. the flow-matching loss alone, no spherical-head delay in M_cond: the first 20 minutes of a
#     40-minute schedule;
#  2. + the magnitude term: the first 10 minutes of a 38-minute schedule;
#  3. + the spherical-head (Woodworth) delay: 24 minutes.
# (Each change was made after looking at the previous stage's interaural cues: see the README.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-binaural-flow}"
threads="${2:-2}"
mkdir -p "$work"
cd "$root"
[ -f dist/kernels/index.js ] || npm run build
node "$here/gen-data.mjs" "$work/train-a" 400 11 &
node "$here/gen-data.mjs" "$work/train-b" 400 13 &
wait
node "$here/gen-data.mjs" "$work/eval" 40 2
train="$work/train-a,$work/train-b"
BFLOW_HEAD_DELAY=0 BFLOW_MAG_WEIGHT=0 BFLOW_STOP_AFTER=20 /usr/bin/python3 "$here/train.py" "$train" "$work/eval" "$here/model" 40 "$threads"
cp "$work/binaural-flow.pt" "$work/stage1.pt"
BFLOW_HEAD_DELAY=0 BFLOW_STOP_AFTER=10 /usr/bin/python3 "$here/train.py" "$train" "$work/eval" "$here/model" 38 "$threads" "$work/stage1.pt" 1.5e-3
cp "$work/binaural-flow.pt" "$work/stage2.pt"
/usr/bin/python3 "$here/train.py" "$train" "$work/eval" "$here/model" 24 "$threads" "$work/stage2.pt" 1.5e-3
