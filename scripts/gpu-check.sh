#!/usr/bin/env bash
# The GPU check, for a machine with a GPU (CI never runs it): what `causeway doctor` sees, then
# the captions load harness on each device that starts, beside the CPU, and with device auto
# (measured routing), then the video-world model at the GPU goal's size (256x256, 12 layers
# d512, random weights written here from a seed) with its cache resident on each device, beside
# the CPU, in one run.
#   bash scripts/gpu-check.sh [seconds per load trial, default 20] [sessions, default 64 128 256]
# Needs `npm ci && npm run build` first; CUDA only after `npm run install-cuda` (README).
# WebGPU needs a Vulkan driver (an NVIDIA driver's Vulkan ICD with libvulkan1; docs/devices.md).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
sizes=("${@:-64 128 256}")
[ -f dist/src/cli.js ] || npm run build
echo "== causeway doctor"
node dist/src/cli.js doctor
report="$(node dist/src/cli.js doctor --json --quiet)"
# auto: the CPU for small batches, a device from the batch size where it measured faster (its log lines say which).
for device in cpu cuda webgpu auto; do
  if [ "$device" = auto ]; then
    for n in ${sizes[*]}; do
      echo "== loadtest captions, $n sessions, $seconds s, device auto (candidates cuda, webgpu)"
      CAUSEWAY_AUTO_DEVICES=cuda,webgpu node dist/src/cli.js loadtest --pipeline captions --sessions "$n" --seconds "$seconds" --device auto --json
    done
    continue
  fi
  if ! node -e "process.exit(JSON.parse(process.argv[1]).providers.some((p) => p.name === '$device' && p.available) ? 0 : 1)" "$report"; then
    echo "== $device: not available here"
    continue
  fi
  for n in ${sizes[*]}; do
    echo "== loadtest captions, $n sessions, $seconds s, device $device"
    node dist/src/cli.js loadtest --pipeline captions --sessions "$n" --seconds "$seconds" --device "$device" --json --quiet
  done
done
echo "== video-world large: ms a frame with the cache resident, per device (bench video-device)"
[ -f models/video-world/large/step.weights ] || node models/video-world/large-weights.mjs
node dist/test/bench/run.js video-device
