"""Gravis UltraSound patches (``.pat``): the format of FreePats, TiMidity's default sound set.

A patch file holds one instrument with one or more sampled waves, each with its rate, root
frequency and key range. dub reads drum patches as one-shot recordings: it plays the wave
straight through, as TiMidity does for percussion (it strips loops and envelopes from drum
patches unless told to keep them). Melodic patch sets convert to a SoundFont
(``gus_to_soundfont``, ``dub gus2sf2``) that both render engines play: each wave a zone with its
key range, root key, loop and envelope. The conversion keeps each patch's own tuning (the two
lowest waves of FreePats' oboe sound an octave above the root they state; TiMidity plays them so
too). Layout: a 129-byte file header, a 63-byte instrument header and a 47-byte layer header, then
each wave as a 96-byte header followed by its samples.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = (b"GF1PATCH110\x00", b"GF1PATCH100\x00")
FIRST_WAVE = 129 + 63 + 47
WAVE_HEADER = 96
# Wave mode bits
MODE_16BIT, MODE_UNSIGNED, MODE_LOOP, MODE_PINGPONG, MODE_REVERSE, MODE_SUSTAIN, MODE_ENVELOPE = 1, 2, 4, 8, 16, 32, 64


class PatchError(ValueError):
    """A file is not a readable GUS patch."""


@dataclass(frozen=True)
class Wave:
    """One sampled wave of a patch, as its 96-byte header describes it.

    Frequencies are in Hz (the file stores mHz), loop points in samples, ``envelope`` the six
    (rate, offset) stages GUS hardware ran (offsets 0-255 on its logarithmic volume scale).
    """

    samples: np.ndarray  # float32 mono in [-1, 1]
    rate: int
    low_hz: float
    high_hz: float
    root_hz: float
    loop: tuple[int, int] | None  # [start, end) in samples, when the wave loops
    pingpong: bool
    sustain: bool  # the envelope holds at its third stage while the key is down
    envelope: tuple[tuple[int, int], ...] | None  # None: no envelope (constant volume)
    scale_factor: int  # keyboard tracking, 1024 = a semitone a key


def read_waves(path: str | Path) -> list[Wave]:
    """Every wave of a GUS patch file, in file order."""
    path = Path(path)
    data = path.read_bytes()
    if data[:12] not in MAGIC:
        raise PatchError(f"{path}: not a GUS patch (no GF1PATCH header)")
    if len(data) < FIRST_WAVE + WAVE_HEADER:
        raise PatchError(f"{path}: truncated GUS patch ({len(data)} bytes)")
    n_waves = struct.unpack_from("<H", data, 85)[0]
    off, waves = FIRST_WAVE, []
    for _ in range(max(1, n_waves)):
        if off + WAVE_HEADER > len(data):
            break
        size, loop_start, loop_end = struct.unpack_from("<III", data, off + 8)
        rate, low, high, root = struct.unpack_from("<HIII", data, off + 20)
        rates, offsets = data[off + 37:off + 43], data[off + 43:off + 49]
        mode = data[off + 55]
        scale_factor, = struct.unpack_from("<H", data, off + 58)
        raw = data[off + WAVE_HEADER:off + WAVE_HEADER + size]
        if len(raw) < size:
            raise PatchError(f"{path}: truncated wave data ({len(raw)} of {size} bytes)")
        off += WAVE_HEADER + size
        if mode & MODE_16BIT:
            x = np.frombuffer(raw[:len(raw) // 2 * 2], dtype=np.uint16 if mode & MODE_UNSIGNED else np.int16)
            x = (x.astype(np.float32) - (32768 if mode & MODE_UNSIGNED else 0)) / 32768.0
            width = 2
        else:
            x = np.frombuffer(raw, dtype=np.uint8 if mode & MODE_UNSIGNED else np.int8)
            x = (x.astype(np.float32) - (128 if mode & MODE_UNSIGNED else 0)) / 128.0
            width = 1
        if rate <= 0 or x.size == 0:
            raise PatchError(f"{path}: empty wave or zero sample rate")
        loop = (loop_start // width, loop_end // width)
        if mode & MODE_REVERSE:
            x, loop = x[::-1].copy(), (x.size - loop[1], x.size - loop[0])
        looped = bool(mode & MODE_LOOP) and 0 <= loop[0] < loop[1] <= x.size
        waves.append(Wave(
            samples=x, rate=int(rate), low_hz=low / 1000, high_hz=high / 1000, root_hz=root / 1000,
            loop=loop if looped else None, pingpong=looped and bool(mode & MODE_PINGPONG),
            sustain=bool(mode & MODE_SUSTAIN),
            envelope=tuple(zip(rates, offsets)) if mode & MODE_ENVELOPE else None,
            scale_factor=int(scale_factor)))
    if not waves:
        raise PatchError(f"{path}: GUS patch holds no wave")
    return waves


def read_patch(path: str | Path, key: int | None = None) -> tuple[np.ndarray, int]:
    """(float32 mono samples in [-1, 1], sample rate) of a patch's wave.

    With several waves, the one whose key range holds MIDI ``key`` (default: the first wave).
    """
    waves = read_waves(path)
    chosen = waves[0]
    if key is not None:
        want = _hz(key)
        chosen = next((w for w in waves if w.low_hz <= want <= w.high_hz), chosen)
    return chosen.samples, chosen.rate


def patch_wav_bytes(path: str | Path, key: int | None = None) -> bytes:
    """The patch's wave as WAV bytes (so any audio reader can decode and resample it)."""
    import soundfile as sf

    x, rate = read_patch(path, key)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


