#!/usr/bin/env bash
# Packs what the GPU check needs on a machine that has no Node.js and reaches no registry (the
# GPU machines lent to some development tasks), into .gpu/ beside the checkout's files, to be
# copied there with them; `bash .gpu/run.sh` there unpacks it and runs the check:
#   node.xz          this machine's node, stripped (about 22 MB)
#   modules.tar.xz   dist/ (built here) and the packages the check loads: onnxruntime-node's
#                    Linux x64 binaries (its WebGPU provider is inside), onnxruntime-common,
#                    prom-client, onnx-proto and what they require (about 14 MB)
#   debs/            the Vulkan loader and GL dispatch libraries (Debian packages) that an NVIDIA
#                    driver's Vulkan ICD needs where no desktop stack is installed
#   run.sh           scripts/gpu-run.sh
# What it checks: bench video-device (issue 12: the video-world model at the GPU goal's size, the
# cache resident, on WebGPU, beside the CPU). CUDA needs onnxruntime's CUDA provider libraries,
# which only `npm run install-cuda` fetches; a machine without a registry cannot.
# Budget: such a machine takes at most 64 MiB of files, the repo's tracked files included; this
# prints the total. .gpu/ is added to .git/info/exclude (it never goes into the repo).
#   bash scripts/gpu-carry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu
mkdir -p .gpu/debs
npm run build --silent
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$(readlink -f "$(command -v node)")" "$tmp/node"
strip --strip-all "$tmp/node"
xz -T0 -9e -c "$tmp/node" > .gpu/node.xz
# What the check loads (onnxruntime-node requires onnxruntime-common; prom-client requires
# tdigest, bintrees and @opentelemetry/api; onnx-proto requires protobufjs/minimal and long),
# without the parts it does not (protobufjs's 20 MB command line, other platforms' binaries).
paths=(dist
  node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist node_modules/onnxruntime-node/bin/napi-v6/linux/x64
  node_modules/onnxruntime-common node_modules/prom-client node_modules/@opentelemetry/api node_modules/tdigest node_modules/bintrees
  node_modules/onnx-proto node_modules/protobufjs/package.json node_modules/protobufjs/minimal.js node_modules/protobufjs/src
  node_modules/@protobufjs node_modules/long/package.json node_modules/long/src)
for p in "${paths[@]}"; do
  [ -e "$p" ] || { echo "gpu-carry: $p is missing (npm ci first)" >&2; exit 1; }
done
tar -cf - "${paths[@]}" | xz -T0 -9e > .gpu/modules.tar.xz
(cd .gpu/debs && apt-get download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 > /dev/null)
cp scripts/gpu-run.sh .gpu/run.sh
tracked="$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)"
carried="$(du -cb .gpu | tail -1 | cut -f1)"
echo "gpu-carry: .gpu/ $((carried / 1048576)) MiB + tracked files $((tracked / 1048576)) MiB = $(((carried + tracked) / 1048576)) MiB of 64"
