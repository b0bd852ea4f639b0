"""Gravis UltraSound patches (``.pat``): the format of FreePats, TiMidity's default sound set.

A patch file holds one instrument with one or more sampled waves, each with its rate, root
frequency and key range. dub reads them as one-shot recordings for drum kits: it plays the wave
straight through, as TiMidity does for percussion (it strips loops and envelopes from drum
patches unless told to keep them). Layout: a 129-byte file header, a 63-byte instrument header
and a 47-byte layer header, then each wave as a 96-byte header followed by its samples.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

MAGIC = (b"GF1PATCH110\x00", b"GF1PATCH100\x00")
FIRST_WAVE = 129 + 63 + 47
WAVE_HEADER = 96
MODE_16BIT, MODE_UNSIGNED = 1, 2


class PatchError(ValueError):
    """A file is not a readable GUS patch."""


def read_patch(path: str | Path, key: int | None = None) -> tuple[np.ndarray, int]:
    """(float32 mono samples in [-1, 1], sample rate) of a patch's wave.

    With several waves, the one whose key range holds MIDI ``key`` (default: the first wave).
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:12] not in MAGIC:
        raise PatchError(f"{path}: not a GUS patch (no GF1PATCH header)")
    if len(data) < FIRST_WAVE + WAVE_HEADER:
        raise PatchError(f"{path}: truncated GUS patch ({len(data)} bytes)")
    n_waves = struct.unpack_from("<H", data, 85)[0]
    want = None if key is None else 440.0 * 2 ** ((key - 69) / 12) * 1000  # patch frequencies are in mHz
    off, waves = FIRST_WAVE, []
    for _ in range(max(1, n_waves)):
        if off + WAVE_HEADER > len(data):
            break
        size, = struct.unpack_from("<I", data, off + 8)
        rate, low, high = struct.unpack_from("<HII", data, off + 20)
        mode = data[off + 55]
        raw = data[off + WAVE_HEADER:off + WAVE_HEADER + size]
        if len(raw) < size:
            raise PatchError(f"{path}: truncated wave data ({len(raw)} of {size} bytes)")
        waves.append((raw, rate, low, high, mode))
        off += WAVE_HEADER + size
    if not waves:
        raise PatchError(f"{path}: GUS patch holds no wave")
    chosen = waves[0]
    if want is not None:
        chosen = next((w for w in waves if w[2] <= want <= w[3]), chosen)
    raw, rate, _, _, mode = chosen
    if mode & MODE_16BIT:
        x = np.frombuffer(raw[:len(raw) // 2 * 2], dtype=np.uint16 if mode & MODE_UNSIGNED else np.int16)
        x = (x.astype(np.float32) - (32768 if mode & MODE_UNSIGNED else 0)) / 32768.0
    else:
        x = np.frombuffer(raw, dtype=np.uint8 if mode & MODE_UNSIGNED else np.int8)
        x = (x.astype(np.float32) - (128 if mode & MODE_UNSIGNED else 0)) / 128.0
    if rate <= 0 or x.size == 0:
        raise PatchError(f"{path}: empty wave or zero sample rate")
    return x, int(rate)


def patch_wav_bytes(path: str | Path, key: int | None = None) -> bytes:
    """The patch's wave as WAV bytes (so any audio reader can decode and resample it)."""
    import soundfile as sf

    x, rate = read_patch(path, key)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()