# GUS envelopes, as TiMidity plays them: a stage moves the volume by its offset difference at its
# rate, whose top two bits scale its low six by 8**(3 - range); one offset step is taken as 0.375
# dB (a logarithmic volume, 255 steps over 96 dB).
ENVELOPE_S_PER_STEP = 8192 / 44100  # seconds per offset step at rate 1
DB_PER_STEP = 96 / 256
RELEASE_S = 0.05  # release of waves with no envelope stage for it (a click-free stop)


def _stage_s(rate: int, steps: int) -> float:
    r = (rate & 63) << (3 * (3 - (rate >> 6)))
    return 100.0 if r == 0 else abs(steps) * ENVELOPE_S_PER_STEP / r


def _envelope_generators(w: Wave) -> dict[int, int]:
    """SoundFont volume-envelope generators for a wave's GUS envelope."""
    from .sf2write import (GEN_ATTACK_VOL, GEN_DECAY_VOL, GEN_RELEASE_VOL, GEN_SUSTAIN_VOL,
                           timecents)

    if w.envelope is None:
        return {GEN_RELEASE_VOL: timecents(RELEASE_S)}
    levels, times, prev = [], [], 0
    for rate, offset in w.envelope:
        times.append(_stage_s(rate, offset - prev))
        levels.append(offset)
        prev = offset
    peak = max(levels[0], 1)

    def cb(level: int) -> int:  # attenuation below the peak, in centibels
        return int(round(max(0, peak - level) * DB_PER_STEP * 10))

    def per_100db(seconds: float, drop_cb: int) -> int:  # SoundFont times are for a 100 dB ramp
        return timecents(seconds * 1000 / max(drop_cb, 1))

    held = 3 if w.sustain else 6  # stages run while the key is down
    sustain = cb(levels[held - 1])
    gens = {GEN_ATTACK_VOL: timecents(times[0]),
            GEN_DECAY_VOL: per_100db(sum(times[1:held]), sustain), GEN_SUSTAIN_VOL: sustain}
    if w.sustain:
        gens[GEN_RELEASE_VOL] = per_100db(sum(times[3:]), cb(levels[5]) - sustain)
    else:
        gens[GEN_RELEASE_VOL] = timecents(RELEASE_S)
    return gens


def _key(hz: float) -> float:
    """The MIDI key (fractional) of a frequency."""
    return 69 + 12 * math.log2(hz / 440.0)


def _hz(key: float) -> float:
    return 440.0 * 2 ** ((key - 69) / 12)


def wave_zones(waves: list[Wave], name: str) -> list:
    """SoundFont zones for a patch's waves: key ranges split where each wave's range starts."""
    from .sf2write import GEN_SCALE_TUNING, Zone

    waves = sorted(waves, key=lambda w: w.low_hz)
    starts = [0] + [min(127, max(0, math.ceil(_key(max(w.low_hz, 1.0)) - 1e-6))) for w in waves[1:]]
    zones = []
    for i, w in enumerate(waves):
        lo, hi = starts[i], (starts[i + 1] - 1 if i + 1 < len(waves) else 127)
        if lo > hi:
            continue  # narrower than a key: the next wave covers it
        x, loop = w.samples, w.loop
        if loop and w.pingpong:  # SoundFonts loop forward only: unroll the back-and-forth
            seg = x[loop[0]:loop[1]]
            x = np.concatenate([x[:loop[1]], seg[::-1], x[loop[1]:]])
            loop = (loop[0], loop[1] + seg.size)
        exact = _key(w.root_hz)
        root = min(127, max(0, round(exact)))
        gens = _envelope_generators(w)
        if w.scale_factor != 1024:
            gens[GEN_SCALE_TUNING] = int(round(w.scale_factor * 100 / 1024))
        zones.append(Zone(samples=x, rate=w.rate, key_range=(lo, hi), root_key=root,
                          correction_cents=int(max(-99, min(99, round((root - exact) * 100)))),
                          loop=loop, name=f"{name[:14]} {i}", generators=gens))
    return zones


def gus_to_soundfont(folder: str | Path, out: str | Path, name: str | None = None) -> Path:
    """Convert a GUS melodic patch set (files named ``NNN_Name.pat``, NNN the GM program, as in
    FreePats' Tone_000) to a SoundFont whose bank-0 presets are those programs."""
    from .sf2write import Instrument, gm_programs, write_soundfont

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of GUS patches")
    instruments = []
    for program, rest, f in gm_programs(folder, sorted(folder.glob("*.pat"))):
        label = rest.replace("_", " ") if rest else f.stem
        instruments.append(Instrument(name=label, program=program, zones=wave_zones(read_waves(f), label)))
    if not instruments:
        raise ValueError(f"{folder}: no GUS patch named NNN_Name.pat (NNN a GM program 0-127)")
    return write_soundfont(out, name or folder.name, instruments,
                           comment=f"Converted by dub from the GUS patches of {folder}")
