"""A drum-hit bank: every training hit of a drums config, dry, in two files, to draw examples from
where the SoundFonts and kits are not (a GPU machine that has torch but none of the fonts).

``export_bank`` renders each training key of the config's SoundFont kits at ``BANK_VELOCITIES``
(the engine alternating between keys) and takes each layer of its recorded kits, cuts every hit
where it has decayed 60 dB below its peak, and writes ``hits.flac`` (all hits end to end, 16-bit)
and ``index.json`` (per candidate: its class, kind, source, and where each of its hits lies). Most
keys play one sample at every velocity, only quieter (88 % of the 3,293 training keys of the shipped
drums model's dataset): such a key's loudest render is stored once and the other velocities point
at it with a gain, which halves the bank (40 MB of FLAC for 96,000 clips' worth of sources).

``BankMaker.make(index)`` then draws one example as ``DrumMaker.make`` does (a class uniformly,
recorded kits at their fixed share, a velocity, the augmentation's parameters from
``numpy.random.default_rng([seed, split, index])``), with three differences: the velocity picks the
nearest rendered velocity and scales it as a SoundFont's default curve does (amplitude ~ v²);
the pitch shift resamples the hit (the synth's pitch wheel is exact, and a recorded kit's
shift keeps its length); and the time stretch is skipped where audiomentations is not installed.
The examples are made for training only: held-out splits still come from ``dub generate``.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np

from . import effects
from .constants import DRUM_CLASSES, DRUM_HIT_HOLD_S, SILENCE_PEAK, SPLITS, VELOCITY_RANGE
from .fileio import atomic_write_bytes
from .hydrogen import DrumKit, KitInstrument, Layer

BANK_VELOCITIES = (40, 100)  # SoundFont keys are rendered at these; others scale the nearest
TRIM_DB = 60.0  # a hit ends where it stays this far below its peak
TAIL_S = 0.02  # kept after that point
SAME_BUT_LEVEL = 0.999  # two velocities' renders this alike are one sample, stored once with a gain
INDEX = "index.json"
AUDIO = "hits.flac"


def _trim(x: np.ndarray, sr: int) -> np.ndarray:
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= SILENCE_PEAK:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (-TRIM_DB / 20))
    return x[:min(len(x), int(loud[-1]) + 1 + int(TAIL_S * sr))]


def _same_but_level(x: np.ndarray, y: np.ndarray) -> bool:
    """``x`` is ``y`` at another level (correlation above ``SAME_BUT_LEVEL``), over the shorter's length."""
    n = min(len(x), len(y))
    if not n:
        return False
    a, b = x[:n].astype(np.float64), y[:n].astype(np.float64)
    return float(np.dot(a, b)) > SAME_BUT_LEVEL * float(np.linalg.norm(a) * np.linalg.norm(b))


def export_bank(spec, out: str | os.PathLike, split: str = "train",
                velocities: tuple[int, ...] = BANK_VELOCITIES) -> dict:
    """Write the bank of ``spec``'s (a drums ``Spec``) ``split`` into folder ``out``; returns its index."""
    from .audio_io import encode_flac
    from .render import Note
    from .sources import HYDROGEN_LEVEL, DrumMaker, _from_onset

    if spec.config != "drums":
        raise ValueError(f"a hit bank holds a drums config, not {spec.config!r}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose from {', '.join(SPLITS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    maker = DrumMaker(spec)
    sr, n = maker.sr, maker.n_samples
    pieces, candidates, pos = [], [], 0

    def add(x: np.ndarray) -> dict | None:
        nonlocal pos
        x = _trim(np.asarray(x, np.float32), sr)
        if not len(x):
            return None
        pieces.append(x)
        pos += len(x)
        return {"offset": pos - len(x), "length": len(x)}

    cands = maker.candidates(split)
    for cls in sorted(cands, key=DRUM_CLASSES.index):
        for font, kit, note in cands[cls]:
            if isinstance(font, DrumKit):  # kit is the instrument; its layers are the hits
                hits = []
                for layer in kit.layers:
                    clip = _from_onset(maker._samples.get(layer.path), n, sr)
                    where = add(np.clip(clip * (HYDROGEN_LEVEL * layer.gain * kit.gain), -1, 1))
                    if where:
                        hits.append({**where, "min_velocity": layer.min_velocity, "max_velocity": layer.max_velocity})
                candidates.append({"class": cls, "kind": "recorded", "source": maker._source_name((font, None)),
                                   "instrument": kit.name, "note": note, "hits": hits})
                continue
            engine = maker.engines[(zlib.crc32(f"{font.name}/{kit.bank}/{kit.program}/{note}".encode())) % len(maker.engines)]
            hits, kept = [], []
            for v in sorted(velocities, reverse=True):  # the loudest stored, quieter copies point at it
                x = _trim(engine.render(font.path, kit, [Note(0.0, DRUM_HIT_HOLD_S, note, v)], spec.clip_s, drum=True), sr)
                same = next(((h, y) for h, y in kept if _same_but_level(x, y)), None)
                if same:  # most keys play one sample at every velocity, only quieter: stored once
                    h, y = same
                    hits.append({"offset": h["offset"], "length": h["length"], "velocity": v,
                                 "gain": round(float(np.dot(x[:len(y)], y[:len(x)]) / np.dot(y, y)), 5)})
                elif (where := add(x)):
                    hits.append({**where, "velocity": v, "gain": 1.0})
                    kept.append((hits[-1], x))
            candidates.append({"class": cls, "kind": "soundfont", "source": maker._source_name((font, kit)),
                               "note": note, "engine": engine.name, "hits": hits,
                               "weight": maker._kit_weight((font, kit, note))})
    candidates = [c for c in candidates if c["hits"]]
    if not candidates:
        raise ValueError(f"split {split!r} has no sounding drum hit")
    index = {"config": "drums", "split": split, "sample_rate": sr, "clip_s": spec.clip_s, "seed": spec.seed,
             "augment": spec.augment.to_dict(), "velocities": list(velocities), "num_samples": pos,
             "candidates": candidates}
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX).unlink(missing_ok=True)  # an older bank's index must not describe the new audio
    atomic_write_bytes(out / AUDIO, encode_flac(np.concatenate(pieces), sr))
    atomic_write_bytes(out / INDEX, json.dumps(index, indent=0).encode())  # last: a bank with an index is whole
    return index


