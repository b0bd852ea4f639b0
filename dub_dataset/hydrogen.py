"""Recorded drum kits as drum-hit sources: Hydrogen kits and one-shot sample folders.

Each kit instrument is a set of velocity layers (one layer for a sample folder's file).

A Hydrogen kit is a folder with a ``drumkit.xml`` and its sample files (Debian's
``hydrogen-drumkits`` installs about a dozen under /usr/share/hydrogen/data/drumkits). The kit
names its instruments ("Kick", "Snare Rimshot", "Hat Op Dirty", "Floor Tom"...), and dub maps
each name to one of the 12 coarse drum classes by the words in it (``drum_class_of_name``). An
instrument whose name says nothing certain ("Zap 1", "FX", "Tom", "Snare Roll", "23") is left out,
so no hit carries a guessed label.

A sample folder (``SAMPLE_PACKS``: FreePats' GUS drum set, LMMS's and Sonic Pi's drum samples, or
any folder given with ``--drumkit``) is a flat folder of one-shots. A file named ``NNN_...`` plays
GM key NNN and takes that key's class (FreePats: ``035_Kick_1.pat``); any other file is named by
what it plays (``hihat_closed01.ogg``, ``drum_tom_lo_hard.flac``) and takes the class of its name
by the same rules; files whose names say nothing certain are left out.

Splits: by kit. The table ``HYDROGEN_SPLIT`` holds out "The Black Pearl" (the AVL Black Pearl
recordings, which validate) with the AVL kits; every other kit trains unless the table says so, or
unless it shares a sample file with a held-out kit (``kit_splits``: GMRockKit is made of Black
Pearl's files, so it validates too).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .constants import (
    DRUM_CLASS_OF_NOTE, HYDROGEN_DIRS, HYDROGEN_LICENSE, HYDROGEN_SKIP, HYDROGEN_SPLIT, SAMPLE_PACKS, SAMPLE_SUFFIXES,
)


class DrumKitError(ValueError):
    """A Hydrogen drum kit is missing, unreadable, or names no usable instrument."""


@dataclass(frozen=True)
class Layer:
    path: str
    min_velocity: float  # 0-1, as Hydrogen stores it
    max_velocity: float
    gain: float


@dataclass(frozen=True)
class KitInstrument:
    name: str
    drum_class: str
    gm_note: int  # the GM key of this class (the labels' midi_note)
    gain: float
    layers: tuple[Layer, ...]

    def layer_for(self, velocity: int) -> Layer:
        """The layer Hydrogen would play at MIDI ``velocity`` (1-127)."""
        v = velocity / 127.0
        for layer in self.layers:
            if layer.min_velocity <= v <= layer.max_velocity:
                return layer
        return min(self.layers, key=lambda x: min(abs(v - x.min_velocity), abs(v - x.max_velocity)))


@dataclass(frozen=True)
class DrumKit:
    name: str
    path: str
    license: str
    instruments: tuple[KitInstrument, ...]
    kind: str = "Hydrogen kit"  # or "sample folder"

    @property
    def key(self) -> str:
        """Lower-case folder name: the kit's key in the constants tables (split, licence, skip)."""
        return Path(self.path).name.lower()

    @property
    def split(self) -> str:
        return HYDROGEN_SPLIT.get(self.key, "train")


# (class, GM key, words: all of which must appear). Checked in order: the first match wins.
_RULES = [
    ("open_hihat", 46, ("hat", "open")), ("open_hihat", 46, ("hat", "op")), ("open_hihat", 46, ("hh", "open")),
    ("open_hihat", 46, ("ohh",)), ("open_hihat", 46, ("hat", "semi")),
    ("closed_hihat", 44, ("hat", "pedal")), ("closed_hihat", 44, ("hh", "pedal")), ("closed_hihat", 44, ("hat", "pd")),
    ("closed_hihat", 42, ("hat", "closed")), ("closed_hihat", 42, ("hat", "cl")), ("closed_hihat", 42, ("hh", "closed")),
    ("closed_hihat", 42, ("closed", "hh")),
    ("clap", 39, ("clap",)),
    ("side_stick", 37, ("side", "stick")), ("side_stick", 37, ("rim", "click")), ("side_stick", 37, ("stick",)),
    ("kick", 36, ("kick",)), ("kick", 36, ("bass", "drum")), ("kick", 36, ("bassdrum",)),
    ("snare", 38, ("snare",)),
    ("tom_low", 41, ("floor", "tom")), ("tom_low", 43, ("tom", "low")), ("tom_low", 43, ("low", "tom")),
    ("tom_mid", 47, ("tom", "mid")), ("tom_mid", 47, ("middle", "tom")),
    ("tom_high", 50, ("tom", "hi")), ("tom_high", 50, ("high", "tom")), ("tom_high", 50, ("tomhi",)),
    ("crash", 49, ("crash",)), ("crash", 55, ("splash",)), ("crash", 52, ("china",)),
    ("ride", 51, ("ride",)),
    ("kick", 36, ("bd",)), ("snare", 38, ("sn",)), ("tom_low", 43, ("tom", "lo")),
    # Sonic Pi names hi-hat articulations "cymbal" (drum_cymbal_closed/open/pedal)
    ("closed_hihat", 42, ("cymbal", "closed")), ("open_hihat", 46, ("cymbal", "open")),
    ("closed_hihat", 44, ("cymbal", "pedal")),
    ("other_percussion", 56, ("cowbell",)), ("other_percussion", 63, ("conga",)), ("other_percussion", 60, ("bongo",)),
    ("other_percussion", 54, ("tambourine",)), ("other_percussion", 75, ("clave",)),
    ("other_percussion", 76, ("woodblock",)), ("other_percussion", 70, ("maraca",)),
    ("other_percussion", 71, ("whistle",)), ("other_percussion", 69, ("shaker",)),
    ("other_percussion", 81, ("triangle",)), ("other_percussion", 60, ("djembe",)), ("other_percussion", 64, ("cajon",)),
]
# Names that hold a class word but are not one clean hit of that class
_UNSURE = ("roll", "ride-crash", "crash-ride", "choke", "side hh", "side ohh")


