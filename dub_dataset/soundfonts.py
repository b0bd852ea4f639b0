"""Find SoundFonts and list their presets, without loading a synthesizer.

A SoundFont (.sf2, or .sf3 with Ogg-compressed samples) is a RIFF file whose ``pdta`` list
holds a ``phdr`` chunk: 38-byte preset headers (name, preset number, bank). Reading those is
enough to know which GM programs and percussion kits a file offers.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .constants import (
    DRUM_BANK, SOUNDFONT_DIRS, SOUNDFONT_LICENSE, SOUNDFONT_SPLIT, SOUNDFONT_SPLIT_KITS, SOUNDFONT_SUFFIXES, SPLITS,
)


# Kit names that do not follow the GM key map: sound-effect sets, MT-32 sets, marching kits, and GS
# orchestra sets (FluidR3's "Orchestra Kit" plays timpani tuned F2-F3 on keys 41-53, where GM has toms,
# hi-hats, crash and ride: every hit there would carry a wrong drum class).
NON_GM_KIT_WORDS = ("sfx", "cm-64", "cm64", "mt-32", "metronome", "marching", "orchestra")


class SoundFontError(ValueError):
    """A SoundFont file is missing, unreadable or not a SoundFont."""


@dataclass(frozen=True)
class Preset:
    name: str
    bank: int
    program: int

    @property
    def is_drum_kit_bank(self) -> bool:
        return self.bank == DRUM_BANK


@dataclass(frozen=True)
class SoundFont:
    path: str
    presets: tuple[Preset, ...]

    @property
    def name(self) -> str:
        """File stem, the SoundFont's identity in labels and splits (e.g. ``TimGM6mb``)."""
        return Path(self.path).stem

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def license(self) -> str:
        return SOUNDFONT_LICENSE.get(self.key, "unknown: check the SoundFont's own licence")

    def melodic(self) -> list[Preset]:
        """GM melodic presets: bank 0, one per program (none in a kit-only font)."""
        return [] if self.is_kit_only() else [p for p in self.presets if p.bank == 0]

    def drum_kits(self) -> list[Preset]:
        """Percussion kits: bank 128, or a kit-only font's bank 0 presets (e.g. the AVL kits)."""
        kits = [p for p in self.presets if p.bank == DRUM_BANK]
        if not kits and self.is_kit_only():
            kits = [p for p in self.presets if p.bank == 0]
        # Kits whose keys do not follow the GM percussion map would mislabel every hit.
        return [k for k in kits if not any(w in k.name.lower() for w in NON_GM_KIT_WORDS)]

    def is_kit_only(self) -> bool:
        """Fonts such as AVL Drumkits put their kits at bank 0 and have no GM melodic set."""
        names = [self.key] + [p.name.lower() for p in self.presets]
        return (not any(p.bank == DRUM_BANK for p in self.presets) and len(self.presets) <= 4
                and any(w in n for n in names for w in ("kit", "drum", "lv2", "4pc")))


def _chunks(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)


@lru_cache(maxsize=64)
def _read_presets(path: str, mtime_ns: int) -> tuple[Preset, ...]:
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise SoundFontError(f"{path}: not a SoundFont (no RIFF 'sfbk' header)")
        data = head + f.read()
    for cid, pos, size in _chunks(data, 12, len(data)):
        if cid == b"LIST" and data[pos:pos + 4] == b"pdta":
            for sub, spos, ssize in _chunks(data, pos + 4, pos + size):
                if sub == b"phdr":
                    presets = []
                    for off in range(spos, spos + ssize - 38, 38):  # last record is the EOP terminal
                        name, program, bank = struct.unpack_from("<20sHH", data, off)
                        presets.append(Preset(name.split(b"\0")[0].decode("latin-1").strip(), bank, program))
                    if not presets:
                        break
                    return tuple(sorted(set(presets), key=lambda p: (p.bank, p.program, p.name)))
    raise SoundFontError(f"{path}: SoundFont has no preset headers (truncated or corrupt 'pdta' list)")


