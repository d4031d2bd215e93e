#!/usr/bin/env bash
# Installs the system packages Causeway needs, from Debian's archive:
#   ffmpeg     decoding/encoding any media (media/ffmpeg), and ffprobe
#   espeak-ng  speech synthesis for test fixtures and the demo clip recipe
#   flite      a second speech synthesiser: held-out voices for the command recogniser's test
#   sox        audio editing for test fixtures
#   chromium   the real browser the WebRTC tests drive (through playwright-core, never a downloaded browser)
#   pocketsphinx-testdata  real recorded speech with transcripts (LibriVox clips) for the speech recognition tests
#   libmysofa1 measured head-related transfer functions (MIT KEMAR SOFA file) for binaural rendering; also what ffmpeg's sofalizer uses
#   mesa-vulkan-drivers (version 25 or later) Mesa's lavapipe, Vulkan on the CPU: onnxruntime-node's bundled WebGPU
#              provider runs on it (slowly) where there is no GPU, so the tests check the device path. Debian 12
#              (bookworm) has 22.3, which WebGPU refuses: there it comes from bookworm-backports (the script adds
#              that archive to apt's sources); later Debian releases have it in their main archive.
#   vulkan-tools vulkaninfo: `causeway doctor` names the Vulkan device WebGPU runs on (onnxruntime-node does not say)
#   nats-server the message broker of a scale-out deployment (fronts and workers, docs/deployment.md); the tests start one on loopback
#   gstreamer1.0-tools, -plugins-base, -plugins-good  a media server's way of sending plain RTP (gst-launch-1.0 with opusenc, rtpopuspay, udpsink): the RTP input's tests send with it
#   janus      the Janus WebRTC server (videoroom plugin): a test publishes from chromium into a room and has Janus rtp_forward it to Causeway
# Without root it prints the exact command to run instead, and stops (exit 1).
# Already-installed packages are not touched, so running it again is cheap.
set -euo pipefail
packages=(ffmpeg espeak-ng flite sox chromium pocketsphinx-testdata libmysofa1 vulkan-tools nats-server gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good janus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# lavapipe: installed and at least version 25?
mesa="$(dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null || true)"
mesa_ok=0
case "$mesa" in "install ok installed "*) [ "$(echo "${mesa##* }" | cut -d. -f1)" -ge 25 ] && mesa_ok=1 ;; esac
if [ ${#missing[@]} -eq 0 ] && [ $mesa_ok -eq 1 ]; then
  echo "setup: system packages present (${packages[*]} mesa-vulkan-drivers)"
  exit 0
fi
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
cmd="apt-get update"
[ ${#missing[@]} -eq 0 ] || cmd="$cmd && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ $mesa_ok -eq 0 ]; then
  if [ "$codename" = "bookworm" ]; then
    cmd="echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list && $cmd && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers"
  else
    cmd="$cmd && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mesa-vulkan-drivers"
  fi
  missing+=("mesa-vulkan-drivers(>=25)")
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: these Debian packages are missing: ${missing[*]}"
  echo "setup: run as root:  sudo sh -c '$cmd'"
  exit 1
fi
echo "setup: installing ${missing[*]} (Debian packages)"
sh -c "$cmd"
