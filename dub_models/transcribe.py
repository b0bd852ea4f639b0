"""Audio file in, notes (and MIDI) out: windowed inference in flat memory, then pure decoding.

The audio is read window by window (8 s windows every 7 s, 0.5 s of context either side); each
window's posteriors are kept for its central 7 s only, stored as float16 (a 1 h file keeps about
150 MB of posteriors), and decoded to notes by pure numpy functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dub_dataset.constants import DRUM_CLASSES, GM_FAMILIES, PROGRAMS_PER_FAMILY, SAMPLE_RATE, SILENCE_PEAK

from .notes import PITCH_MIN, NoteEvent, decode_drums, decode_notes

# The GM program written for each family's track (the family's first program).
FAMILY_PROGRAM = {f: i * PROGRAMS_PER_FAMILY for i, f in enumerate(GM_FAMILIES)}
MIN_AUDIO_S = 0.1
DEFAULT_MODEL = Path(__file__).parent / "weights" / "transcriber"


@dataclass
class Posteriors:
    """Frame-wise model outputs for a whole file, [frames, pitches] or [frames, drum classes]."""

    fps: float
    onset: np.ndarray  # float16 probabilities
    frame: np.ndarray
    offset: np.ndarray
    velocity: np.ndarray  # 0-1
    family: np.ndarray  # uint8 argmax family per frame and pitch
    drum_onset: np.ndarray
    drum_velocity: np.ndarray

    @classmethod
    def empty(cls, fps: float, n_pitches: int = 88, n_drums: int = len(DRUM_CLASSES), n_frames: int = 0):
        z = np.zeros((n_frames, n_pitches), np.float16)
        zd = np.zeros((n_frames, n_drums), np.float16)
        return cls(fps, z, z.copy(), z.copy(), z.copy(), np.zeros((n_frames, n_pitches), np.uint8), zd, zd.copy())

    @property
    def n_frames(self) -> int:
        return self.onset.shape[0]


@dataclass
class Thresholds:
    onset: float = 0.5
    frame: float = 0.3
    drum: float = 0.5
    min_duration_s: float = 0.03

    @classmethod
    def of(cls, model, onset: float | None = None, frame: float | None = None, drum: float | None = None):
        """The model's own thresholds (tuned on validation), with any of them overridden."""
        c = model.config
        return cls(onset if onset is not None else getattr(c, "onset_threshold", cls.onset),
                   frame if frame is not None else getattr(c, "frame_threshold", cls.frame),
                   drum if drum is not None else getattr(c, "drum_threshold", cls.drum))


def decode(post: Posteriors, th: Thresholds | None = None, families: tuple[str, ...] | None = None,
           keep: set[str] | None = None) -> list[NoteEvent]:
    """Notes from posteriors: pitched notes get the family most often predicted over their frames
    (written with that family's first GM program); drums get their coarse class's GM note.
    ``keep``: family names (and "drums") to keep; None keeps all."""
    th = th or Thresholds()
    families = families or GM_FAMILIES
    notes = []
    pitched = decode_notes(post.onset, post.frame, post.fps, post.velocity, th.onset, th.frame, th.min_duration_s)
    for n in pitched:
        t0, t1 = int(round(n.onset_s * post.fps)), max(int(round(n.offset_s * post.fps)), int(round(n.onset_s * post.fps)) + 1)
        fam = families[int(np.bincount(post.family[t0:t1, n.pitch - PITCH_MIN], minlength=len(families)).argmax())]
        if keep is None or fam in keep:
            notes.append(NoteEvent(n.onset_s, n.offset_s, n.pitch, n.velocity, FAMILY_PROGRAM[fam]))
    notes = _fit_channels(notes)
    if keep is None or "drums" in keep:
        notes += decode_drums(post.drum_onset, post.fps, post.drum_velocity, th.drum)
    return sorted(notes, key=lambda n: (n.onset_s, n.is_drum, n.pitch))


def _fit_channels(notes: list[NoteEvent], max_tracks: int = 15) -> list[NoteEvent]:
    """MIDI has 15 channels besides drums: notes of the rarest families beyond that join the most
    common family's track."""
    from collections import Counter

    counts = Counter(n.program for n in notes)
    if len(counts) <= max_tracks:
        return notes
    kept = {p for p, _ in counts.most_common(max_tracks)}
    top = counts.most_common(1)[0][0]
    return [n if n.program in kept else NoteEvent(n.onset_s, n.offset_s, n.pitch, n.velocity, top) for n in notes]