# SoundFont generator operators (SF2.04 section 8.1.2) that say which sample plays which key.
GEN_INSTRUMENT, GEN_KEY_RANGE, GEN_SAMPLE_ID = 41, 43, 53


def _pdta(data: bytes, path: str) -> tuple[int, dict[bytes, tuple[int, int]]]:
    """Offset of the sample data and the (offset, size) of each ``pdta`` sub-chunk."""
    smpl, pdta = None, {}
    for cid, pos, size in _chunks(data, 12, len(data)):
        if cid == b"LIST":
            kind = data[pos:pos + 4]
            for sub, spos, ssize in _chunks(data, pos + 4, pos + size):
                if spos + ssize > len(data):
                    raise SoundFontError(f"{path}: SoundFont is truncated or corrupt (its {sub.decode('latin-1')!r} "
                                         "chunk runs past the end of the file)")
                if kind == b"sdta" and sub == b"smpl":
                    smpl = spos
                elif kind == b"pdta":
                    pdta[sub] = (spos, ssize)
    if smpl is None or b"shdr" not in pdta:
        raise SoundFontError(f"{path}: SoundFont has no sample data or sample headers (truncated or corrupt)")
    return smpl, pdta


def _records(data: bytes, where: tuple[int, int], size: int, fmt: str) -> list[tuple]:
    return [struct.unpack_from(fmt, data, off) for off in range(where[0], where[0] + where[1] - size + 1, size)]


@lru_cache(maxsize=16)
def _read_sample_table(path: str, mtime_ns: int) -> tuple[tuple[bytes | None, ...], dict, dict]:
    """A hash of each stored sample (by sample index; None for ROM or empty samples), the
    samples each key of each preset plays: ``{(bank, program): {key: frozenset(hashes)}}``, and
    each hash's sample name (the first, where one recording is stored under several names)."""
    with open(path, "rb") as f:
        data = f.read()
    smpl, pdta = _pdta(data, path)
    hashes, names = [], {}
    for name, start, end, *_, sample_type in _records(data, pdta[b"shdr"], 46, "<20sIIIIIBbHH"):
        # SoundFont 2: start/end count 16-bit frames; SoundFont 3 (Ogg, flag 0x10): bytes
        lo, hi = (smpl + start, smpl + end) if sample_type & 0x10 else (smpl + 2 * start, smpl + 2 * end)
        ok = not sample_type & 0x8000 and hi - lo >= 64 and hi <= len(data)  # 0x8000: ROM, no data in the file
        hashes.append(hashlib.blake2b(data[lo:hi], digest_size=12).digest() if ok else None)
        if ok:
            names.setdefault(hashes[-1], name.split(b"\0")[0].decode("latin-1").strip())
    keys: dict = {}
    if all(c in pdta for c in (b"phdr", b"pbag", b"pgen", b"inst", b"ibag", b"igen")):
        phdr = _records(data, pdta[b"phdr"], 38, "<20sHHH")
        pbag, ibag = _records(data, pdta[b"pbag"], 4, "<HH"), _records(data, pdta[b"ibag"], 4, "<HH")
        pgen, igen = _records(data, pdta[b"pgen"], 4, "<HH"), _records(data, pdta[b"igen"], 4, "<HH")
        inst = _records(data, pdta[b"inst"], 22, "<20sH")

        def zones(bags, gens, lo, hi, target):
            """(low key, high key, target index) per zone; a first zone without the target is global."""
            out, default = [], (0, 127)
            for z in range(lo, min(hi, len(bags) - 1)):
                rng, tid = None, None
                for oper, amount in gens[bags[z][0]:bags[z + 1][0]]:
                    if oper == GEN_KEY_RANGE:
                        rng = (amount & 0xFF, amount >> 8)
                    elif oper == target:
                        tid = amount
                if tid is None:
                    default = rng or default if z == lo else default
                    continue
                out.append((*(rng or default), tid))
            return out

        for i in range(len(phdr) - 1):  # the last record is the EOP terminal
            _, program, bank, bag = phdr[i]
            per_key = keys.setdefault((bank, program), {})
            for plo, phi, ins in zones(pbag, pgen, bag, phdr[i + 1][3], GEN_INSTRUMENT):
                if ins + 1 >= len(inst):
                    continue
                for ilo, ihi, sid in zones(ibag, igen, inst[ins][1], inst[ins + 1][1], GEN_SAMPLE_ID):
                    if sid < len(hashes) and hashes[sid] is not None:
                        for k in range(max(plo, ilo), min(phi, ihi) + 1):
                            per_key.setdefault(k, set()).add(hashes[sid])
        keys = {p: {k: frozenset(v) for k, v in per_key.items()} for p, per_key in keys.items()}
    return tuple(hashes), keys, names