def spec_of_dataset(dataset: str | os.PathLike, split: str = "train"):
    """The drums ``Spec`` that wrote ``split`` of a dub dataset folder (its ``dub.json``)."""
    from .sources import Spec

    meta_path = Path(dataset) / "dub.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{dataset}: no dub.json (a folder written by dub generate)")
    record = json.loads(meta_path.read_text()).get("drums")
    if record is None:
        raise ValueError(f"{dataset}: the dataset has no drums config")
    return Spec.from_dict(record.get("split_specs", {}).get(split, record["spec"]))


def _resample(x: np.ndarray, cents: float) -> np.ndarray:
    """``x`` played ``cents`` higher by resampling (shorter when higher, as a sampler does)."""
    if not cents or len(x) < 2:
        return x
    import scipy.signal

    m = max(2, int(round(len(x) / 2 ** (cents / 1200))))
    return scipy.signal.resample(x, m).astype(np.float32)


class BankMaker:
    """Draws training examples (audio, drum class index) from a bank written by ``export_bank``."""

    def __init__(self, folder: str | os.PathLike, seed: int | None = None, augment: effects.AugmentConfig | None = None):
        from .audio_io import decode_audio_bytes

        folder = Path(folder)
        if not (folder / INDEX).is_file() or not (folder / AUDIO).is_file():
            raise FileNotFoundError(f"{folder}: not a hit bank (needs {INDEX} and {AUDIO}; dub bank writes them)")
        self.index = json.loads((folder / INDEX).read_text())
        self.audio, self.sr = decode_audio_bytes((folder / AUDIO).read_bytes())
        if len(self.audio) != self.index["num_samples"]:
            raise ValueError(f"{folder / AUDIO}: {len(self.audio)} samples, the index says {self.index['num_samples']}")
        self.seed = self.index["seed"] if seed is None else seed
        if augment is None:
            a = dict(self.index["augment"])
            a["time_stretch_range"] = tuple(a["time_stretch_range"])
            augment = effects.AugmentConfig(**a)
        self.augment = augment
        self.n_samples = int(round(self.index["clip_s"] * self.sr))
        self.by_class: dict[str, list[dict]] = {}
        for c in self.index["candidates"]:
            self.by_class.setdefault(c["class"], []).append(c)
        self.classes = sorted(self.by_class, key=DRUM_CLASSES.index)
        # a SoundFont hit's font --font-weight (banks written before it have none: 1); None when all are 1
        weighted = any(c.get("weight", 1.0) != 1.0 for c in self.index["candidates"])
        self._weight = (lambda c: c.get("weight", 1.0)) if weighted else None
        self._layers = {id(c): KitInstrument(c["instrument"], c["class"], c["note"], 1.0, tuple(
            Layer(str(i), h["min_velocity"], h["max_velocity"], 1.0) for i, h in enumerate(c["hits"])))
            for c in self.index["candidates"] if c["kind"] == "recorded"}
        try:
            import audiomentations  # noqa: F401
            self.time_stretch = True
        except ImportError:
            self.time_stretch = False

    def _hit(self, h: dict) -> np.ndarray:
        return self.audio[h["offset"]:h["offset"] + h["length"]]

    def make(self, index: int) -> tuple[np.ndarray, int]:
        from .sources import MAX_ATTEMPTS, draw_drum_candidate

        rng = np.random.default_rng([self.seed, SPLITS.index(self.index["split"]), index])
        for _ in range(MAX_ATTEMPTS):
            cls, cand = draw_drum_candidate(rng, self.classes, self.by_class, lambda c: c["kind"] == "recorded",
                                            self._weight)
            velocity = int(rng.integers(VELOCITY_RANGE[0], VELOCITY_RANGE[1] + 1))
            params = effects.draw(rng, self.augment)
            if cand["kind"] == "recorded":  # the layer Hydrogen would play (its Layer.path: the hit's place here)
                h = cand["hits"][int(self._layers[id(cand)].layer_for(velocity).path)]
                x = self._hit(h) * np.float32(velocity / 127)
            else:
                h = min(cand["hits"], key=lambda h: abs(h["velocity"] - velocity))
                x = self._hit(h) * np.float32(h["gain"] * (velocity / h["velocity"]) ** 2)
            x = np.clip(_resample(x, params["pitch_shift_cents"]), -1, 1)
            if np.abs(x).max() > SILENCE_PEAK:
                break
        clip = np.zeros(self.n_samples, np.float32)
        clip[:min(len(x), self.n_samples)] = x[:self.n_samples]
        if not self.time_stretch:
            params["time_stretch_rate"] = 1.0
        return effects.apply(clip, self.sr, params, rng, pitch_applied=True), DRUM_CLASSES.index(cls)
