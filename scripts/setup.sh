#!/usr/bin/env bash
# One-time, idempotent set-up for a fresh Debian/Ubuntu machine:
# system packages (FluidSynth, ffmpeg, SoundFonts), then .venv with pinned Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libfluidsynth3 ffmpeg libsndfile1 fluid-soundfont-gm timgm6mb-soundfont
              musescore-general-soundfont avldrums.lv2-soundfont csound-soundfont opl3-soundfont
              hydrogen-drumkits hydrogen-data freepats lmms-common sonic-pi-samples)
# Debian's chromium drives the web-app test (Playwright); DUB_NO_BROWSER=1 skips it (that test is then skipped)
if [ "${DUB_NO_BROWSER:-0}" != 1 ]; then APT_PACKAGES+=(chromium); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.dub-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "[setup] installing Python packages (pinned in requirements.lock)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, from the CPU build: any other torch pulls several GB of CUDA.
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps tinysoundfont==0.3.7
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
echo "[setup] ready: .venv/bin/dub"
