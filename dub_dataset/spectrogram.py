"""Spectrograms: DFT magnitude with Hamming or Dolph-Chebyshev windows, a peak spectrum,
and the log-mel features the models use. Arrays in, arrays out; one implementation of each,
shared by the dataset images and by dub_models.

Shapes are (frequency, frames), frames centred every ``HOP`` samples (``FRAMES_PER_S`` a second).
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np

from .constants import (
    DOLPH_ATTENUATION_DB, HOP, IMAGE_DYNAMIC_RANGE_DB, IMAGE_KINDS, MEL_FMIN_HZ, N_FFT, N_MELS,
    PEAK_IMAGE_HEIGHT, SAMPLE_RATE, WIN_LENGTH,
)

WINDOWS = ("hamming", "dolph", "hann")
_EPS = 1e-10


@lru_cache(maxsize=16)
def window(kind: str, length: int = N_FFT) -> np.ndarray:
    """Periodic analysis window of ``length`` samples, zero-padded to N_FFT when shorter."""
    import scipy.signal.windows as w

    if kind == "hamming":
        win = w.hamming(length, sym=False)
    elif kind == "dolph":
        win = w.chebwin(length, at=DOLPH_ATTENUATION_DB, sym=False)
    elif kind == "hann":
        win = w.hann(length, sym=False)
    else:
        raise ValueError(f"unknown window {kind!r}: choose from {', '.join(WINDOWS)}")
    pad = N_FFT - length
    return np.pad(win, (pad // 2, pad - pad // 2)).astype(np.float32) if pad > 0 else win.astype(np.float32)


def frames(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Centred frames (n_frames, n_fft), zero padding at both ends: frame t is centred on t * hop."""
    x = np.pad(np.asarray(audio, dtype=np.float32), (n_fft // 2, n_fft // 2))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]


def stft_magnitude(audio: np.ndarray, kind: str = "hamming", win_length: int = N_FFT) -> np.ndarray:
    """|DFT| of windowed frames, shape (N_FFT // 2 + 1, n_frames), float32."""
    import scipy.fft

    spec = scipy.fft.rfft(frames(audio) * window(kind, win_length), axis=1)  # float32 in, complex64 out
    return np.abs(spec).T


def amplitude_db(mag: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(mag, _EPS))


def peak_spectrum_db(audio: np.ndarray, kind: str = "hamming") -> np.ndarray:
    """Peak-hold magnitude per DFT bin over the whole clip, in dB, shape (N_FFT // 2 + 1,)."""
    return amplitude_db(stft_magnitude(audio, kind).max(axis=1))


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS, n_fft: int = N_FFT,
                   fmin_hz: float = MEL_FMIN_HZ) -> np.ndarray:
    """Triangular HTK-mel filters, shape (n_mels, n_fft // 2 + 1), each peaking at 1."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(sample_rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    # Below ~300 Hz mel filters are narrower than a DFT bin: widen each triangle to reach at least
    # the neighbouring bin on each side, so that no mel channel is empty.
    df = sample_rate / n_fft
    lower, upper = np.minimum(lower, centre - df), np.maximum(upper, centre + df)
    fb = np.maximum(0.0, np.minimum((bins - lower) / (centre - lower), (upper - bins) / (upper - centre)))
    return fb.astype(np.float32)


@lru_cache(maxsize=8)
def _mel_sparse(sample_rate: int, n_mels: int):
    """The filterbank as a sparse matrix: each filter covers a few bins, and a sparse product sums
    in a fixed order (a BLAS product's order, and so its last bits, changes with its thread count)."""
    import scipy.sparse

    return scipy.sparse.csr_matrix(mel_filterbank(sample_rate, n_mels))


def log_mel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS) -> np.ndarray:
    """Natural log of mel power, shape (n_mels, n_frames), float32: the models' input features.

    25 ms Hann window (WIN_LENGTH), 10 ms hop, N_FFT-point DFT, HTK mel from MEL_FMIN_HZ to Nyquist.
    """
    power = stft_magnitude(audio, "hann", WIN_LENGTH) ** 2
    return np.log(_mel_sparse(sample_rate, n_mels) @ power + _EPS).astype(np.float32)


def _to_uint8(db: np.ndarray) -> np.ndarray:
    top = float(db.max()) if db.size else 0.0
    scaled = (db - (top - IMAGE_DYNAMIC_RANGE_DB)) / IMAGE_DYNAMIC_RANGE_DB
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def images(audio: np.ndarray, kinds: tuple[str, ...], sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """uint8 greyscale pictures of ``audio``, one per kind: low frequencies at the bottom, time to
    the right (for ``peak``: frequency to the right, a bar per DFT bin, louder = taller).
    The Hamming DFT is computed once for both the ``hamming`` and ``peak`` pictures."""
    out, mags = {}, {}

    def mag(window_kind):
        if window_kind not in mags:
            mags[window_kind] = stft_magnitude(audio, window_kind)
        return mags[window_kind]

    for kind in kinds:
        if kind in ("hamming", "dolph"):
            out[kind] = _to_uint8(amplitude_db(mag(kind)))[::-1]
        elif kind == "logmel":
            out[kind] = _to_uint8(log_mel(audio, sample_rate) * (10.0 / np.log(10.0)))[::-1]
        elif kind == "peak":
            peak_db = amplitude_db(mag("hamming").max(axis=1))
            heights = _to_uint8(peak_db).astype(np.int32) * PEAK_IMAGE_HEIGHT // 255
            rows = np.arange(PEAK_IMAGE_HEIGHT)[::-1, None]  # row 0 is the top of the picture
            out[kind] = np.where(rows < heights[None, :], 255, 0).astype(np.uint8)
        else:
            raise ValueError(f"unknown spectrogram kind {kind!r}: choose from {', '.join(IMAGE_KINDS)}")
    return out


def image(audio: np.ndarray, kind: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One picture of ``audio`` (see ``images``)."""
    return images(audio, (kind,), sample_rate)[kind]


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
