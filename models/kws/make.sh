#!/usr/bin/env bash
# The whole recipe of Causeway's keyword spotter head, from nothing to models/kws/model: synthetic
# speech (the command recogniser's voices and augmentation) -> the kws operator's own front end
# (openWakeWord's melspectrogram and speech_embedding, streamified) -> training -> the threshold,
# tuned on training voices -> the held-out figures, beside the command recogniser's on the same
# audio. Offline only (CI never trains). Needs the Debian packages espeak-ng, flite,
# python3-torch, python3-onnx and libopenblas0-pthread, and `npm run build` (the features come
# from dist/).
#   bash models/kws/make.sh [workDir] [epochs, default 14]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/causeway-kws}"
epochs="${2:-14}"
mkdir -p "$work" "$here/model"
cd "$root"
[ -f dist/core/models/kws.js ] || npm run build
# Training voices only in train-a..d and val (other seeds: the threshold is tuned there);
# held-out voices only in eval, with its audio kept for the operators' comparison. Each shard is
# a function of its seed (model/data.sha256 records the shipped run's).
node "$here/gen-data.mjs" "$work/train-a" 5500 31 train &
node "$here/gen-data.mjs" "$work/train-b" 5500 37 train &
wait
node "$here/gen-data.mjs" "$work/train-c" 5500 47 train &
node "$here/gen-data.mjs" "$work/train-d" 5500 53 train &
wait
node "$here/gen-data.mjs" "$work/val" 1000 41 train &
node "$here/gen-data.mjs" "$work/eval" 1500 43 eval --audio &
wait
(cd "$work" && sha256sum train-?/feats.f32 train-?/segments.jsonl val/feats.f32 val/segments.jsonl eval/feats.f32 eval/segments.jsonl eval/audio.i16) > "$here/model/data.sha256"
/usr/bin/python3 "$here/train.py" "$work/train-a,$work/train-b,$work/train-c,$work/train-d" "$work/val" "$work/eval" "$here/model" "$epochs" | tee "$here/model/training.log"
node "$here/evaluate.mjs" "$work/val" "$here/model/head.onnx" --tune --write | tee -a "$here/model/training.log"
node "$here/evaluate.mjs" "$work/eval" "$here/model/head.onnx" --operator --asr | tee -a "$here/model/training.log"
