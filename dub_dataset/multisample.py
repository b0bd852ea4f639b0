"""Recorded multisampled instruments (a folder of note-named samples per instrument) as a SoundFont.

A set is a folder of instrument folders named ``NNN_name`` (NNN the GM program, as FreePats'
patches are), each holding one recording per sampled note, named by the note in scientific pitch
(``A4.mp3`` is MIDI 69, ``Cs4``, ``C#4`` and ``Db4`` are 61). ``multisample_to_soundfont`` writes one
bank-0 preset per program: each recording becomes a zone rooted on its note whose key range reaches
half-way to its neighbours', with no loop (each recording is cut at ``MAX_SAMPLE_S`` with a short
fade) and a release of ``RELEASE_S`` so a note stops when the key is let go. Alternate takes of one
note (``F2 v2.mp3``) are left out: the plain name is the one used.

``scripts/setup.sh`` builds ``~/.local/share/soundfonts/ToneJS_Instruments.sf2`` this way from the 20
instruments of tonejs-instruments (``TONEJS_PROGRAMS``: recordings from VSCO 2 CE, Karoryfer, the
University of Iowa's MIS and freesound.org, CC-BY-3.0, fetched from npm as
``tonejs-instrument-<name>-mp3``): recorded instruments, a sixth training source for the notes config.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .constants import AUDIO_SUFFIXES

MAX_SAMPLE_S = 4.5  # longer than the notes config's 4 s clips
FADE_S = 0.05
RELEASE_S = 0.25
STORE_RATE = 22_050

# tonejs-instruments' instruments (npm tonejs-instrument-<name>-mp3, version) and the GM program each
# plays, by its recording's source (tonejs-instruments' sample-source-info.txt): VSCO 2 CE's organ is
# a pipe organ; Karoryfer's saxophone spans A#3-G#5, an alto's range.
TONEJS_PROGRAMS = {
    "piano": (0, "1.1.2"), "xylophone": (13, "1.1.2"), "organ": (19, "1.1.1"), "harmonium": (20, "1.1.1"),
    "guitar-nylon": (24, "1.1.1"), "guitar-acoustic": (25, "1.1.2"), "guitar-electric": (27, "1.1.1"),
    "bass-electric": (33, "1.1.2"), "violin": (40, "1.1.1"), "cello": (42, "1.1.1"), "contrabass": (43, "1.1.2"),
    "harp": (46, "1.1.1"), "trumpet": (56, "1.1.2"), "trombone": (57, "1.1.2"), "tuba": (58, "1.1.2"),
    "french-horn": (60, "1.1.2"), "saxophone": (65, "1.1.2"), "bassoon": (70, "1.1.2"), "clarinet": (71, "1.1.2"),
    "flute": (73, "1.1.2"),
}

_NOTE = re.compile(r"^([A-Ga-g])(s|#|b)?(-?\d)$")
_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def note_of_name(stem: str) -> int | None:
    """MIDI note of a file stem in scientific pitch (``A4`` 69, ``Cs4``/``C#4`` 61, ``Db4`` 61), or None.

    >>> note_of_name("A4"), note_of_name("Cs1"), note_of_name("Bb3"), note_of_name("F2 v2")
    (69, 25, 58, None)
    """
    m = _NOTE.match(stem.strip())
    if not m:
        return None
    letter, accidental, octave = m.groups()
    n = 12 * (int(octave) + 1) + _PITCH_CLASS[letter.lower()] + {None: 0, "s": 1, "#": 1, "b": -1}[accidental]
    return n if 0 <= n <= 127 else None


def instrument_samples(folder: Path) -> dict[int, Path]:
    """The recording of each sampled note of one instrument folder (``package/`` inside it counts
    too: an unpacked npm package)."""
    if (folder / "package").is_dir():
        folder = folder / "package"
    notes: dict[int, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES:
            n = note_of_name(f.stem)
            if n is not None:
                if n in notes:
                    raise ValueError(f"{folder}: {notes[n].name} and {f.name} both play MIDI note {n}")
                notes[n] = f
    return notes


def sounding_cents(x: np.ndarray, rate: int, note: int) -> float | None:
    """How many cents the recording ``x`` sounds above MIDI ``note`` (YIN over its first second
    after the attack), or None where the estimate is not steady (unpitched or inharmonic sounds)."""
    import librosa

    seg = x[int(0.1 * rate): int(1.1 * rate)].astype(np.float32)
    if len(seg) < 4096:
        return None
    f0 = librosa.yin(seg, fmin=25, fmax=4200, sr=rate, frame_length=4096)
    cents = 100 * (librosa.hz_to_midi(f0) - note)
    lo, hi = np.percentile(cents, [25, 75])
    return float(np.median(cents)) if hi - lo < 30 else None


def key_ranges(roots: list[int]) -> list[tuple[int, int]]:
    """Each sorted root's key range: half-way to its neighbours', the ends stretched to 0 and 127.

    >>> key_ranges([48, 54, 60])
    [(0, 51), (52, 57), (58, 127)]
    """
    return [(0 if i == 0 else (roots[i - 1] + r) // 2 + 1, 127 if i == len(roots) - 1 else (r + roots[i + 1]) // 2)
            for i, r in enumerate(roots)]


def _zones(notes: dict[int, Path], label: str, report: list[str]):
    """Zones of one instrument. A recording that sounds a semitone (51-150 cents) off its name is
    rooted where it sounds (a mislabelled file); one an octave or more off keeps its name's root
    (YIN's octave errors are as likely as the file's) and is reported."""
    from .audio_io import load_audio
    from .sf2write import GEN_RELEASE_VOL, Zone, timecents

    takes = []
    for named in sorted(notes):
        x = load_audio(notes[named], STORE_RATE)[: int(MAX_SAMPLE_S * STORE_RATE)].astype(np.float64)
        if not np.abs(x).max() > 1e-4:
            raise ValueError(f"{notes[named]}: silent recording")
        fade = min(len(x), int(FADE_S * STORE_RATE))
        x[len(x) - fade:] *= np.linspace(1.0, 0.0, fade)
        root, correction, dev = named, 0, sounding_cents(x, STORE_RATE, named)
        if dev is not None and 50 < abs(dev) <= 150:
            root = named + int(round(dev / 100))
            correction = -int(round(dev - 100 * (root - named)))
            report.append(f"{label} {notes[named].name}: sounds {dev:+.0f} cents off its name, rooted on MIDI {root}")
        elif dev is not None and abs(dev) > 150:
            report.append(f"{label} {notes[named].name}: YIN hears {dev:+.0f} cents off its name (kept)")
        takes.append((root, correction, x, notes[named].stem, root != named))
    by_root: dict[int, tuple] = {}
    for t in takes:  # a re-rooted recording that lands on a note with its own recording is left out
        if t[0] in by_root and t[4]:
            report.append(f"{label} {t[3]}: left out (MIDI {t[0]} has its own recording)")
            continue
        if t[0] in by_root:
            report.append(f"{label} {by_root[t[0]][3]}: left out (MIDI {t[0]} has its own recording)")
        by_root[t[0]] = t
    takes = [by_root[r] for r in sorted(by_root)]
    roots = [t[0] for t in takes]
    zones = []
    for (lo, hi), (root, correction, x, stem, _) in zip(key_ranges(roots), takes):
        zones.append(Zone(samples=x / max(1.0, np.abs(x).max()), rate=STORE_RATE, key_range=(lo, hi), root_key=root,
                          correction_cents=correction, name=f"{label[:14]} {stem}",
                          generators={GEN_RELEASE_VOL: timecents(RELEASE_S)}))
    return zones


def multisample_to_soundfont(folder: str | Path, out: str | Path, name: str | None = None,
                             report: list[str] | None = None) -> Path:
    """Convert a folder of ``NNN_name`` instrument folders of note-named recordings to a SoundFont
    whose bank-0 presets are those GM programs (written atomically). ``report`` collects the
    recordings whose pitch disagrees with their name (see ``_zones``)."""
    report = [] if report is None else report
    from .sf2write import Instrument, gm_programs, write_soundfont

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of instrument folders")
    instruments = []
    for program, rest, d in gm_programs(folder, sorted(p for p in folder.iterdir() if p.is_dir())):
        notes = instrument_samples(d)
        if not notes:
            raise ValueError(f"{d}: no recording named by its note (A4.mp3, Cs4.wav, ...)")
        label = rest.replace("_", " ").replace("-", " ") if rest else d.name
        instruments.append(Instrument(name=label, program=program, zones=_zones(notes, label, report)))
    if not instruments:
        raise ValueError(f"{folder}: no instrument folder named NNN_name (NNN a GM program 0-127)")
    return write_soundfont(out, name or folder.name, instruments,
                           comment="Converted by dub samples2sf2 from note-named recordings")
