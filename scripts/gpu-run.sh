#!/usr/bin/env bash
# The GPU check on a machine without Node.js, from what scripts/gpu-carry.sh packed into .gpu/
# (copied there as .gpu/run.sh): unpacks node, dist/ and the packages, installs the Vulkan loader
# for the NVIDIA driver's ICD, prints the GPU, then runs bench video-device. Output also goes to
# $OUT/gpu-check.txt when $OUT is set.
#   bash .gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)"
xz -dc .gpu/node.xz > "$bin/node"
chmod +x "$bin/node"
export PATH="$bin:$PATH"
xz -dc .gpu/modules.tar.xz | tar -xf -
for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
nv=/usr/local/nvidia/share
[ -f "$nv/vulkan/icd.d/nvidia_icd.json" ] && export VK_DRIVER_FILES="$nv/vulkan/icd.d/nvidia_icd.json"
[ -f "$nv/glvnd/egl_vendor.d/10_nvidia.json" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$nv/glvnd/egl_vendor.d/10_nvidia.json"
log="${OUT:-/tmp}/gpu-check.txt"
{
  echo "== $(node --version); $(nvidia-smi -L 2>/dev/null || echo 'nvidia-smi: none')"
  node models/video-world/large-weights.mjs
  node dist/test/bench/run.js video-device
} 2>&1 | tee "$log"