def drum_class_of_name(name: str) -> tuple[str, int] | None:
    """(coarse class, GM key) for a kit instrument's name, or None when the name is not certain.

    >>> drum_class_of_name("Sabian Hat Semi-Open"), drum_class_of_name("Pearl Tom Floor")
    (('open_hihat', 46), ('tom_low', 41))
    """
    low = name.lower().strip()
    if not low or any(u in low for u in _UNSURE):
        return None
    words = set(re.findall(r"[a-z]+", low))
    for cls, note, need in _RULES:
        if all(w in words or (len(w) >= 3 and w in low) for w in need):
            # djembe and cajon "bass" strokes are hand drums, not kicks
            if cls == "kick" and words & {"djembe", "cajon", "dununba", "sangban", "kenkeni"}:
                continue
            return cls, note
    return None


def _text(el, tag: str, ns: str, default: str = "") -> str:
    v = el.findtext(ns + tag)
    return default if v is None else v.strip()


_GM_KEY_FILE = re.compile(r"^(\d{2,3})[ _-]")


def _sample_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in SAMPLE_SUFFIXES) \
        if folder.is_dir() else []


def _unreadable(f: Path) -> str | None:
    """Why ``f`` cannot be decoded (from its header only), or None."""
    from .audio_io import AudioError, audio_duration_s
    from .gus import PatchError, read_patch

    try:
        read_patch(f) if f.suffix.lower() == ".pat" else audio_duration_s(f)
    except (AudioError, PatchError, OSError) as e:
        return str(e)
    return None


def load_sample_folder(folder: str | Path, name: str | None = None, license: str | None = None,
                       skip_unreadable: bool = False) -> DrumKit:
    """A flat folder of one-shot samples as a kit: each file whose name (or GM key prefix) gives a
    class is an instrument with one layer over the whole velocity range. A file that does not
    decode raises DrumKitError naming it, or is left out with ``skip_unreadable`` (the system
    packs: LMMS's kick04.ogg is Vorbis inside a WAV container, which FFmpeg cannot read)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DrumKitError(f"{folder}: not a drum kit (no such folder)")
    files = _sample_files(folder)
    if not files:
        raise DrumKitError(f"{folder}: not a drum kit (no drumkit.xml, and no one-shot sample files: "
                           f"{', '.join(SAMPLE_SUFFIXES)})")
    instruments = []
    for f in files:
        m = _GM_KEY_FILE.match(f.stem)
        if m and int(m.group(1)) in DRUM_CLASS_OF_NOTE:
            label = DRUM_CLASS_OF_NOTE[int(m.group(1))], int(m.group(1))
        else:
            label = drum_class_of_name(f.stem)
        if label is not None:
            why = _unreadable(f)
            if why is not None:
                if skip_unreadable:
                    continue
                raise DrumKitError(f"{folder}: sample {f.name} does not decode: {why}")
            instruments.append(KitInstrument(f.stem, label[0], label[1], 1.0, (Layer(str(f), 0.0, 1.0, 1.0),)))
    if not instruments:
        raise DrumKitError(f"{folder}: no sample file has a name dub can map to a drum class "
                           "(e.g. kick01.wav, hihat_closed.flac, 038_Snare.pat)")
    return DrumKit(name or folder.name, str(folder.resolve()),
                   license or _folder_license(folder) or "unknown: check the samples' own licence",
                   tuple(instruments), "sample folder")


def _folder_license(folder: Path) -> str | None:
    """The first line of a sample folder's LICENSE (or LICENSE.txt, COPYING) file, if it has one."""
    for name in ("LICENSE", "LICENSE.txt", "COPYING"):
        f = folder / name
        if f.is_file():
            line = next((x.strip() for x in f.read_text(errors="replace").splitlines() if x.strip()), "")
            return line[:200] or None
    return None