def sample_hashes(font: SoundFont) -> frozenset[bytes]:
    """A hash of each sample's stored data: two fonts that share a hash play the same recording."""
    p = Path(font.path)
    return frozenset(h for h in _read_sample_table(str(p), p.stat().st_mtime_ns)[0] if h is not None)


def key_sample_hashes(font: SoundFont, preset: Preset) -> dict[int, frozenset[bytes]]:
    """The hashes of the samples each key of ``preset`` plays (any velocity): two kits whose keys
    share a hash play the same recording on them."""
    p = Path(font.path)
    return _read_sample_table(str(p), p.stat().st_mtime_ns)[1].get((preset.bank, preset.program), {})


def key_sample_names(font: SoundFont, preset: Preset) -> dict[int, tuple[str, ...]]:
    """The names of the samples each key of ``preset`` plays (any velocity), as the font stores
    them: what a kit really plays on a key, e.g. a kick layered under other keys."""
    p = Path(font.path)
    _, keys, names = _read_sample_table(str(p), p.stat().st_mtime_ns)
    return {k: tuple(sorted(names[h] for h in hs)) for k, hs in keys.get((preset.bank, preset.program), {}).items()}


def families(items: list, hashes_of) -> list[list]:
    """``items`` grouped so that items whose ``hashes_of(item)`` sets share any hash are in one group
    (union-find), in first-seen order."""
    parent = list(range(len(items)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict = {}
    for i, item in enumerate(items):
        for h in hashes_of(item):
            j = owner.setdefault(h, i)
            parent[root(i)] = root(j)
    groups: dict[int, list] = {}
    for i, item in enumerate(items):
        groups.setdefault(root(i), []).append(item)
    return list(groups.values())


def sample_families(fonts: list[SoundFont]) -> list[list[SoundFont]]:
    """Fonts grouped so that fonts sharing any sample are in one group (TimGM6mb and sf_GMbank share
    two thirds of their samples; the AVL Black Pearl and Red Zeppelin kits a quarter)."""
    return families(fonts, sample_hashes)


def load_soundfont(path: str | os.PathLike) -> SoundFont:
    """Read a SoundFont's preset table. Raises SoundFontError naming the file on any problem."""
    p = Path(path).expanduser()
    if not p.exists():
        raise SoundFontError(f"{p}: SoundFont not found")
    if p.suffix.lower() not in SOUNDFONT_SUFFIXES:
        raise SoundFontError(f"{p}: not a SoundFont file name (expected {', '.join(SOUNDFONT_SUFFIXES)})")
    try:
        presets = _read_presets(str(p.resolve()), p.stat().st_mtime_ns)
    except OSError as e:
        raise SoundFontError(f"{p}: cannot read SoundFont ({e.strerror})") from e
    return SoundFont(str(p.resolve()), presets)


def _fingerprint(path: Path) -> tuple[int, str]:
    with open(path, "rb") as f:
        return path.stat().st_size, hashlib.sha1(f.read(1 << 20)).hexdigest()


def discover_soundfonts(dirs: tuple[str, ...] = SOUNDFONT_DIRS) -> list[SoundFont]:
    """SoundFonts in the standard system folders, each file once (symlinks and copies removed)."""
    seen: dict[tuple[int, str], Path] = {}
    for d in dirs:
        folder = Path(d).expanduser()
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in SOUNDFONT_SUFFIXES or not f.is_file() or f.is_symlink():
                continue
            fp = _fingerprint(f)
            # Prefer the shorter, canonical name when the same file is installed twice.
            if fp not in seen or len(f.stem) < len(seen[fp].stem):
                seen[fp] = f
    fonts = []
    for f in sorted(seen.values(), key=lambda f: f.stem.lower()):
        try:
            fonts.append(load_soundfont(f))
        except SoundFontError:
            continue  # an unreadable system file is skipped in discovery; explicit paths raise
    return fonts


def resolve_soundfonts(paths: list[str] | None) -> list[SoundFont]:
    """The SoundFonts to render: explicit paths (each must load) or all discovered ones."""
    if paths:
        return [load_soundfont(p) for p in paths]
    fonts = discover_soundfonts()
    if not fonts:
        raise SoundFontError(
            "no SoundFont found in " + ", ".join(SOUNDFONT_DIRS)
            + ": install one (scripts/setup.sh does) or pass --soundfont PATH"
        )
    return fonts


def stable_split(key: str) -> str:
    """A split for a source not in the fixed table: crc32 buckets, 80/10/10, stable everywhere."""
    bucket = zlib.crc32(key.encode()) % 10
    return SPLITS[0] if bucket < 8 else SPLITS[1] if bucket == 8 else SPLITS[2]


def soundfont_split(font: SoundFont, kits: bool = False) -> str:
    """The split a SoundFont's melodic presets (or, with ``kits``, its percussion kits) feed, by the
    table alone (see ``soundfont_splits`` for the rule that keeps shared samples out of training)."""
    table = SOUNDFONT_SPLIT_KITS if kits else SOUNDFONT_SPLIT
    return table.get(font.key, stable_split(font.key))


def soundfont_splits(fonts: list[SoundFont], kits: bool = False, by_key: bool = False) -> dict[str, str]:
    """Split per font path: the table's, except that a font sharing samples with a held-out font
    is held out with it (in the family's test split if it has one, else its validation split), so
    no recording heard in a held-out split is also heard in training. Held-out fonts may share
    samples with each other (then validation is a close proxy for test).

    ``by_key`` (kits of the drums config, where one key is one sound): every font keeps its table
    split, and ``shared_kit_keys`` lists the training keys to leave out instead."""
    out = {}
    for family in ([[f] for f in fonts] if by_key else sample_families(fonts)):
        wanted = {f.path: soundfont_split(f, kits) for f in family}
        held = [s for s in ("test", "validation") if s in wanted.values()]
        for f in family:
            out[f.path] = wanted[f.path] if wanted[f.path] != "train" or not held else held[0]
    return out


def shared_kit_keys(kits: list[tuple[SoundFont, Preset]], held: list[tuple[SoundFont, Preset]],
                    notes) -> set[tuple[str, int, int, int]]:
    """``(font path, bank, program, key)`` of each key in ``notes`` of the kits ``kits`` that plays
    a sample stored in any key of the kits ``held``: a one-hit example of it would let a model hear
    a held-out recording in training (sf_GMbank's Standard kit plays TimGM6mb's kick on key 36).
    Melodic presets work the same (``sources.held_out_sound_presets`` asks it about every key)."""
    held_hashes = set()
    for font, kit in held:
        for hashes in key_sample_hashes(font, kit).values():
            held_hashes |= hashes
    out = set()
    for font, kit in kits:
        per_key = key_sample_hashes(font, kit)
        out |= {(font.path, kit.bank, kit.program, n) for n in notes if per_key.get(n, frozenset()) & held_hashes}
    return out
