"""Procedural music for the ``mixtures`` config: parts (bass, chords, melody, arpeggio, drums) with
note-level labels, all drawn from one ``numpy.random.Generator``. Pure: numbers in, notes out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .render import Note

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based), one chord per bar.
PROGRESSIONS = ((0, 4, 5, 3), (1, 4, 0, 0), (0, 3, 4, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 0, 3, 4))
# GM programs suited to each role.
ROLE_PROGRAMS = {
    "bass": tuple(range(32, 40)),
    "chords": (0, 1, 2, 4, 5, 16, 17, 19, 24, 25, 26, 27, 48, 49, 50, 52, 88, 89, 90, 91),
    "melody": (0, 6, 11, 22, 40, 41, 56, 57, 60, 64, 65, 66, 68, 71, 72, 73, 74, 80, 81, 104),
    "arpeggio": (0, 4, 6, 8, 10, 11, 12, 13, 24, 25, 46, 80, 81, 98),
}
ROLE_OCTAVE = {"bass": 36, "chords": 55, "melody": 67, "arpeggio": 60}  # lowest MIDI note of the role


@dataclass
class Part:
    role: str
    program: int  # GM program; ignored for drums
    is_drum: bool
    notes: list[Note]


def _chord(root_degree: int, scale: tuple, tonic: int, low: int) -> list[int]:
    """Triad on a scale degree, voiced upwards from the first note >= low."""
    pcs = [(tonic + scale[(root_degree + k) % 7]) % 12 for k in (0, 2, 4)]
    base = low + (pcs[0] - low) % 12
    out = [base]
    for pc in pcs[1:]:
        n = out[-1] + (pc - out[-1]) % 12
        out.append(n)
    return out


def compose(rng: np.random.Generator, duration_s: float, max_parts: int = 3, drums_p: float = 0.7) -> tuple[list[Part], float]:
    """Parts that fill ``duration_s`` seconds, and the tempo in BPM."""
    bpm = float(rng.uniform(70, 160))
    beat = 60.0 / bpm
    tonic = int(rng.integers(12))
    scale = MAJOR if rng.random() < 0.6 else MINOR
    prog = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    n_bars = int(np.ceil(duration_s / (4 * beat)))
    roles = ["bass", "chords", "melody", "arpeggio"]
    rng.shuffle(roles)
    n_parts = int(rng.integers(1, max_parts + 1))
    parts = []
    for role in roles[:n_parts]:
        program = int(ROLE_PROGRAMS[role][rng.integers(len(ROLE_PROGRAMS[role]))])
        level = int(rng.integers(55, 115))
        notes = []
        for bar in range(n_bars):
            t0 = bar * 4 * beat
            chord = _chord(prog[bar % len(prog)], scale, tonic, ROLE_OCTAVE[role])
            if role == "bass":
                step = beat if rng.random() < 0.6 else beat / 2
                for k in range(int(round(4 * beat / step))):
                    p = chord[0] if k % 4 != 3 or rng.random() < 0.5 else chord[2] - 12
                    notes.append(Note(t0 + k * step, t0 + (k + 0.9) * step, p, level))
            elif role == "chords":
                if rng.random() < 0.5:
                    notes += [Note(t0, t0 + 4 * beat * 0.95, p, level) for p in chord]
                else:
                    for k in range(4):
                        notes += [Note(t0 + k * beat, t0 + (k + 0.8) * beat, p, level) for p in chord]
            elif role == "arpeggio":
                step = beat / 2 if rng.random() < 0.5 else beat / 4
                seq = chord + [chord[0] + 12]
                for k in range(int(round(4 * beat / step))):
                    notes.append(Note(t0 + k * step, t0 + (k + 0.9) * step, seq[k % len(seq)], level))
            else:  # melody: a random walk on the scale, with rests
                t, idx = t0, int(rng.integers(7))
                while t < t0 + 4 * beat - 1e-6:
                    dur = beat * float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
                    dur = min(dur, t0 + 4 * beat - t)
                    if rng.random() > 0.15:
                        octave, deg = divmod(idx, 7)
                        p = ROLE_OCTAVE["melody"] + (tonic + scale[deg]) % 12 + 12 * octave
                        notes.append(Note(t, t + dur * 0.9, int(np.clip(p, 55, 96)), level))
                    idx = int(np.clip(idx + rng.integers(-2, 3), 0, 13))
                    t += dur
        parts.append(Part(role, program, False, notes))
    if rng.random() < drums_p:
        notes = []
        eighth = beat / 2
        open_every = int(rng.integers(4, 9))
        for bar in range(n_bars):
            t0 = bar * 4 * beat
            if bar % 4 == 0:
                notes.append(Note(t0, t0 + 0.1, 49, 100))
            for k in range(8):
                t = t0 + k * eighth
                hat = 46 if (k + bar * 8) % open_every == open_every - 1 else 42
                notes.append(Note(t, t + 0.05, hat, int(rng.integers(50, 90))))
                if k in (0, 4) or (k == 5 and rng.random() < 0.3):
                    notes.append(Note(t, t + 0.1, 36, int(rng.integers(90, 120))))
                if k in (2, 6):
                    notes.append(Note(t, t + 0.1, 38, int(rng.integers(85, 120))))
        parts.append(Part("drums", 0, True, notes))
    for part in parts:  # velocity jitter, and nothing past the clip
        part.notes = [Note(round(n.onset_s, 4), round(min(n.offset_s, duration_s), 4), n.pitch,
                           int(np.clip(n.velocity + rng.integers(-12, 13), 1, 127)))
                      for n in part.notes if n.onset_s < duration_s - 0.05]
    return parts, bpm


def parts_from_midi(path: str, rng: np.random.Generator, duration_s: float) -> list[Part]:
    """A random ``duration_s`` window of a MIDI file, one part per instrument."""
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as e:
        raise ValueError(f"{path}: not a readable MIDI file ({e})") from e
    end = pm.get_end_time()
    start = float(rng.uniform(0, max(0.0, end - duration_s)))
    parts = []
    for inst in pm.instruments:
        notes = [Note(round(n.start - start, 4), round(min(n.end - start, duration_s), 4), n.pitch, n.velocity)
                 for n in inst.notes if start <= n.start < start + duration_s - 0.05]
        if notes:
            parts.append(Part("midi", inst.program, inst.is_drum, notes))
    return parts
