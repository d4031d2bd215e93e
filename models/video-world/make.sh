#!/usr/bin/env bash
# The whole recipe of Causeway's video-world model, from nothing to models/video-world/model:
# episodes rendered by Causeway's own synthetic world (gen-data.mjs, through dist/) -> next-frame
# training with rollouts over the model's own outputs (train.py) -> step.onnx + step.json +
# offline.onnx. Offline only (CI never trains). Needs python3-torch, python3-onnx,
# libopenblas0-pthread and `npm run build`.
#   bash models/video-world/make.sh [workDir] [threads] [steps]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-video-world}"
threads="${2:-2}"
steps="${3:-4500}"
mkdir -p "$work" "$here/model"
cd "$root"
[ -f dist/core/models/video-world-scenes.js ] || npm run build
node "$here/gen-data.mjs" "$work/train" 800 40 1
node "$here/gen-data.mjs" "$work/eval" 40 40 2
(cd "$work" && sha256sum train/* eval/*) > "$here/model/data.sha256"
# Train into the work folder (it exports as it goes), then copy the result beside the recipe.
/usr/bin/python3 "$here/train.py" "$work/train" "$work/eval" "$work/model" "$steps" "$threads" | tee "$work/training.log"
cp "$work/model/step.onnx" "$work/model/step.json" "$work/model/offline.onnx" "$work/training.log" "$here/model/"
