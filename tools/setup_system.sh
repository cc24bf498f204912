#!/usr/bin/env bash
# Installs the Debian packages the tests and the emulator use, if they are missing:
#   ffmpeg (ffmpeg/ffprobe CLI), GStreamer (gst-launch-1.0 with rtspsrc/rtpjpegdepay/jpegdec),
#   dosfstools + mtools (FAT images), chrony (a real NTP server for the time tests),
#   qemu-system-arm (the Cortex-M7 tool in ../shared/tools/cortex-m7 runs the firmware tests on it),
#   chromium (headless, driven over its DevTools pipe: the web page tests) and curl.
# Needs root (or sudo) only when something is missing.
set -u
need=()
command -v ffmpeg        >/dev/null || need+=(ffmpeg)
command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
gst-inspect-1.0 rtpjpegdepay >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-good)
command -v mkfs.fat >/dev/null || [ -x /usr/sbin/mkfs.fat ] || [ -x /sbin/mkfs.fat ] || need+=(dosfstools)
command -v mcopy         >/dev/null || need+=(mtools)
command -v chronyd >/dev/null || [ -x /usr/sbin/chronyd ] || need+=(chrony)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
# Debian's own Python needs python3-venv for `python3 -m venv`
"${PYTHON:-python3}" -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0
echo "setup: installing Debian packages: ${need[*]}"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "setup: need root to install: ${need[*]} (apt-get install them, then run make again)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
