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

AST_RATE = 16000  # the only rate at which ASTFeatureExtractor's numpy path frames in 25 ms / 10 ms
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # float32 epsilon, the extractor's floor before the log


def framing(sample_rate: int = AST_RATE) -> tuple[int, int, int]:
    """(frame, hop, FFT length) in samples: Kaldi's 25 ms frames every 10 ms at any rate (400, 160,
    512 at 16 kHz), so a clip gives the same number of frames, and a model the same input shape,
    whatever the rate; the mel bins then span up to the rate's Nyquist frequency."""
    frame, hop = round(0.025 * sample_rate), round(0.010 * sample_rate)
    return frame, hop, 1 << (frame - 1).bit_length()


def pad_to_frames(x: np.ndarray, max_length: int, sample_rate: int = AST_RATE) -> np.ndarray:
    """``x`` with silence appended so that it spans ``max_length`` feature frames (at least one)."""
    frame, hop, _ = framing(sample_rate)
    need = frame + (max(1, max_length) - 1) * hop
    return np.pad(x, (0, need - len(x))) if len(x) < need else x


class DubFeatureExtractor(ASTFeatureExtractor):
    """``ASTFeatureExtractor`` that pads a short clip with silence (in the waveform) rather than with
    log-mel zeros, so a short file reads as what the models were trained on: the sound, then quiet.
    At rates other than 16 kHz it frames as Kaldi does (``framing``: 25 ms every 10 ms, mel bins up
    to Nyquist), where transformers' numpy path would keep 16 kHz's sample counts.
    Same config keys; ``import dub_models`` registers the name for ``AutoFeatureExtractor``."""

    def __init__(self, *args, **kwargs):
        import warnings

        with warnings.catch_warnings():  # AST's 128 bins over 257 FFT bins leave its lowest filters empty, as in Kaldi
            warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
            super().__init__(*args, **kwargs)
        if self.sampling_rate != AST_RATE and getattr(self, "mel_filters", None) is not None:
            from transformers.audio_utils import mel_filter_bank

            _, _, n_fft = framing(self.sampling_rate)
            self.mel_filters = mel_filter_bank(
                num_frequency_bins=n_fft // 2 + 1, num_mel_filters=self.num_mel_bins, min_frequency=20,
                max_frequency=self.sampling_rate // 2, sampling_rate=self.sampling_rate, norm=None,
                mel_scale="kaldi", triangularize_in_mel_space=True)

    def _extract_fbank_features(self, waveform: np.ndarray, max_length: int) -> np.ndarray:
        x = np.asarray(waveform).reshape(-1)
        if self.sampling_rate != AST_RATE and getattr(self, "mel_filters", None) is not None:
            saved, self.max_length = self.max_length, max_length
            try:
                return log_mel_batch([x], self, normalize=False)[0]
            finally:
                self.max_length = saved
        return super()._extract_fbank_features(pad_to_frames(x, max_length), max_length)


def save_feature_extractor(fe, out, model_type: str) -> None:
    """Save ``fe`` beside a model. Under its own name for dub's CNN (which needs ``import dub_models``
    anyway); under ``ASTFeatureExtractor``'s for 16 kHz AST models, so plain transformers loads them with no
    dub import (short clips then padded AST's way; ``dub classify`` and ``dub evaluate`` load
    ``DubFeatureExtractor`` from any such folder). At other rates AST's own extractor would frame
    wrongly, so the folder names dub's."""
    if model_type != "dub-cnn" and fe.sampling_rate == AST_RATE:
        d = fe.to_dict()
        d.pop("feature_extractor_type", None)
        fe = ASTFeatureExtractor(**d)
    fe.save_pretrained(out)


def _window(frame: int) -> np.ndarray:
    n = np.arange(frame)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / (frame - 1))).astype(np.float32)  # symmetric Hann


def log_mel_batch(audio: list[np.ndarray], fe, normalize: bool | None = None) -> np.ndarray:
    """``fe(audio, return_tensors="np")["input_values"]`` for an ``ASTFeatureExtractor`` ``fe``:
    float32 [clips, fe.max_length, fe.num_mel_bins]. ``normalize``: None follows ``fe.do_normalize``."""
    import scipy.fft

    mel = getattr(fe, "mel_filters", None)  # [257, mels]; absent where torchaudio computes the features
    if mel is None:
        return fe(audio, sampling_rate=fe.sampling_rate, return_tensors="np")["input_values"].astype(np.float32)
    mel = np.asarray(mel, dtype=np.float32)
    frame, hop, n_fft = framing(fe.sampling_rate)
    if mel.shape[0] != n_fft // 2 + 1:
        raise ValueError(f"{type(fe).__name__} at {fe.sampling_rate} Hz has mel filters for {mel.shape[0]} FFT bins, "
                         f"not {n_fft // 2 + 1}: use DubFeatureExtractor for rates other than {AST_RATE} Hz")
    window = _window(frame)
    out = np.zeros((len(audio), fe.max_length, mel.shape[1]), dtype=np.float32)
    for i, clip in enumerate(audio):
        x = pad_to_frames(np.asarray(clip, dtype=np.float32).reshape(-1), fe.max_length, fe.sampling_rate)
        n_frames = min(fe.max_length, 1 + (len(x) - frame) // hop)
        frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop][:n_frames]
        frames = frames - frames.mean(axis=1, keepdims=True)  # a copy: the pre-emphasis below is in place
        frames[:, 1:] -= PREEMPHASIS * frames[:, :-1]  # numpy evaluates the right side first
        frames[:, 0] *= 1 - PREEMPHASIS
        spec = scipy.fft.rfft(frames * window, n=n_fft, axis=1)
        out[i, :n_frames] = np.log(np.maximum(MEL_FLOOR, (spec.real ** 2 + spec.imag ** 2) @ mel))
    if fe.do_normalize if normalize is None else normalize:
        out = (out - fe.mean) / (2 * fe.std)
    return out
