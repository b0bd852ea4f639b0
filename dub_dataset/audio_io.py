"""Reading any common audio file at a chosen rate (mono), and FLAC encoding for the dataset.

Decoding goes through torchcodec (FFmpeg): wav, flac, mp3, ogg, m4a..., any rate, any channel
count, resampled and mixed down by FFmpeg; GUS patches (.pat, FreePats) are read by ``gus`` first.
Every failure names the file.
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


def _read(dec, name: str, start_s: float | None = None, stop_s: float | None = None) -> np.ndarray:
    """Mono float32 samples of the whole stream, or of [start_s, stop_s) placed by their timestamp
    (a compressed stream's frames need not start at ``start_s``); empty past the end."""
    try:
        if start_s is None and stop_s is None:
            samples = dec.get_all_samples()
        else:
            samples = dec.get_samples_played_in_range(start_s or 0.0, stop_s)
    except Exception as e:
        if start_s and "no audio frames were decoded" in str(e).lower():  # start is past the end
            return np.zeros(0, np.float32)
        raise AudioError(f"{name}: audio data is corrupt or truncated ({str(e).splitlines()[0][:200]})") from e
    x = samples.data.numpy()
    x = np.ascontiguousarray(x.mean(axis=0) if x.ndim == 2 else x, dtype=np.float32)
    if start_s is None and stop_s is None:
        return x
    sr = samples.sample_rate
    lead = int(round((float(samples.pts_seconds) - (start_s or 0.0)) * sr))
    x = np.concatenate([np.zeros(lead, np.float32), x]) if lead > 0 else x[-lead:]
    return x if stop_s is None else x[:max(0, int(round((stop_s - (start_s or 0.0)) * sr)))]


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
        if p.suffix.lower() == ".pat":  # a GUS patch (FreePats): FFmpeg does not read it
            from .gus import PatchError, patch_wav_bytes

            try:
                source = patch_wav_bytes(p)
            except PatchError as e:
                raise AudioError(str(e)) from e
    return _read(_decoder(source, sample_rate, name), name, start_s, stop_s)


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


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``x`` at ``to_rate``: polyphase resampling (scipy's anti-aliasing FIR); ``x`` itself when the rates match."""
    if from_rate == to_rate:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(from_rate), int(to_rate))
    return resample_poly(x, int(to_rate) // g, int(from_rate) // g).astype(np.float32)


class AudioReader:
    """Reads a file window by window (flat memory for any length): mono float32 at ``sample_rate``.

    ``read_samples(start, stop)`` returns samples [start, stop), fewer at the end of the audio.
    Forward reads stream from one FFmpeg process (decoding is linear in the file's length;
    range reads through torchcodec re-scan an mp3 from its start each time); only the samples
    from the latest ``start`` on are kept. A read before that falls back to a range read.
    """

    CHUNK = 1 << 16  # samples per pipe read
    IN_MEMORY_S = 120.0  # files this short are decoded at once

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE):
        p = _check_path(path)
        self.name, self.sample_rate = str(p), sample_rate
        self.decoder = _decoder(str(p), sample_rate, self.name)  # checks that it is audio, names it if not
        self.samples_read = 0
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0
        self._proc = None
        self._eof = False
        meta = self.decoder.metadata
        if (meta.duration_seconds_from_header or meta.duration_seconds or 1e9) <= self.IN_MEMORY_S:
            # short files: one decode in memory, no FFmpeg process to start
            self._buf = _read(self.decoder, self.name)
            self._eof = True

    def _start(self):
        import shutil
        import subprocess

        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise AudioError(f"{self.name}: ffmpeg not found (run scripts/setup.sh)")
        self._proc = subprocess.Popen([ffmpeg, "-nostdin", "-v", "error", "-i", self.name, "-map", "0:a:0", "-f", "f32le",
                                       "-ac", "1", "-ar", str(self.sample_rate), "-"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _fill(self, stop: int) -> None:
        if self._eof:
            return
        if self._proc is None:
            self._start()
        parts, end = [self._buf], self._buf_start + len(self._buf)
        while end < stop and not self._eof:
            data = self._proc.stdout.read(self.CHUNK * 4)
            if not data:
                self._eof = True
                err = self._proc.stderr.read().decode(errors="replace").strip()
                if self._proc.wait() != 0 and end == 0:
                    raise AudioError(f"{self.name}: audio data is corrupt or truncated ({err.splitlines()[0][:200] if err else 'ffmpeg failed'})")
                break
            chunk = np.frombuffer(data[:len(data) // 4 * 4], np.float32)
            parts.append(chunk)
            end += len(chunk)
        self._buf = np.concatenate(parts) if len(parts) > 1 else self._buf

    def _range_read(self, start: int, stop: int) -> np.ndarray:
        return _read(self.decoder, self.name, start / self.sample_rate, stop / self.sample_rate)[:max(0, stop - start)]

    def read_samples(self, start: int, stop: int) -> np.ndarray:
        if start < self._buf_start:
            x = self._range_read(start, stop)
        else:
            self._fill(stop)
            drop = start - self._buf_start
            self._buf, self._buf_start = self._buf[drop:], start  # keep from ``start`` on
            x = self._buf[:max(0, stop - start)].copy()
        self.samples_read = max(self.samples_read, start + len(x))
        return x

    def close(self) -> None:
        proc = getattr(self, "_proc", None)  # (also called on a reader whose file failed to open)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __del__(self):
        self.close()
