"""From frame-wise model outputs to notes: pure numpy, arrays in, notes out.

Pitched notes follow Onsets and Frames: a note starts at an onset peak above ``onset_threshold``
and lasts while its pitch's frame probability stays above ``frame_threshold`` (or until the
next onset of the same pitch). Drum hits are onset peaks per coarse drum class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dub_dataset.constants import DRUM_CLASS_NOTES, DRUM_CLASSES

PITCH_MIN = 21  # A0: row 0 of a pitch posteriorgram
PITCH_MAX = 108  # C8
N_PITCHES = PITCH_MAX - PITCH_MIN + 1
# The GM note written for each coarse drum class: its most common member.
DRUM_CLASS_GM_NOTE = {"kick": 36, "snare": 38, "side_stick": 37, "clap": 39, "closed_hihat": 42,
                      "open_hihat": 46, "tom_low": 45, "tom_mid": 47, "tom_high": 50, "crash": 49,
                      "ride": 51, "other_percussion": 54}
assert set(DRUM_CLASS_GM_NOTE) == set(DRUM_CLASSES)
assert all(n in DRUM_CLASS_NOTES[c] for c, n in DRUM_CLASS_GM_NOTE.items() if c in DRUM_CLASS_NOTES)


@dataclass(frozen=True)
class NoteEvent:
    onset_s: float
    offset_s: float
    pitch: int  # MIDI; GM drum note for drums
    velocity: int  # 1-127
    program: int = 0  # GM program 0-127 (ignored for drums)
    is_drum: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _peaks(prob: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean [T, K]: local maxima in time at or above threshold (the first frame of a plateau)."""
    out = prob >= threshold  # in place on boolean arrays: no float copies of an hour of posteriors
    out[1:] &= prob[1:] > prob[:-1]
    out[:-1] &= prob[:-1] >= prob[1:]
    return out


def _velocity(vel: np.ndarray | None, t: int, k: int) -> int:
    if vel is None:
        return 100
    return int(np.clip(round(float(vel[t, k]) * 127), 1, 127))


def decode_notes(onset: np.ndarray, frame: np.ndarray, fps: float, velocity: np.ndarray | None = None,
                 onset_threshold: float = 0.5, frame_threshold: float = 0.3, min_duration_s: float = 0.03,
                 program: int = 0, pitch_min: int = PITCH_MIN) -> list[NoteEvent]:
    """Notes from onset and frame probabilities of shape [frames, pitches] (row 0 = ``pitch_min``);
    ``velocity`` in [0, 1] of the same shape. Times in seconds at ``fps`` frames per second."""
    onset, frame = np.asarray(onset), np.asarray(frame)  # float16 posteriors stay float16
    if onset.shape != frame.shape or onset.ndim != 2:
        raise ValueError(f"onset {onset.shape} and frame {frame.shape} must be equal [frames, pitches]")
    n_frames = onset.shape[0]
    starts = _peaks(onset, onset_threshold)
    notes = []
    for k in range(onset.shape[1]):
        ts = np.flatnonzero(starts[:, k])
        for i, t in enumerate(ts):
            limit = ts[i + 1] if i + 1 < len(ts) else n_frames
            end = t + 1
            while end < limit and frame[end, k] >= frame_threshold:
                end += 1
            if (end - t) / fps < min_duration_s:
                continue
            notes.append(NoteEvent(round(float(t) / fps, 4), round(float(end) / fps, 4), pitch_min + k,
                                   _velocity(velocity, t, k), program))
    return sorted(notes, key=lambda n: (n.onset_s, n.pitch))


def decode_drums(onset: np.ndarray, fps: float, velocity: np.ndarray | None = None,
                 threshold: float = 0.5, hit_s: float = 0.1) -> list[NoteEvent]:
    """Drum hits from onset probabilities [frames, 12 coarse classes] (constants.DRUM_CLASSES)."""
    onset = np.asarray(onset)
    if onset.ndim != 2 or onset.shape[1] != len(DRUM_CLASSES):
        raise ValueError(f"drum onsets must be [frames, {len(DRUM_CLASSES)}], got {onset.shape}")
    hits = []
    for t, k in zip(*np.nonzero(_peaks(onset, threshold))):
        hits.append(NoteEvent(round(float(t) / fps, 4), round(float(t) / fps + hit_s, 4), DRUM_CLASS_GM_NOTE[DRUM_CLASSES[k]],
                              _velocity(velocity, t, k), 0, True))
    return sorted(hits, key=lambda n: (n.onset_s, n.pitch))
