"""Shared fixtures: real SoundFonts from Debian's packages (scripts/setup.sh installs them)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"  # 6 MB GM font, GPL-2
GMBANK = "/usr/share/sounds/sf2/sf_GMbank.sf2"  # 4 MB GM font (Csound), LGPL-2.1+
SMALL_FONTS = [TIMGM, GMBANK]
SR = 16_000


@pytest.fixture(scope="session")
def small_fonts():
    for f in SMALL_FONTS:
        assert Path(f).exists(), f"{f} missing: run scripts/setup.sh"
    return list(SMALL_FONTS)


def cents_off(x: np.ndarray, key: int, sr: int = SR, start_s: float = 0.2, end_s: float = 1.0) -> float:
    """How many cents ``x`` sounds above MIDI ``key``: YIN's median f0 between ``start_s`` and ``end_s``."""
    import librosa

    f0 = librosa.yin(x[int(start_s * sr): int(end_s * sr)].astype(np.float32), fmin=60, fmax=2000, sr=sr,
                     frame_length=2048)
    return float(1200 * np.log2(np.median(f0) / (440 * 2 ** ((key - 69) / 12))))


def dominant_hz(x: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec))
    # parabolic interpolation of the peak bin
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / len(x)


def band_db(x: np.ndarray, lo: float, hi: float, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(10 * np.log10(spec[(f >= lo) & (f < hi)].sum() + 1e-20))


def ffmpeg(*args: str) -> None:
    assert shutil.which("ffmpeg"), "ffmpeg missing: run scripts/setup.sh"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, small_fonts):
    """A drums + notes dataset written once by the real generator (2 processes for notes)."""
    from dub_dataset import Spec, generate

    out = tmp_path_factory.mktemp("ds")
    generate(Spec("drums", seed=7, soundfonts=small_fonts), 40, out, examples_per_file=16, progress=False)
    generate(Spec("notes", seed=7, soundfonts=small_fonts), 30, out, num_proc=2, examples_per_file=8, progress=False)
    return out
