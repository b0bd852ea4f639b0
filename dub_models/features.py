"""The classifiers' log-mel features, batched: what ``ASTFeatureExtractor`` computes, many clips at once.

``ASTFeatureExtractor`` (transformers' numpy path, used where torchaudio is absent, as here) frames,
windows and transforms one frame at a time in float64; featurising a 100k-example dataset took longer
than a training epoch. ``log_mel_batch`` (2.8x its speed in ``scripts/bench_train.py``)
does the same arithmetic (Kaldi-style framing: 25 ms frames every 10 ms, no centring, per-frame DC
removal, pre-emphasis 0.97, Hann window, 512-point power spectrum, the extractor's own mel filters,
natural log with its floor, padded with silence or cut to ``max_length`` frames) on a whole batch of frames
with one float32 FFT. The trainer and ``dub evaluate`` use it; ``pipeline`` and ``dub classify`` keep
the extractor itself, and a test holds the two to the same features.

Clips shorter than the model's clip are padded with silence (``DubFeatureExtractor``).
``ASTFeatureExtractor`` pads the log-mel with zeros instead, and a log-mel of 0 is loud (silence is
log(1.2e-7) = -15.9; the training clips' mean is about -12): a 1.5 s drum one-shot then reads as a hit
followed by a steady roar. The models never saw such frames (every training clip is full length), and
on 800 held-out drum clips cut to 0.5-1.5 s the shipped drums model scored 0.58-0.63 with the zero
log-mel padding against 0.78-0.79 with silence (0.79 on the full clips).
"""

from __future__ import annotations

import numpy as np
from transformers import ASTFeatureExtractor

FRAME_LENGTH = 400  # samples: 25 ms at 16 kHz (ASTFeatureExtractor's framing)
HOP_LENGTH = 160  # samples: 10 ms
FFT_LENGTH = 512
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # float32 epsilon, the extractor's floor before the log


def pad_to_frames(x: np.ndarray, max_length: int) -> np.ndarray:
    """``x`` with silence appended so that it spans ``max_length`` feature frames (at least one)."""
    need = FRAME_LENGTH + (max(1, max_length) - 1) * HOP_LENGTH
    return np.pad(x, (0, need - len(x))) if len(x) < need else x


class DubFeatureExtractor(ASTFeatureExtractor):
    """``ASTFeatureExtractor`` that pads a short clip with silence (in the waveform) rather than with
    log-mel zeros, so a short file reads as what the models were trained on: the sound, then quiet.
    Same config keys; ``import dub_models`` registers the name for ``AutoFeatureExtractor``."""

    def _extract_fbank_features(self, waveform: np.ndarray, max_length: int) -> np.ndarray:
        return super()._extract_fbank_features(pad_to_frames(np.asarray(waveform).reshape(-1), max_length), max_length)


def save_feature_extractor(fe, out, model_type: str) -> None:
    """Save ``fe`` beside a model. Under its own name for dub's CNN (which needs ``import dub_models``
    anyway); under ``ASTFeatureExtractor``'s for AST models, so plain transformers loads them with no
    dub import (short clips then padded AST's way; ``dub classify`` and ``dub evaluate`` load
    ``DubFeatureExtractor`` from any such folder)."""
    if model_type != "dub-cnn":
        d = fe.to_dict()
        d.pop("feature_extractor_type", None)
        fe = ASTFeatureExtractor(**d)
    fe.save_pretrained(out)


def _window() -> np.ndarray:
    n = np.arange(FRAME_LENGTH)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME_LENGTH - 1))).astype(np.float32)  # symmetric Hann


def log_mel_batch(audio: list[np.ndarray], fe, normalize: bool | None = None) -> np.ndarray:
    """``fe(audio, return_tensors="np")["input_values"]`` for an ``ASTFeatureExtractor`` ``fe``:
    float32 [clips, fe.max_length, fe.num_mel_bins]. ``normalize``: None follows ``fe.do_normalize``."""
    import scipy.fft

    mel = getattr(fe, "mel_filters", None)  # [257, mels]; absent where torchaudio computes the features
    if mel is None:
        return fe(audio, sampling_rate=fe.sampling_rate, return_tensors="np")["input_values"].astype(np.float32)
    mel = np.asarray(mel, dtype=np.float32)
    window = _window()
    out = np.zeros((len(audio), fe.max_length, mel.shape[1]), dtype=np.float32)
    for i, clip in enumerate(audio):
        x = pad_to_frames(np.asarray(clip, dtype=np.float32).reshape(-1), fe.max_length)
        n_frames = min(fe.max_length, 1 + (len(x) - FRAME_LENGTH) // HOP_LENGTH)
        frames = np.lib.stride_tricks.sliding_window_view(x, FRAME_LENGTH)[::HOP_LENGTH][:n_frames]
        frames = frames - frames.mean(axis=1, keepdims=True)  # a copy: the pre-emphasis below is in place
        frames[:, 1:] -= PREEMPHASIS * frames[:, :-1]  # numpy evaluates the right side first
        frames[:, 0] *= 1 - PREEMPHASIS
        spec = scipy.fft.rfft(frames * window, n=FFT_LENGTH, axis=1)
        out[i, :n_frames] = np.log(np.maximum(MEL_FLOOR, (spec.real ** 2 + spec.imag ** 2) @ mel))
    if fe.do_normalize if normalize is None else normalize:
        out = (out - fe.mean) / (2 * fe.std)
    return out
