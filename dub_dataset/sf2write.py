"""Write a SoundFont 2 file: melodic presets of one instrument each, zones of one sample each.

Enough of SoundFont 2.01 for sample sets converted from other formats (``gus.gus_to_soundfont``):
per zone a key range, a root key with its correction in cents, a loop, and a volume envelope.
Every engine dub renders with (FluidSynth, TinySoundFont) and ``soundfonts.load_soundfont`` read
the result. Layout: RIFF ``sfbk`` with ``INFO``, ``sdta`` (16-bit samples, each followed by 46
zero points) and ``pdta`` (preset, instrument and sample headers; each list ends in a terminal
record).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fileio import atomic_write_bytes

# Generator operators (SoundFont 2.01, section 8.1.2)
GEN_ATTACK_VOL, GEN_DECAY_VOL, GEN_SUSTAIN_VOL, GEN_RELEASE_VOL = 34, 36, 37, 38
GEN_INSTRUMENT, GEN_KEY_RANGE, GEN_SAMPLE_ID, GEN_SAMPLE_MODES, GEN_SCALE_TUNING = 41, 43, 53, 54, 56
SAMPLE_PAD = 46  # zero points after each sample, as the format asks
LOOP_NONE, LOOP_HELD = 0, 3  # sampleModes: no loop; loop while the key is down, then play on
MIN_TIMECENTS, MAX_TIMECENTS = -12000, 8000  # 1 ms .. 100 s


def timecents(seconds: float) -> int:
    """A duration as SoundFont timecents (1200 per doubling), within the range engines accept."""
    if seconds <= 0.001:
        return MIN_TIMECENTS
    return int(max(MIN_TIMECENTS, min(MAX_TIMECENTS, round(1200 * math.log2(seconds)))))


@dataclass
class Zone:
    """One sample over a key range of an instrument."""

    samples: np.ndarray  # float mono in [-1, 1]
    rate: int
    key_range: tuple[int, int]
    root_key: int
    correction_cents: int  # SoundFont pitch correction, applied on playback: minus the cents the sample sounds above root_key
    loop: tuple[int, int] | None = None  # [start, end) in samples
    name: str = ""
    generators: dict[int, int] = field(default_factory=dict)  # more generators (envelope, tuning)


@dataclass
class Instrument:
    name: str
    program: int
    zones: list[Zone]
    bank: int = 0


def _name(s: str) -> bytes:
    return s.encode("ascii", "replace")[:19].ljust(20, b"\0")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _zstr(s: str) -> bytes:
    """A zero-terminated INFO string padded to an even size (the size counts the padding)."""
    b = s.encode("ascii", "replace") + b"\0"
    return b + (b"\0" if len(b) % 2 else b"")


def _list(kind: bytes, chunks: list[bytes]) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _gen(op: int, amount: int) -> bytes:
    return struct.pack("<Hh", op, amount)


def _range(op: int, lo: int, hi: int) -> bytes:
    return struct.pack("<HBB", op, lo, hi)


def gm_programs(folder: Path, paths) -> list[tuple[int, str, Path]]:
    """(GM program, rest of the name, path) of each of ``paths`` (in ``folder``) named ``NNN_rest``
    with NNN a GM program 0-127, in order; others are skipped. Two paths for one program raise
    ValueError naming both (the converters' rule: one preset per program)."""
    out, seen = [], {}
    for path in paths:
        head = Path(path).stem.split("_", 1) if Path(path).is_file() else Path(path).name.split("_", 1)
        if not head[0].isdigit() or int(head[0]) > 127:
            continue
        program = int(head[0])
        if program in seen:
            raise ValueError(f"{folder}: {seen[program].name} and {Path(path).name} are both GM program {program}")
        seen[program] = Path(path)
        out.append((program, head[1] if len(head) > 1 else "", Path(path)))
    return out


def soundfont_bytes(name: str, instruments: list[Instrument], comment: str = "") -> bytes:
    """The whole file as bytes (deterministic: the same instruments give the same bytes)."""
    smpl, shdr = [], []
    inst, ibag, igen = [], [], []
    phdr, pbag, pgen = [], [], []
    pos = 0
    for i, ins in enumerate(instruments):
        if not ins.zones:
            raise ValueError(f"instrument {ins.name!r} has no zone")
        phdr.append(_name(ins.name) + struct.pack("<HHHIII", ins.program, ins.bank, len(pbag), 0, 0, 0))
        pbag.append(struct.pack("<HH", len(pgen), 0))
        pgen.append(_gen(GEN_INSTRUMENT, i))
        inst.append(_name(ins.name) + struct.pack("<H", len(ibag)))
        for z in ins.zones:
            pcm = np.round(np.clip(z.samples, -1.0, 1.0) * 32767).astype("<i2")
            start, end = pos, pos + pcm.size
            loop = z.loop or (0, pcm.size)
            smpl += [pcm.tobytes(), bytes(2 * SAMPLE_PAD)]
            pos = end + SAMPLE_PAD
            shdr.append(_name(z.name or ins.name) + struct.pack(
                "<IIIIIBbHH", start, end, start + loop[0], start + loop[1], z.rate,
                z.root_key, z.correction_cents, 0, 1))
            ibag.append(struct.pack("<HH", len(igen), 0))
            igen.append(_range(GEN_KEY_RANGE, *z.key_range))
            for op, amount in sorted(z.generators.items()):
                igen.append(_gen(op, amount))
            igen.append(_gen(GEN_SAMPLE_MODES, LOOP_HELD if z.loop else LOOP_NONE))
            igen.append(_gen(GEN_SAMPLE_ID, len(shdr) - 1))
    phdr.append(_name("EOP") + struct.pack("<HHHIII", 0, 0, len(pbag), 0, 0, 0))
    pbag.append(struct.pack("<HH", len(pgen), 0))
    pgen.append(_gen(0, 0))
    inst.append(_name("EOI") + struct.pack("<H", len(ibag)))
    ibag.append(struct.pack("<HH", len(igen), 0))
    igen.append(_gen(0, 0))
    shdr.append(_name("EOS") + bytes(26))
    info = [_chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", _zstr("EMU8000")),
            _chunk(b"INAM", _zstr(name))]
    if comment:
        info.append(_chunk(b"ICMT", _zstr(comment)))
    pdta = [_chunk(b"phdr", b"".join(phdr)), _chunk(b"pbag", b"".join(pbag)), _chunk(b"pmod", bytes(10)),
            _chunk(b"pgen", b"".join(pgen)), _chunk(b"inst", b"".join(inst)), _chunk(b"ibag", b"".join(ibag)),
            _chunk(b"imod", bytes(10)), _chunk(b"igen", b"".join(igen)), _chunk(b"shdr", b"".join(shdr))]
    body = b"sfbk" + _list(b"INFO", info) + _list(b"sdta", [_chunk(b"smpl", b"".join(smpl))]) + _list(b"pdta", pdta)
    return _chunk(b"RIFF", body)


def write_soundfont(path: str | os.PathLike, name: str, instruments: list[Instrument], comment: str = "") -> Path:
    """Write the SoundFont atomically (a temporary file renamed into place)."""
    data = soundfont_bytes(name, instruments, comment)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, data)