def estimate_tempo(post: Posteriors, lo: float = 60.0, hi: float = 180.0) -> float:
    """Tempo (BPM) from the autocorrelation of the summed onset probabilities; 120 when unsure."""
    env = post.onset.astype(np.float32).sum(1) + post.drum_onset.astype(np.float32).sum(1)
    if env.size < post.fps * 4 or env.max() <= 0.5:
        return 120.0
    env = env - env.mean()
    spec = np.fft.rfft(env, 2 * len(env))
    ac = np.fft.irfft(spec * np.conj(spec))[:len(env)]
    lags = np.arange(int(post.fps * 60 / hi), int(post.fps * 60 / lo) + 1)
    lags = lags[lags < len(ac)]
    if not len(lags) or ac[0] <= 0:
        return 120.0
    best = lags[np.argmax(ac[lags])]
    return round(float(60.0 * post.fps / best), 1)


def load_transcriber(model: str | os.PathLike | None = None):
    """A transcriber from a folder or Hub id (default: the shipped one), in eval mode."""
    from . import transcriber  # noqa: F401  (registers the architecture)
    from transformers import AutoModel

    path = Path(model) if model is not None else DEFAULT_MODEL
    if model is None and not (path / "config.json").exists():
        raise FileNotFoundError(f"no shipped transcriber in {path}: train one with `dub train --task transcription` "
                                "or pass --model DIR_OR_HUB_ID")
    try:
        m = AutoModel.from_pretrained(str(model) if model is not None else str(path))
    except OSError as e:
        raise ValueError(f"cannot load the transcriber {model!r}: {e}") from e
    if getattr(m.config, "model_type", "") != "dub-transcriber":
        raise ValueError(f"{model}: not a dub transcriber (model_type {m.config.model_type!r})")
    return m.eval()


def _run(model, windows: list[np.ndarray]):
    import torch

    from .transcriber import features

    x = torch.from_numpy(np.stack([features(w) for w in windows]))
    with torch.inference_mode():
        out = model(input_values=x)
    sig = torch.sigmoid
    return {"onset": sig(out.onset_logits), "frame": sig(out.frame_logits), "offset": sig(out.offset_logits),
            "velocity": out.velocity, "family": out.family_logits.argmax(-1).to(torch.uint8),
            "drum_onset": sig(out.drum_onset_logits), "drum_velocity": out.drum_velocity}


