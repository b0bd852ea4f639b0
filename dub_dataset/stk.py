"""Physically modelled and FM instruments of the Synthesis ToolKit (STK) as a SoundFont.

The STK (Perry Cook and Gary Scavone, CCRMA; Debian ``stk``, a permissive licence) models
instruments instead of recording them: a clarinet's reed and bore, a bowed string, a flute's jet,
Karplus-Strong plucked strings, a sitar, modal bars, and FM voices (Rhodes, Wurlitzer, tubular
bells, a Hammond organ, a sung vowel). No GM SoundFont dub trains on is made this way, so it is a
seventh timbre source for the notes config, unlike the sample sets.

``render_stk_note`` plays one note through Debian's ``stk-demo`` (a SKINI score in, a WAV file
out). ``stk_sample_folder`` renders every instrument of ``STK_PROGRAMS`` every ``step`` semitones
over its family's range into the ``NNN_name/<note>.wav`` layout of ``multisample``, keeping only
notes that sound (and, for pitched instruments, sound within ``MAX_CENTS_OFF`` of their key: STK's
models jump an octave or fail to speak at the edges of their range). ``stk_to_soundfont`` turns that
into ``STK_Instruments.sf2`` with ``multisample_to_soundfont``.

STK seeds its noise generators (breath, bow and pluck noise) from the clock. To make renders
repeatable, ``stk-demo`` runs under libfaketime (Debian ``faketime``) with the clock frozen at
``seed`` seconds past 2000-01-01: the same seed gives the same bytes. Without libfaketime the
renders are made anyway, with a warning that they are not repeatable.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .constants import FAMILY_PITCH_RANGE, GM_FAMILIES, PROGRAMS_PER_FAMILY

FAKETIME_LIBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")
# The instruments stk-demo plays (its usage text)
STK_INSTRUMENTS = (
    "Clarinet", "BlowHole", "Saxofony", "Flute", "Brass", "BlowBotl", "Bowed", "Plucked", "StifKarp", "Sitar",
    "Mandolin", "Rhodey", "Wurley", "TubeBell", "HevyMetl", "PercFlut", "BeeThree", "FMVoices", "VoicForm", "Moog",
    "Simple", "Drummer", "BandedWG", "Shakers", "ModalBar", "Mesh2D", "Resonate", "Whistle", "Recorder",
)
RENDER_RATE = 44_100
HOLD_S = 4.4  # a note is held this long (the samples are cut at multisample.MAX_SAMPLE_S, 4.5 s)
MAX_CENTS_OFF = 50
MIN_PEAK = 1e-3  # a note whose peak is under this did not speak

# GM program: (STK instrument, SKINI control changes (number, value) sent before the note, pitched).
# Pitched instruments must sound their key (YIN within MAX_CENTS_OFF); bells and bars are inharmonic,
# so they are only checked for sound. Left out: Brass (does not speak below MIDI 88 in stk-demo),
# Recorder and Whistle (off their key everywhere), PercFlut (a fifth above its key), VoicForm
# (unsteady), Mandolin and HevyMetl (no GM program they clearly are).
STK_PROGRAMS: dict[int, tuple[str, tuple[tuple[int, int], ...], bool]] = {
    4: ("Rhodey", (), True),                 # Electric Piano 1 (Rhodes)
    5: ("Wurley", (), True),                 # Electric Piano 2
    11: ("ModalBar", ((16, 1),), False),     # Vibraphone (ModalBar preset 1)
    12: ("ModalBar", ((16, 0),), False),     # Marimba (ModalBar preset 0)
    14: ("TubeBell", (), False),             # Tubular Bells
    16: ("BeeThree", (), True),              # Drawbar Organ (a Hammond B3 in FM)
    24: ("Plucked", (), True),               # Acoustic Guitar (nylon): Karplus-Strong
    25: ("StifKarp", (), True),              # Acoustic Guitar (steel): a stiff plucked string
    38: ("Moog", (), True),                  # Synth Bass 1
    40: ("Bowed", ((2, 90),), True),         # Violin (bow pressure 90: steady over the range)
    53: ("FMVoices", (), True),              # Voice Oohs
    66: ("Saxofony", ((26, 40),), True),     # Tenor Sax (reed aperture 40)
    71: ("Clarinet", (), True),              # Clarinet
    73: ("Flute", (), True),                 # Flute
    76: ("BlowBotl", (), True),              # Blown Bottle
    104: ("Sitar", (), True),                # Sitar
}


def stk_demo() -> str:
    exe = shutil.which("stk-demo")
    if exe is None:
        raise FileNotFoundError("stk-demo not found: install Debian's stk package (scripts/setup.sh does)")
    return exe


def render_stk_note(instrument: str, note: int, velocity: int = 100, controls=(), seed: int = 0,
                    hold_s: float = HOLD_S, rate: int = RENDER_RATE) -> np.ndarray:
    """One note of an STK instrument: held ``hold_s`` seconds, then released, as float mono at
    ``rate``. The same arguments give the same samples where libfaketime is installed."""
    import soundfile as sf

    if instrument not in STK_INSTRUMENTS:
        raise ValueError(f"{instrument!r} is not an STK instrument: choose from {', '.join(STK_INSTRUMENTS)}")
    if not 0 <= note <= 127 or not 1 <= velocity <= 127:
        raise ValueError(f"note {note} / velocity {velocity}: MIDI values are 0-127 (velocity 1-127)")
    env = dict(os.environ)
    lib = next((p for pattern in FAKETIME_LIBS for p in sorted(glob.glob(pattern))), None)
    if lib:
        env.update(LD_PRELOAD=lib, FAKETIME=_frozen_clock(seed))
    else:
        warnings.warn("libfaketime not found (Debian faketime): STK's noise is seeded from the clock, "
                      "so this render is not repeatable", stacklevel=2)
    score = [f"ControlChange 0.0 1 {c} {v}" for c, v in controls]
    # the last event (mod wheel to 0, 0.3 s after the release) only keeps the file running through the tail
    score += [f"NoteOn 0.0 1 {note} {velocity}", f"NoteOff {hold_s} 1 {note} 64", "ControlChange 0.3 1 1 0"]
    with tempfile.TemporaryDirectory(prefix="dub-stk-") as d:
        ski, wav = Path(d) / "note.ski", Path(d) / "note.wav"
        ski.write_text("\n".join(score) + "\n")
        r = subprocess.run([stk_demo(), instrument, "-s", str(rate), "-ow", str(wav), "-if", str(ski)],
                           capture_output=True, text=True, env=env, timeout=120)
        if r.returncode != 0 or not wav.is_file():
            tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
            raise RuntimeError(f"stk-demo {instrument} note {note} failed (exit {r.returncode}): {' / '.join(tail)}")
        x, got = sf.read(wav, dtype="float32", always_2d=True)
    if got != rate:
        raise RuntimeError(f"stk-demo wrote {got} Hz, not the {rate} Hz asked for")
    return x.mean(axis=1)


def _frozen_clock(seed: int) -> str:
    """libfaketime's frozen absolute time for ``seed``: STK's srand(time(NULL)) then draws from it."""
    import datetime as dt

    t = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=int(seed))
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _speaks(x: np.ndarray, note: int, pitched: bool) -> str | None:
    """Why a rendered note is left out, or None when it is kept."""
    from .multisample import sounding_cents

    peak = float(np.abs(x).max()) if len(x) else 0.0
    if not np.isfinite(x).all():
        return "not finite"
    if peak < MIN_PEAK:
        return f"silent (peak {peak:.1e})"
    if pitched:
        dev = sounding_cents(x, RENDER_RATE, note)
        if dev is None:
            return "no steady pitch"
        if abs(dev) > MAX_CENTS_OFF:
            return f"sounds {dev:+.0f} cents off its key"
    return None


def stk_sample_folder(out: str | Path, programs=None, step: int = 3, seed: int = 0,
                      report: list[str] | None = None) -> list[Path]:
    """Render ``programs`` (default: every one of ``STK_PROGRAMS``) into ``out/NNN_name/<note>.wav``,
    one note every ``step`` semitones over the program's family range (velocity 100), each
    instrument scaled to a common peak of 0.8. Written whole or not at all. ``report`` collects the
    notes left out and why. Returns the instrument folders."""
    import soundfile as sf
    from pretty_midi import note_number_to_name

    from .features import gm_program_names
    from .fileio import atomic_folder

    report = [] if report is None else report
    programs = sorted(STK_PROGRAMS) if programs is None else list(programs)
    for p in programs:
        if p not in STK_PROGRAMS:
            raise ValueError(f"GM program {p} has no STK instrument: choose from {sorted(STK_PROGRAMS)}")
    if step < 1:
        raise ValueError(f"step must be at least 1 semitone, got {step}")
    stk_demo()
    folders = []
    with atomic_folder(out) as tmp:
        for p in programs:
            instrument, controls, pitched = STK_PROGRAMS[p]
            lo, hi = FAMILY_PITCH_RANGE[GM_FAMILIES[p // PROGRAMS_PER_FAMILY]]
            kept = {}
            for note in range(lo, hi + 1, step):
                x = render_stk_note(instrument, note, controls=controls, seed=seed + 1000 * p + note)
                why = _speaks(x, note, pitched)
                if why:
                    report.append(f"{p:03d} {instrument} {note_number_to_name(note)}: left out ({why})")
                else:
                    kept[note] = x
            if len(kept) < 2:
                report.append(f"{p:03d} {instrument}: left out (fewer than 2 notes speak)")
                continue
            scale = 0.8 / max(float(np.abs(x).max()) for x in kept.values())
            name = gm_program_names()[p]
            d = tmp / f"{p:03d}_{name}"
            d.mkdir()
            for note, x in kept.items():
                # C#4.wav: multisample.note_of_name reads it back
                sf.write(d / f"{note_number_to_name(note)}.wav", x * scale, RENDER_RATE, subtype="FLOAT")
            folders.append(Path(out) / d.name)
        if not folders:
            raise ValueError("no STK instrument spoke: nothing written")
    return folders


def stk_to_soundfont(out: str | Path, step: int = 3, seed: int = 0, report: list[str] | None = None) -> Path:
    """Render ``STK_PROGRAMS`` and write them as one SoundFont (``STK Instruments``), atomically."""
    from .multisample import multisample_to_soundfont

    with tempfile.TemporaryDirectory(prefix="dub-stk-font-") as d:
        stk_sample_folder(Path(d) / "stk", step=step, seed=seed, report=report)
        return multisample_to_soundfont(Path(d) / "stk", out, name="STK Instruments", report=report)
