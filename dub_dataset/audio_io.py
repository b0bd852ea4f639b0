"""Reading any common audio file at a chosen rate (mono), and FLAC encoding for the dataset.

Decoding goes through torchcodec (FFmpeg): wav, flac, mp3, ogg, m4a..., any rate, any channel
count, resampled and mixed down by FFmpeg. Every failure names the file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .constants import SAMPLE_RATE


class AudioError(ValueError):
    """An audio file is missing, empty, unreadable or not audio."""


def _decoder(source, sample_rate: int | None, name: str):
    try:
        from torchcodec.decoders import AudioDecoder
    except (ImportError, RuntimeError, OSError) as e:
        raise AudioError(f"{name}: cannot decode audio: torchcodec/FFmpeg unavailable ({e}); "
                         "run scripts/setup.sh (installs ffmpeg and torchcodec==0.13.0)") from e
    try:
        return AudioDecoder(source, sample_rate=sample_rate, num_channels=1)
    except Exception as e:  # torchcodec raises ValueError/RuntimeError with FFmpeg's message
        raise AudioError(f"{name}: not a readable audio file ({str(e).splitlines()[0][:200]})") from e


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: file not found")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    return p


def audio_duration_s(path: str | os.PathLike) -> float:
    """Duration from the container's metadata (no full decode); 0.0 when unknown."""
    p = _check_path(path)
    meta = _decoder(str(p), None, str(p)).metadata
    return float(meta.duration_seconds_from_header or meta.duration_seconds or 0.0)


def load_audio(path: str | os.PathLike | bytes, sample_rate: int = SAMPLE_RATE,
               start_s: float | None = None, stop_s: float | None = None) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``; optionally only [start_s, stop_s)."""
    if isinstance(path, (bytes, bytearray)):
        if not path:
            raise AudioError("<bytes>: empty audio data")
        source, name = bytes(path), "<bytes>"
    else:
        p = _check_path(path)
        source, name = str(p), str(p)
    dec = _decoder(source, sample_rate, name)
    try:
        if start_s is None and stop_s is None:
            samples = dec.get_all_samples()
        else:
            samples = dec.get_samples_played_in_range(start_s or 0.0, stop_s)
    except Exception as e:
        raise AudioError(f"{name}: audio data is corrupt or truncated ({str(e).splitlines()[0][:200]})") from e
    x = samples.data.numpy()
    return np.ascontiguousarray(x.mean(axis=0) if x.ndim == 2 else x, dtype=np.float32)


def encode_flac(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit FLAC bytes (deterministic: the same samples give the same bytes)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32, rate) from encoded bytes (FLAC/WAV/OGG), without resampling."""
    import soundfile as sf

    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return x.mean(axis=1), sr


class AudioReader:
    """Reads a file window by window (flat memory for any length): mono float32 at ``sample_rate``.

    ``read_samples(start, stop)`` returns samples [start, stop), fewer at the end of the audio.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE):
        p = _check_path(path)
        self.name, self.sample_rate = str(p), sample_rate
        self.decoder = _decoder(str(p), sample_rate, self.name)
        self.samples_read = 0

    def read_samples(self, start: int, stop: int) -> np.ndarray:
        sr = self.sample_rate
        try:
            samples = self.decoder.get_samples_played_in_range(start / sr, stop / sr)
        except Exception as e:
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            if "no audio frames were decoded" in str(e).lower():  # start is past the end
                return np.zeros(0, np.float32)
            raise AudioError(f"{self.name}: audio data is corrupt or truncated ({msg})") from e
        x = samples.data.numpy()
        x = np.ascontiguousarray(x.mean(axis=0) if x.ndim == 2 else x, dtype=np.float32)
        # compressed frames need not start at ``start``: place the samples by their timestamp
        lead = int(round((float(samples.pts_seconds) - start / sr) * sr))
        x = np.concatenate([np.zeros(lead, np.float32), x]) if lead > 0 else x[-lead:]
        x = x[:max(0, stop - start)]
        self.samples_read = max(self.samples_read, start + len(x))
        return x
