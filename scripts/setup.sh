#!/usr/bin/env bash
# Installs the system packages Causeway needs, from Debian's archive:
#   ffmpeg     decoding/encoding any media (media/ffmpeg), and ffprobe
#   espeak-ng  speech synthesis for test fixtures and the demo clip recipe
#   flite      a second speech synthesiser: held-out voices for the command recogniser's test
#   sox        audio editing for test fixtures
#   chromium   the real browser the WebRTC tests drive (through playwright-core, never a downloaded browser)
#   pocketsphinx-testdata  real recorded speech with transcripts (LibriVox clips) for the speech recognition tests
#   libmysofa1 measured head-related transfer functions (MIT KEMAR SOFA file) for binaural rendering; also what ffmpeg's sofalizer uses
# Without root it prints the exact command to run instead, and stops (exit 1).
# Already-installed packages are not touched, so running it again is cheap.
set -euo pipefail
packages=(ffmpeg espeak-ng flite sox chromium pocketsphinx-testdata libmysofa1)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: system packages present (${packages[*]})"
  exit 0
fi
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: these Debian packages are missing: ${missing[*]}"
  echo "setup: run as root:  sudo sh -c '$cmd'"
  exit 1
fi
echo "setup: installing ${missing[*]} (Debian packages)"
sh -c "$cmd"