def posteriors_for_audio(model, read, total_samples: int | None = None, batch: int = 4,
                         context_s: float = 0.5) -> Posteriors:
    """Windowed inference. ``read(start, stop)`` returns samples [start, stop) at 16 kHz (fewer at
    the end of the audio); only one batch of windows is in memory at a time."""
    cfg = model.config
    fps = cfg.fps
    sr = cfg.sampling_rate
    win = int(round(cfg.window_s * sr))
    ctx = int(round(context_s * sr))
    hop = win - 2 * ctx
    hop_frames, ctx_frames = int(round(hop / sr * fps)), int(round(ctx / sr * fps))
    keys = ("onset", "frame", "offset", "velocity", "family", "drum_onset", "drum_velocity")
    chunks = {k: [] for k in keys}
    pending: list[tuple[np.ndarray, bool]] = []
    n_read = 0

    def flush():
        live = [i for i, (_, silent) in enumerate(pending) if not silent]
        out = _run(model, [pending[i][0] for i in live]) if live else None
        for i, (_, silent) in enumerate(pending):
            for k in keys:
                if silent:
                    dtype = np.uint8 if k == "family" else np.float16
                    width = len(cfg.drum_classes) if k.startswith("drum") else cfg.num_pitches
                    chunks[k].append(np.zeros((hop_frames, width), dtype))
                else:
                    arr = out[k][live.index(i), ctx_frames:ctx_frames + hop_frames].numpy()
                    chunks[k].append(arr if k == "family" else arr.astype(np.float16))
        pending.clear()

    start = -ctx
    while True:
        lo = max(0, start)
        audio = read(lo, start + win)
        n_read = max(n_read, lo + len(audio))
        if start > -ctx and len(audio) <= ctx:
            break  # nothing left in this window's central part
        last = lo + len(audio) < start + win - sr // 10  # (compressed formats may come up a frame short)
        # the last window is cut to the audio (plus its right context), in steps of 0.5 s
        length = win if not last else min(win, int(np.ceil((lo - start + len(audio) + ctx) / (sr / 2)) * (sr // 2)))
        window = np.zeros(length, np.float32)
        window[lo - start:lo - start + len(audio)] = audio
        silent = len(audio) == 0 or float(np.abs(audio).max()) <= SILENCE_PEAK
        if length != win and pending:
            flush()  # a batch holds windows of one length
        pending.append((window, silent))
        if len(pending) == batch or length != win:
            flush()
        if last:
            break  # the end of the audio is inside this window
        start += hop
    if pending:
        flush()
    n_frames = int(n_read / sr * fps)
    if not chunks["onset"]:
        return Posteriors.empty(fps, cfg.num_pitches, len(cfg.drum_classes))
    return Posteriors(fps, *(np.concatenate(chunks[k])[:n_frames] for k in keys))


def transcribe_array(model, audio: np.ndarray, **kw) -> Posteriors:
    audio = np.asarray(audio, np.float32)
    return posteriors_for_audio(model, lambda a, b: audio[a:b], len(audio), **kw)


def transcribe_file(path: str | os.PathLike, model=None, thresholds: Thresholds | None = None,
                    keep: set[str] | None = None) -> tuple[list[NoteEvent], Posteriors, float]:
    """(notes, posteriors, duration in s) of an audio file of any common format, rate and channel
    count, read in windows (flat memory). Raises ``AudioError`` naming the file when it is not
    readable audio."""
    from dub_dataset.audio_io import AudioReader

    model = model if model is not None else load_transcriber()
    reader = AudioReader(path, SAMPLE_RATE)
    try:
        post = posteriors_for_audio(model, reader.read_samples)
    finally:
        reader.close()
    duration = post.n_frames / post.fps
    if reader.samples_read == 0:
        return [], post, 0.0
    return decode(post, thresholds or Thresholds.of(model), tuple(model.config.families), keep), post, duration


def track_summary(notes: list[NoteEvent]) -> list[dict]:
    """One row per MIDI track: instrument, GM program (-1 for drums), note count."""
    from .midi import _program_name

    rows: dict = {}
    for n in notes:
        key = "drums" if n.is_drum else n.program
        rows.setdefault(key, 0)
        rows[key] += 1
    out = []
    for key in sorted(rows, key=lambda k: (k == "drums", 0 if k == "drums" else k)):
        name = "Drums (channel 10)" if key == "drums" else _program_name(key)
        family = "drums" if key == "drums" else GM_FAMILIES[key // PROGRAMS_PER_FAMILY]
        out.append({"instrument": name, "family": family, "program": -1 if key == "drums" else key, "notes": rows[key]})
    return out


def transcribe_to_midi(path: str | os.PathLike, output: str | os.PathLike, model=None,
                       thresholds: Thresholds | None = None, keep: set[str] | None = None,
                       tempo_bpm: float | None = None) -> dict:
    """Transcribe an audio file and write its MIDI atomically. Returns a summary: notes (dicts),
    tracks, tempo, duration, and a ``message`` for silent or too short input (valid empty MIDI)."""
    from .midi import write_midi

    notes, post, duration = transcribe_file(path, model, thresholds, keep)
    message = None
    if duration < MIN_AUDIO_S:
        notes, message = [], f"{path}: shorter than {MIN_AUDIO_S} s ({duration:.3f} s): wrote an empty MIDI"
    elif not notes and float(post.onset.max(initial=0)) == 0 and float(post.drum_onset.max(initial=0)) == 0:
        message = f"{path}: silent (no sound above -80 dBFS): wrote an empty MIDI"
    tempo = float(tempo_bpm) if tempo_bpm else estimate_tempo(post)
    write_midi(notes, output, tempo_bpm=tempo)
    return {"file": str(path), "midi": str(output), "duration_s": round(duration, 3), "tempo_bpm": tempo,
            "tracks": track_summary(notes), "notes": [n.to_dict() for n in notes], "message": message}
