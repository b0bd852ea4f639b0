"""dub's transcriber: a spectrogram transformer that turns spectrogram frames into notes.

``DubTranscriberForNoteTranscription`` is a transformers ``PreTrainedModel`` (model_type
``dub-transcriber``, registered with ``AutoConfig`` and ``AutoModel`` when ``dub_models`` is
imported). A convolutional front end reads 10 ms frames of a log-frequency spectrogram (``features``) and halves the frame rate to
50 frames/s; a transformer encoder (sinusoidal positions, so any window length) relates the frames;
linear heads give, per frame:

- onset, frame (sustain) and offset probabilities for each pitch, MIDI 21-108;
- the velocity of a note starting at that pitch and frame (0-1, i.e. MIDI velocity / 127);
- the GM family (16 classes) of the note sounding at that pitch;
- onsets of the 12 coarse drum classes, with their velocity.

The front end is what learns quickly from CPU-scale data; width and depth (``d_model``,
``num_layers``) scale it up on a GPU. Training targets are built from note lists by
:func:`note_targets` (pure numpy), and decoding back to notes is pure numpy too (``notes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dub_dataset.constants import (
    DRUM_CLASS_OF_NOTE, DRUM_CLASSES, GM_FAMILIES, HOP, PROGRAMS_PER_FAMILY, SAMPLE_RATE,
)

from .notes import N_PITCHES, PITCH_MIN

N_FAMILIES = len(GM_FAMILIES)
N_DRUMS = len(DRUM_CLASSES)
FRAME_POOL = 2  # mel frames per model frame
FPS = SAMPLE_RATE / HOP / FRAME_POOL  # 50 model frames a second
# Target layout along the last axis of ``labels`` [batch, frames, TARGET_CHANNELS].
_P = N_PITCHES
SLICES = {
    "onset": slice(0, _P), "frame": slice(_P, 2 * _P), "offset": slice(2 * _P, 3 * _P),
    "velocity": slice(3 * _P, 4 * _P), "family": slice(4 * _P, 5 * _P),
    "drum_onset": slice(5 * _P, 5 * _P + N_DRUMS), "drum_velocity": slice(5 * _P + N_DRUMS, 5 * _P + 2 * N_DRUMS),
}
TARGET_CHANNELS = 5 * _P + 2 * N_DRUMS


# -- targets ------------------------------------------------------------------------------------
NOTE_FIELDS = ("onset_s", "offset_s", "pitch", "velocity", "program", "is_drum")


def notes_array(notes) -> np.ndarray:
    """A note list (dicts as in the mixtures dataset) as a compact float32 array [n, 6] (NOTE_FIELDS)."""
    return np.array([[float(n[k]) for k in NOTE_FIELDS] for n in notes], np.float32).reshape(-1, len(NOTE_FIELDS))


def note_targets(notes, n_frames: int, fps: float = FPS) -> np.ndarray:
    """Dense training targets [n_frames, TARGET_CHANNELS] from a note list.

    ``notes``: dicts (or objects, or a ``notes_array``) with onset_s, offset_s, pitch, velocity, program, is_drum, as in
    the ``mixtures`` dataset. Family targets are the family index, -1 where no note sounds (ignored
    by the loss). Notes outside MIDI 21-108 are left out; drum notes map to their coarse class.
    """
    y = np.zeros((n_frames, TARGET_CHANNELS), np.float32)
    y[:, SLICES["family"]] = -1.0
    if isinstance(notes, np.ndarray):
        notes = [dict(zip(NOTE_FIELDS, row)) for row in notes.tolist()]
    for n in notes:
        get = n.get if isinstance(n, dict) else lambda k, n=n: getattr(n, k)
        t0 = int(round(float(get("onset_s")) * fps))
        if t0 >= n_frames or t0 < 0:
            continue
        vel = float(get("velocity")) / 127.0
        if get("is_drum"):
            k = DRUM_CLASSES.index(DRUM_CLASS_OF_NOTE.get(int(get("pitch")), "other_percussion"))
            y[t0, SLICES["drum_onset"].start + k] = 1.0
            y[t0, SLICES["drum_velocity"].start + k] = max(vel, y[t0, SLICES["drum_velocity"].start + k])
            continue
        k = int(get("pitch")) - PITCH_MIN
        if not 0 <= k < N_PITCHES:
            continue
        t1 = max(t0 + 1, int(round(float(get("offset_s")) * fps)))
        y[t0, SLICES["onset"].start + k] = 1.0
        y[t0, SLICES["velocity"].start + k] = vel
        y[t0:min(t1, n_frames), SLICES["frame"].start + k] = 1.0
        y[t0:min(t1, n_frames), SLICES["family"].start + k] = int(get("program")) // PROGRAMS_PER_FAMILY
        if t1 < n_frames:
            y[t1, SLICES["offset"].start + k] = 1.0
    return y


# Input features: a log-frequency spectrogram, two bins per semitone from A0 (MIDI 21) up to
# MIDI 119 (just under the 8 kHz Nyquist frequency), from a 2048-point DFT (7.8 Hz bins) every
# 10 ms. The classifiers' 512-point log-mel cannot tell low notes a semitone apart; this can,
# from the fundamental upwards of about E2 and from the harmonics below.
FEATURE_N_FFT = 2048
BINS_PER_SEMITONE = 2
FEATURE_MIDI_MIN, FEATURE_MIDI_MAX = 21, 119
N_FEATURE_BINS = (FEATURE_MIDI_MAX - FEATURE_MIDI_MIN) * BINS_PER_SEMITONE  # 196


def _logfreq_filterbank():
    """Sparse triangular filters [N_FEATURE_BINS, n_fft // 2 + 1], centres on the semitone grid,
    each at least one DFT bin wide (cached)."""
    global _FB
    if _FB is None:
        import scipy.sparse

        bins = np.fft.rfftfreq(FEATURE_N_FFT, 1.0 / SAMPLE_RATE)
        step = 1.0 / BINS_PER_SEMITONE
        midi = FEATURE_MIDI_MIN + step * np.arange(-1, N_FEATURE_BINS + 1)
        hz = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
        lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
        df = bins[1]
        lo, hi = np.minimum(lo, mid - df), np.maximum(hi, mid + df)
        up = (bins[None, :] - lo) / (mid - lo)
        down = (hi - bins[None, :]) / (hi - mid)
        _FB = scipy.sparse.csr_matrix(np.maximum(0.0, np.minimum(up, down)).astype(np.float32))
    return _FB


_FB = None


def features(audio: np.ndarray) -> np.ndarray:
    """Input frames [frames, N_FEATURE_BINS] (float32, natural log of power) of 16 kHz mono audio;
    frame t is centred on sample t * HOP."""
    import scipy.fft

    x = np.pad(np.asarray(audio, np.float32), (FEATURE_N_FFT // 2, FEATURE_N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(x, FEATURE_N_FFT)[::HOP]
    window = np.hanning(FEATURE_N_FFT + 1)[:-1].astype(np.float32)
    power = np.abs(scipy.fft.rfft(frames * window, axis=1)) ** 2
    return np.log((_logfreq_filterbank() @ power.T).T + 1e-10).astype(np.float32)


def model_frames(n_samples: int) -> int:
    """Model frames (50/s) for a clip of ``n_samples`` samples at 16 kHz."""
    return (1 + n_samples // HOP) // FRAME_POOL


# -- model --------------------------------------------------------------------------------------
def _config_class():
    from transformers import PretrainedConfig

    class DubTranscriberConfig(PretrainedConfig):
        """Sizes of dub's transcriber. ``feature_mean``/``feature_std`` normalise the input features
        (measured on the training data by the trainer)."""

        model_type = "dub-transcriber"

        def __init__(self, num_mel_bins: int = N_FEATURE_BINS, conv_channels: int = 32, d_model: int = 192,
                     num_layers: int = 3, num_heads: int = 4, ff_mult: int = 4, dropout: float = 0.1,
                     pitch_min: int = PITCH_MIN, num_pitches: int = N_PITCHES,
                     families: list | None = None, drum_classes: list | None = None,
                     feature_mean: float = -6.0, feature_std: float = 5.0, sampling_rate: int = SAMPLE_RATE,
                     hop_length: int = HOP, frame_pool: int = FRAME_POOL, window_s: float = 8.0,
                     onset_loss_weight: float = 1.0, onset_pos_weight: float = 8.0, frame_pos_weight: float = 3.0,
                     drum_pos_weight: float = 3.0, onset_threshold: float = 0.5, frame_threshold: float = 0.3,
                     drum_threshold: float = 0.5, **kwargs):
            self.num_mel_bins, self.conv_channels, self.d_model = num_mel_bins, conv_channels, d_model
            self.num_layers, self.num_heads, self.ff_mult, self.dropout = num_layers, num_heads, ff_mult, dropout
            self.pitch_min, self.num_pitches = pitch_min, num_pitches
            self.families = list(families or GM_FAMILIES)
            self.drum_classes = list(drum_classes or DRUM_CLASSES)
            self.feature_mean, self.feature_std = feature_mean, feature_std
            self.sampling_rate, self.hop_length, self.frame_pool = sampling_rate, hop_length, frame_pool
            self.window_s = window_s
            self.onset_loss_weight = onset_loss_weight
            # positives are rare (a few of 88 pitches, one frame per onset): weighted up so the
            # heads leave "always off" within CPU-scale training
            self.onset_pos_weight, self.frame_pos_weight = onset_pos_weight, frame_pos_weight
            self.drum_pos_weight = drum_pos_weight
            # decoding thresholds, tuned on the validation split after training (dub_models.evaluate.tune_thresholds)
            self.onset_threshold, self.frame_threshold, self.drum_threshold = onset_threshold, frame_threshold, drum_threshold
            super().__init__(**kwargs)

        @property
        def fps(self) -> float:
            return self.sampling_rate / self.hop_length / self.frame_pool

    return DubTranscriberConfig


def _model_classes(config_cls):
    import torch
    from torch import nn
    from transformers import PreTrainedModel
    from transformers.utils import ModelOutput

    @dataclass
    class TranscriptionOutput(ModelOutput):
        loss: torch.Tensor | None = None
        onset_logits: torch.Tensor | None = None  # [B, T, pitches]
        frame_logits: torch.Tensor | None = None
        offset_logits: torch.Tensor | None = None
        velocity: torch.Tensor | None = None  # [B, T, pitches], 0-1
        family_logits: torch.Tensor | None = None  # [B, T, pitches, families]
        drum_onset_logits: torch.Tensor | None = None  # [B, T, drum classes]
        drum_velocity: torch.Tensor | None = None

    class ConvBlock(nn.Module):
        def __init__(self, cin, cout, pool):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.GELU())
            self.pool = nn.MaxPool2d(pool)

        def forward(self, x):
            return self.pool(self.conv(x))

    class DubTranscriberForNoteTranscription(PreTrainedModel):
        config_class = config_cls
        base_model_prefix = "dub_transcriber"
        main_input_name = "input_values"

        def __init__(self, config):
            super().__init__(config)
            c = config.conv_channels
            # [B, 1, mel_frames, mels] -> time / frame_pool, mels / 8: the full-resolution layer is
            # the narrow one, so most of the cost sits after the first pooling
            self.front = nn.Sequential(ConvBlock(1, c, (config.frame_pool, 2)), ConvBlock(c, 2 * c, (1, 2)),
                                       ConvBlock(2 * c, 2 * c, (1, 2)))
            self.proj = nn.Sequential(nn.Linear(2 * c * (config.num_mel_bins // 8), config.d_model),
                                      nn.Dropout(config.dropout))
            layer = nn.TransformerEncoderLayer(config.d_model, config.num_heads, config.ff_mult * config.d_model,
                                               config.dropout, activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(config.d_model)
            p, d = config.num_pitches, len(config.drum_classes)
            self.notes_head = nn.Linear(config.d_model, 4 * p)  # onset, frame, offset, velocity
            self.family_head = nn.Linear(config.d_model, p * len(config.families))
            self.drum_head = nn.Linear(config.d_model, 2 * d)
            self.post_init()

        def _positions(self, t: int, device, dtype):
            d = self.config.d_model
            pos = torch.arange(t, device=device, dtype=torch.float32)[:, None]
            div = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-np.log(10000.0) / d))
            pe = torch.zeros(t, d, device=device)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
            return pe.to(dtype)

        def forward(self, input_values, labels=None, return_dict=None, **kwargs):
            """``input_values``: raw features [B, frames, bins] (``features``); ``labels``:
            [B, frames, TARGET_CHANNELS] from ``note_targets``."""
            cfg = self.config
            x = (input_values - cfg.feature_mean) / cfg.feature_std
            b, tm, m = x.shape
            tm = tm - tm % cfg.frame_pool
            h = self.front(x[:, None, :tm, :])  # [B, C, T, M/8]
            h = h.permute(0, 2, 1, 3).flatten(2)  # [B, T, C * M/8]
            h = self.proj(h)
            h = h + self._positions(h.shape[1], h.device, h.dtype)
            h = self.norm(self.encoder(h))
            p, d, f = cfg.num_pitches, len(cfg.drum_classes), len(cfg.families)
            notes = self.notes_head(h)
            onset, frame, offset, velocity = notes[..., :p], notes[..., p:2 * p], notes[..., 2 * p:3 * p], notes[..., 3 * p:]
            family = self.family_head(h).view(b, -1, p, f)
            drums = self.drum_head(h)
            drum_onset, drum_velocity = drums[..., :d], drums[..., d:]
            loss = None
            if labels is not None:
                loss = self._loss(labels[:, :h.shape[1]].to(h.dtype), onset, frame, offset, velocity, family,
                                  drum_onset, drum_velocity)
            return TranscriptionOutput(loss=loss, onset_logits=onset, frame_logits=frame, offset_logits=offset,
                                       velocity=torch.sigmoid(velocity), family_logits=family,
                                       drum_onset_logits=drum_onset, drum_velocity=torch.sigmoid(drum_velocity))

        def _loss(self, y, onset, frame, offset, velocity, family, drum_onset, drum_velocity):
            import torch.nn.functional as F

            def part(name):
                return y[..., SLICES[name]]

            c = self.config

            def bce(logits, target, pos_weight):
                return F.binary_cross_entropy_with_logits(logits, target, pos_weight=logits.new_tensor(pos_weight))

            on_t, drum_t = part("onset"), part("drum_onset")
            loss = (c.onset_loss_weight * bce(onset, on_t, c.onset_pos_weight) + bce(frame, part("frame"), c.frame_pos_weight)
                    + 0.5 * bce(offset, part("offset"), c.onset_pos_weight))
            loss = loss + c.onset_loss_weight * bce(drum_onset, drum_t, c.drum_pos_weight)
            # velocity only where a note starts (as in Onsets and Frames)
            loss = loss + (on_t * (torch.sigmoid(velocity) - part("velocity")) ** 2).sum() / on_t.sum().clamp(min=1)
            loss = loss + (drum_t * (torch.sigmoid(drum_velocity) - part("drum_velocity")) ** 2).sum() / drum_t.sum().clamp(min=1)
            fam_t = part("family").long()
            if (fam_t >= 0).any():
                loss = loss + 0.5 * F.cross_entropy(family.reshape(-1, family.shape[-1]), fam_t.reshape(-1), ignore_index=-1)
            return loss

    return DubTranscriberForNoteTranscription, TranscriptionOutput


DubTranscriberConfig = _config_class()
DubTranscriberForNoteTranscription, TranscriptionOutput = _model_classes(DubTranscriberConfig)

SIZES = {  # name: conv channels, d_model, layers, heads
    "tiny": (8, 64, 1, 2),
    "small": (16, 160, 2, 4),
    "base": (32, 384, 6, 8),
}


def build_transcriber(size: str = "small", seed: int = 0, **overrides) -> DubTranscriberForNoteTranscription:
    import torch

    if size not in SIZES:
        raise ValueError(f"unknown transcriber size {size!r}: choose from {', '.join(SIZES)}")
    c, d, layers, heads = SIZES[size]
    torch.manual_seed(seed)
    config = DubTranscriberConfig(conv_channels=c, d_model=d, num_layers=layers, num_heads=heads, **overrides)
    config.dub_task = "transcription"
    return DubTranscriberForNoteTranscription(config)


def register() -> None:
    from transformers import AutoConfig, AutoModel

    try:
        AutoConfig.register("dub-transcriber", DubTranscriberConfig)
        AutoModel.register(DubTranscriberConfig, DubTranscriberForNoteTranscription)
    except ValueError:  # already registered
        pass