def load_drumkit(folder: str | Path) -> DrumKit:
    """Read a Hydrogen kit folder, or else a folder of one-shot samples (``load_sample_folder``).
    Raises DrumKitError naming the folder on any problem."""
    folder = Path(folder).expanduser()
    xml = folder / "drumkit.xml"
    if not xml.is_file():
        return load_sample_folder(folder)
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as e:
        raise DrumKitError(f"{xml}: unreadable drumkit.xml ({e})") from e
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    name = _text(root, "name", ns) or folder.name
    instruments = []
    for inst in root.iter(ns + "instrument"):
        label = drum_class_of_name(_text(inst, "name", ns))
        if label is None:
            continue
        layers = []
        elems = list(inst.iter(ns + "layer"))
        if elems:
            for layer in elems:
                f = folder / _text(layer, "filename", ns)
                layers.append(Layer(str(f), float(_text(layer, "min", ns, "0")), float(_text(layer, "max", ns, "1")),
                                    float(_text(layer, "gain", ns, "1"))))
        elif _text(inst, "filename", ns):  # the older format: one file for the whole velocity range
            layers.append(Layer(str(folder / _text(inst, "filename", ns)), 0.0, 1.0, 1.0))
        layers = [x for x in layers if Path(x.path).suffix.lower() in SAMPLE_SUFFIXES and Path(x.path).is_file()]
        if layers:
            gain = float(_text(inst, "gain", ns, "1")) * float(_text(inst, "volume", ns, "1"))
            instruments.append(KitInstrument(_text(inst, "name", ns), label[0], label[1], gain, tuple(layers)))
    if not instruments:
        raise DrumKitError(f"{folder}: no instrument of the kit has a name dub can map to a drum class, "
                           "or their sample files are missing")
    license = HYDROGEN_LICENSE.get(folder.name.lower()) or _text(root, "license", ns) or "unknown: check the kit's own licence"
    return DrumKit(name, str(folder.resolve()), license, tuple(instruments))


@lru_cache(maxsize=4096)
def _file_hash(path: str) -> bytes:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).digest()


def kit_hashes(kit: DrumKit) -> set[bytes]:
    """Content hashes of every sample file a kit plays."""
    return {_file_hash(layer.path) for inst in kit.instruments for layer in inst.layers}


def kit_splits(kits: list[DrumKit]) -> dict[str, str]:
    """Split of each kit (by path): its table split (``HYDROGEN_SPLIT``, else train), except that kits
    sharing any sample file are held out together: a family with a test member is test, else one
    with a validation member validates. Hydrogen's GMRockKit stores 81 of The Black Pearl's files
    byte for byte, so it validates with it."""
    from .soundfonts import families

    out = {}
    for fam in families(kits, kit_hashes):
        splits = {k.split for k in fam}
        split = "test" if "test" in splits else "validation" if "validation" in splits else "train"
        out.update({k.path: split for k in fam})
    return out


def discover_drumkits(dirs: tuple[str, ...] = HYDROGEN_DIRS, packs=SAMPLE_PACKS) -> list[DrumKit]:
    """Hydrogen kits in the standard folders, minus those in ``HYDROGEN_SKIP`` (kits whose
    instrument names do not describe their samples), then the installed sample folders of ``packs``."""
    kits = []
    for d in dirs:
        base = Path(d).expanduser()
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if not (folder / "drumkit.xml").is_file():
                continue
            try:
                kit = load_drumkit(folder)
            except DrumKitError:
                continue  # discovery skips a broken system kit; an explicit path raises
            if kit.key not in HYDROGEN_SKIP:
                kits.append(kit)
    for folder, name, license in packs:
        folder = Path(folder).expanduser()
        if _sample_files(folder):
            try:
                kits.append(load_sample_folder(folder, name, license, skip_unreadable=True))
            except DrumKitError:
                continue
    return kits


SYSTEM_KITS = "system"  # in a list of kit folders: all discovered ones (``--drumkit system --drumkit MINE``)


def resolve_drumkits(paths: list[str] | None) -> list[DrumKit]:
    """Explicit kit folders (each must load), or all discovered ones when ``paths`` is None; the
    entry ``"system"`` stands for the discovered ones beside explicit folders."""
    if paths is None:
        return discover_drumkits()
    kits = []
    for p in paths:
        if p == SYSTEM_KITS and not Path(p).exists():
            kits += discover_drumkits()
        elif p:
            kits.append(load_drumkit(p))
    return list({k.path: k for k in kits}.values())  # each kit once, where it first comes
