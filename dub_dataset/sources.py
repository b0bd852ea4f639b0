"""What each config samples from, and how one example is made.

A *source* is one sampled instrument: a SoundFont preset (a GM program or a percussion kit) or a
user's sample file. Sources, not examples, are assigned to splits, so no instrument is heard in
two splits (as NSynth holds out instruments):

- ``split_by="soundfont"``: whole SoundFonts by the tables in constants: melodic presets
  (FluidR3_GM, MuseScore_General train; sf_GMbank validation; TimGM6mb test) and kits
  (FluidR3_GM, MuseScore_General, OPL-3, sf_GMbank train; Black_Pearl, Red_Zeppelin validation;
  TimGM6mb test); unknown fonts by a stable hash. No recording of a held-out split is trained on:
  fonts that share one are held out together (``soundfonts.soundfont_splits``), except in the
  drums config, where only the training kits' keys that play it are left out
  (``held_out_sound_keys``: by sample hash or by sound; sf_GMbank's keys that play TimGM6mb's).
- ``split_by="preset"``: presets of the given fonts, ranked by a stable hash: one in ten to test,
  one in ten to validation (at least one each when there are three or more), the rest to train.
- ``"auto"``: by SoundFont when that fills all three splits, else by preset.

Example ``i`` of a split draws everything from ``numpy.random.default_rng([seed, split, i])``:
the dataset does not depend on how the work is divided among processes or machines.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import effects
from .audio_io import AudioError, encode_flac, load_audio
from .constants import (
    AUDIO_SUFFIXES, CLIP_S, DRUM_CLASS_OF_NOTE, DRUM_CLASSES, DRUM_HIT_HOLD_S, DRUM_NOTE_MIN,
    DRUM_NOTES, ENGINES, FAMILY_PITCH_RANGE, GM_FAMILIES, IMAGE_KINDS, KIT_KEY_CLASSES, KIT_KEYS_LEFT_OUT,
    KIT_NAME_KEY_CLASSES, PROGRAMS_PER_FAMILY,
    RELEASE_S, SAME_SOUND, SAME_SOUND_NOTES, SAME_SOUND_RATE, SAME_SOUND_S, SAME_SOUND_VELOCITIES, SAMPLE_RATE, SILENCE_PEAK, SPLITS,
    VELOCITY_RANGE,
)
from .features import check_config, features_for, image_column
from .hydrogen import DrumKit, kit_splits, resolve_drumkits
from .render import Note, create_engine
from .soundfonts import Preset, SoundFont, resolve_soundfonts, shared_kit_keys, soundfont_splits
from .spectrogram import images, png_bytes

MAX_ATTEMPTS = 12  # redraws before a source that never sounds is an error
HYDROGEN_LEVEL = 0.5  # a recorded kit's full-velocity hit peaks near SoundFont kits' loudest
# Share of a class's hits drawn from recorded (Hydrogen) kits when SoundFont kits have it too: a few
# hundred recorded instruments would otherwise drown among thousands of SoundFont keys.
RECORDED_SHARE = 0.4
SAMPLE_CACHE_FILES = 1024  # decoded recorded-kit samples kept (about 110 MB for all the system's kits)


@dataclass
class Spec:
    """Everything that determines a generated config. Same Spec, same bytes."""

    config: str
    seed: int = 0
    sample_rate: int = SAMPLE_RATE
    clip_s: float | None = None  # None: constants.CLIP_S[config]
    soundfonts: list[str] | None = None  # None: every SoundFont found on the system
    sample_dir: str | None = None  # the folder config's root
    # drums: recorded kit folders (Hydrogen kits, one-shot sample folders); None: the system's kits when
    # ``soundfonts`` is None too, else none
    drumkits: list[str] | None = None
    engines: tuple[str, ...] = ENGINES
    images: tuple[str, ...] = IMAGE_KINDS
    augment: effects.AugmentConfig = field(default_factory=effects.AugmentConfig)
    split_by: str = "auto"
    # notes: a SoundFont's weight (by name, e.g. {"ToneJS_Instruments": 8}) when a family's preset is
    # drawn; None or 1: every preset of the family alike
    font_weights: dict[str, float] | None = None
    # SoundFont renders run at this multiple of sample_rate and are resampled down (anti-aliased: see
    # render._Engine); 1 is how every dataset before the field was rendered, and what a Spec without it reads
    render_oversample: int = 2

    def __post_init__(self):
        check_config(self.config)
        if self.clip_s is None:
            self.clip_s = CLIP_S[self.config]
        if self.clip_s <= 0:
            raise ValueError(f"clip length must be positive, got {self.clip_s} s")
        for e in self.engines:
            if e not in ENGINES:
                raise ValueError(f"unknown engine {e!r}: choose from {', '.join(ENGINES)}")
        if self.split_by not in ("auto", "soundfont", "preset"):
            raise ValueError(f"split_by must be auto, soundfont or preset, not {self.split_by!r}")
        if self.drumkits and self.config != "drums":
            raise ValueError(f"--drumkit feeds the drums config only, not {self.config}")
        if self.font_weights:
            if self.config not in ("notes", "drums"):
                raise ValueError(f"--font-weight weighs the notes config's presets and the drums config's "
                                 f"SoundFont kits, not {self.config}'s")
            bad = {k: w for k, w in self.font_weights.items() if not (isinstance(w, (int, float)) and 0 < w < float("inf"))}
            if bad:
                raise ValueError(f"--font-weight: weights must be positive numbers, got {bad}")
        if int(self.render_oversample) != self.render_oversample or not 1 <= self.render_oversample <= 8:
            raise ValueError(f"--render-oversample {self.render_oversample!r}: a whole number, 1 (off) to 8")
        self.render_oversample = int(self.render_oversample)
        if self.config == "folder" and not self.sample_dir:
            raise ValueError("the folder config needs --sample-dir DIR (one sub-folder per instrument)")
        self.engines, self.images = tuple(self.engines), tuple(self.images)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        if not d["font_weights"]:
            del d["font_weights"]  # datasets written before the field keep their Spec, and their plan hash
        if d["render_oversample"] == 1:
            del d["render_oversample"]  # likewise: rendered as before the field
        d["augment"] = self.augment.to_dict()
        d["engines"], d["images"] = list(self.engines), list(self.images)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Spec":
        d = dict(d)
        d.setdefault("render_oversample", 1)  # written before the field: rendered at the sample rate itself
        aug = dict(d.pop("augment", {}))
        if "time_stretch_range" in aug:
            aug["time_stretch_range"] = tuple(aug["time_stretch_range"])
        return cls(augment=effects.AugmentConfig(**aug), **d)


def _rank_split(keys: list[str]) -> dict[str, str]:
    """Hold out sources by a stable hash rank: ~10 % test, ~10 % validation, the rest train."""
    ranked = sorted(keys, key=lambda k: (zlib.crc32(k.encode()), k))
    n = len(ranked)
    n_test = n_val = max(1, round(0.1 * n)) if n >= 3 else 0
    out = {}
    for i, k in enumerate(ranked):
        out[k] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


def _assign(sources: list[tuple[SoundFont, Preset]], split_by: str,
            by_key: bool = False) -> tuple[dict[str, list], str]:
    """Sources by split, and the rule that was used (``by_key``: see ``soundfont_splits``; the
    configs where one example plays one key (drums) or one preset (notes))."""
    def by_font():
        fonts = list({f.path: f for f, _ in sources}.values())
        melodic = soundfont_splits(fonts, by_key=by_key)
        kits = soundfont_splits(fonts, kits=True, by_key=by_key)
        return {s: [(f, p) for f, p in sources if (kits if p.bank == 128 or f.is_kit_only() else melodic)[f.path] == s]
                for s in SPLITS}

    if split_by in ("auto", "soundfont"):
        splits = by_font()
        if split_by == "soundfont" or all(splits.values()):
            return splits, "soundfont"
    keys = {f"{f.name}:{p.bank}:{p.program}": (f, p) for f, p in sources}
    ranks = _rank_split(sorted(keys))
    return {s: [keys[k] for k in sorted(keys) if ranks[k] == s] for s in SPLITS}, "preset"


class _SampleCache:
    """Decoded one-shot sample files at the config's rate, the most recently used kept."""

    def __init__(self, sr: int, size: int):
        self.sr, self.size = sr, size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, path: str | Path) -> np.ndarray:
        key = str(path)
        if key not in self._cache:
            x = load_audio(path, self.sr)
            if x.size == 0 or np.abs(x).max() <= SILENCE_PEAK:
                raise AudioError(f"{path}: silent or empty audio")
            self._cache[key] = x
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]


def _from_onset(x: np.ndarray, n: int, sr: int) -> np.ndarray:
    """``n`` samples of a one-shot recording from 10 ms before its onset (the first sample above 1 %
    of its peak), zero-padded."""
    start = max(0, int(np.argmax(np.abs(x) > 0.01 * np.abs(x).max())) - sr // 100)
    clip = x[start:start + n]
    return np.pad(clip, (0, n - len(clip)))


class Maker:
    """Makes example rows of one config. Build once per process; ``make`` is pure per index."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.sr = spec.sample_rate
        self.n_samples = int(round(spec.clip_s * self.sr))
        self.split_rule = ""
        self.labels: list[str] | None = None

    # -- shared -----------------------------------------------------------------------------
    def features(self):
        return features_for(self.spec.config, self.sr, self.spec.images, self.labels)

    def rng(self, split: str, index: int) -> np.random.Generator:
        return np.random.default_rng([self.spec.seed, SPLITS.index(split), index])

    def sources_in(self, split: str) -> list:
        raise NotImplementedError

    def reset(self) -> None:
        """Return to the initial state before a unit of work, so that its rows do not depend on
        what this process made before (and so not on process count or sharding)."""

    def make(self, split: str, index: int) -> dict:
        raise NotImplementedError

    def _finish(self, row: dict, audio: np.ndarray, params: dict, rng, pitch_applied: bool) -> dict:
        """Augment, encode audio and images, and add the columns every config shares."""
        audio = effects.apply(audio, self.sr, params, rng, pitch_applied=pitch_applied)
        row["audio"] = {"bytes": encode_flac(audio, self.sr), "path": None}
        row["effects"] = [effects.EFFECTS_INDEX[e] for e in effects.effect_labels(params)]
        row.update(params)
        for kind, pixels in images(audio, self.spec.images, self.sr).items():
            row[image_column(kind)] = {"bytes": png_bytes(pixels), "path": None}
        return row

    def describe(self) -> dict:
        """Sources per split, for the dataset card."""
        return {s: sorted({self._source_name(x) for x in self.sources_in(s)}) for s in SPLITS}

    def _source_name(self, src) -> str:
        f, p = src
        return f"{f.name} / {p.name} ({p.bank}:{p.program})"


class _SoundFontMaker(Maker):
    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.fonts = resolve_soundfonts(spec.soundfonts)
        self.engines = [create_engine(e, self.sr, spec.render_oversample) for e in spec.engines]
        self._probe = None  # engine that checks which keys sound, apart from the example engines
        self._sounding: dict[tuple[str, int, int], list[int]] = {}

    def reset(self) -> None:
        self.engines = [e if e.name == "tinysoundfont" else create_engine(e.name, self.sr, self.spec.render_oversample)
                        for e in self.engines]

    def _font_weights(self) -> dict[str, float]:
        """Each font's ``font_weights`` entry by path (1 where none is given); a name that is no font
        in use is an error naming the fonts that are."""
        weights = self.spec.font_weights or {}
        unknown = sorted(set(weights) - {f.name for f in self.fonts})
        if unknown:
            raise ValueError(f"--font-weight names no SoundFont in use: {', '.join(unknown)} "
                             f"(in use: {', '.join(sorted(f.name for f in self.fonts))})")
        return {f.path: float(weights.get(f.name, 1.0)) for f in self.fonts}

    def probe_engine(self):
        if self._probe is None:
            self._probe = create_engine(self.spec.engines[0], self.sr)  # at the rate itself: the plan does not depend on oversampling
        return self._probe

    def sounding_notes(self, font: SoundFont, kit: Preset) -> list[int]:
        """GM notes 35-81 that sound in this kit: kit-only fonts cover part of the key range."""
        key = (font.path, kit.bank, kit.program)
        if key not in self._sounding:
            engine = self.probe_engine()
            self._sounding[key] = [
                n for n in DRUM_NOTES
                if np.abs(engine.render(font.path, kit, [Note(0.0, DRUM_HIT_HOLD_S, n, 100)], 0.25,
                                        drum=True)).max() > SILENCE_PEAK
            ]
        return self._sounding[key]

    def _render(self, engine, font, preset, notes, drum, bend_cents) -> np.ndarray:
        return engine.render(font.path, preset, notes, self.spec.clip_s, drum=drum, bend_cents=bend_cents)

    def _common(self, font: SoundFont, preset: Preset, engine) -> dict:
        return {"instrument": preset.name, "soundfont": font.name, "bank": preset.bank,
                "preset": preset.program, "engine": engine.name}


def _key_renders(kits: list[tuple[SoundFont, Preset]], notes, drum: bool = True) -> tuple[list[tuple], np.ndarray]:
    """(font path, bank, program, key) and its unit-norm, zero-mean renders (one row per velocity
    of ``SAME_SOUND_VELOCITIES``), for the keys of ``kits`` (or melodic presets) in ``notes`` that sound."""
    from .render import available_engines, get_engine

    names = available_engines()  # TinySoundFont when installed (the reference), else FluidSynth
    engine = get_engine("tinysoundfont" if "tinysoundfont" in names else names[0], SAME_SOUND_RATE)
    ids, rows = [], []
    for font, kit in kits:
        for n in notes:
            for v in SAME_SOUND_VELOCITIES:
                x = engine.render(font.path, kit, [Note(0.0, 0.3, n, v)], SAME_SOUND_S, drum=drum).astype(np.float64)
                if np.abs(x).max() > SILENCE_PEAK:
                    x -= x.mean()
                    ids.append((font.path, kit.bank, kit.program, n))
                    rows.append(x / (np.linalg.norm(x) + 1e-12))
    return ids, np.stack(rows) if rows else np.zeros((0, int(SAME_SOUND_S * SAME_SOUND_RATE)))


def same_sound_keys(kits: list[tuple[SoundFont, Preset]], held: list[tuple[SoundFont, Preset]],
                    notes, drum: bool = True) -> set[tuple[str, int, int, int]]:
    """``(font path, bank, program, key)`` of each key of ``kits`` whose render is, at some velocity,
    the render of some key of ``held`` (correlation above ``SAME_SOUND``): the same recording,
    whatever bytes store it. ``drum=False``: melodic presets, played on ``notes``."""
    ids, x = _key_renders(kits, notes, drum)
    _, y = _key_renders(held, notes, drum)
    if not len(ids) or not len(y):
        return set()
    best = np.concatenate([(x[lo:lo + 512] @ y.T).max(axis=1) for lo in range(0, len(x), 512)])
    return {k for k, b in zip(ids, best) if b > SAME_SOUND}


def held_out_sound_keys(kits: list[tuple[SoundFont, Preset]], held: list[tuple[SoundFont, Preset]],
                        notes) -> set[tuple[str, int, int, int]]:
    """Keys of ``kits`` that play a recording of a kit in ``held``: a stored sample with the same
    bytes on any key (``shared_kit_keys``), or the same sound (``same_sound_keys``)."""
    return shared_kit_keys(kits, held, notes) | same_sound_keys(kits, held, notes)


def held_out_sound_presets(presets: list[tuple[SoundFont, Preset]],
                           held: list[tuple[SoundFont, Preset]]) -> set[tuple[str, int, int]]:
    """``(font path, bank, program)`` of each melodic preset of ``presets`` that plays a recording of
    a preset in ``held``: a stored sample with the same bytes on any key, or the same sound on one of
    ``SAME_SOUND_NOTES`` (GeneralUser GS stores TimGM6mb's Shenai and sounds like its Kalimba)."""
    keys = shared_kit_keys(presets, held, range(128)) | same_sound_keys(presets, held, SAME_SOUND_NOTES, drum=False)
    return {k[:3] for k in keys}


def draw_drum_candidate(rng: np.random.Generator, classes: list[str], cands: dict[str, list], recorded,
                        weight=None) -> tuple:
    """(class, candidate): a class uniformly, then one of its candidates; where a class has both
    recorded-kit candidates (``recorded(c)``) and SoundFont ones, the recorded get ``RECORDED_SHARE``
    of its hits. ``weight(c)`` (default 1 for all) weighs the candidates of the chosen pool; with no
    weight other than 1 among them the draw is the uniform one datasets were always made with (same
    bytes). Shared by the generator and the hit bank, so both draw alike."""
    cls = classes[rng.integers(len(classes))]
    pool = cands[cls]
    rec = [c for c in pool if recorded(c)]
    if rec and len(rec) < len(pool):
        pool = rec if rng.random() < RECORDED_SHARE else [c for c in pool if not recorded(c)]
    w = np.array([weight(c) for c in pool]) if weight is not None else None
    if w is None or (w == 1.0).all():
        return cls, pool[rng.integers(len(pool))]
    return cls, pool[rng.choice(len(pool), p=w / w.sum())]


def kit_key_classes(font: SoundFont, kit: Preset) -> dict[int, str | None]:
    """The class of each key 35-81 of a SoundFont kit: the GM map's, except where the kit plays
    another class (by font: the AVL kits; by a word of the kit's name: GS Brush sets), and None for a
    key left out (it sounds another class's recording under its own: constants.KIT_KEYS_LEFT_OUT)."""
    out = {**DRUM_CLASS_OF_NOTE, **KIT_KEY_CLASSES.get(font.key, {})}
    name = kit.name.lower()
    for word, keys in KIT_NAME_KEY_CLASSES.items():
        if word in name:
            out.update(keys)
    out.update(dict.fromkeys(KIT_KEYS_LEFT_OUT.get((font.key, name), ()), None))
    return out


class DrumMaker(_SoundFontMaker):
    """One drum or percussion hit per example, balanced over the 12 coarse classes."""

    def __init__(self, spec: Spec):
        super().__init__(spec)
        kits = [(f, k) for f in self.fonts for k in f.drum_kits()]
        if not kits:
            raise ValueError("no percussion kit in " + ", ".join(f.path for f in self.fonts)
                             + " (bank 128, or a kit-only font such as the AVL drumkits)")
        self.by_split, self.split_rule = _assign(kits, spec.split_by, by_key=True)
        self._shared_keys: set | None = None
        paths = spec.drumkits if spec.drumkits is not None else (None if spec.soundfonts is None else [])
        self.drumkits = resolve_drumkits(paths)
        self.kit_split = kit_splits(self.drumkits)  # recorded kits: the table's split, shared files held out together
        for kit in self.drumkits:
            self.by_split[self.kit_split[kit.path]].append((kit, None))
        self._candidates: dict[str, dict[str, list]] = {}
        self._samples = _SampleCache(self.sr, SAMPLE_CACHE_FILES)
        self._weight = self._font_weights()

    def _kit_weight(self, cand) -> float:
        """A candidate's ``font_weights`` entry: its SoundFont's (a recorded kit's hits weigh 1)."""
        return 1.0 if isinstance(cand[0], DrumKit) else self._weight[cand[0].path]

    def sources_in(self, split):
        return self.by_split[split]

    @property
    def shared_keys(self) -> set[tuple[str, int, int, int]]:
        """Training kit keys left out: one key is one sound here, so a training key that plays a
        held-out kit's recording is left out (computed when first needed: renders every kit key)."""
        if self._shared_keys is None:
            kits = {s: [(f, k) for f, k in self.by_split[s] if isinstance(f, SoundFont)] for s in SPLITS}
            self._shared_keys = (held_out_sound_keys(kits["train"], kits["validation"] + kits["test"], DRUM_NOTES)
                                 if self.split_rule == "soundfont" else set())
        return self._shared_keys

    def candidates(self, split: str) -> dict[str, list]:
        if split not in self._candidates:
            by_class: dict[str, list] = {c: [] for c in DRUM_CLASSES}
            for font, kit in self.by_split[split]:
                if isinstance(font, DrumKit):
                    for inst in font.instruments:
                        by_class[inst.drum_class].append((font, inst, inst.gm_note))
                    continue
                keys = kit_key_classes(font, kit)
                for n in self.sounding_notes(font, kit):
                    if split == "train" and (font.path, kit.bank, kit.program, n) in self.shared_keys:
                        continue
                    if keys[n] is not None:
                        by_class[keys[n]].append((font, kit, n))
            self._candidates[split] = {c: v for c, v in by_class.items() if v}
        return self._candidates[split]

    def make(self, split, index):
        rng = self.rng(split, index)
        cands = self.candidates(split)
        if not cands:
            raise ValueError(f"split {split!r} has no sounding drum kit: give more SoundFonts or --split-by preset")
        classes = sorted(cands, key=DRUM_CLASSES.index)
        for _ in range(MAX_ATTEMPTS):
            cls, (font, kit, note) = draw_drum_candidate(rng, classes, cands, lambda c: isinstance(c[0], DrumKit),
                                                         self._kit_weight if self.spec.font_weights else None)
            velocity = int(rng.integers(VELOCITY_RANGE[0], VELOCITY_RANGE[1] + 1))
            engine = self.engines[rng.integers(len(self.engines))]
            params = effects.draw(rng, self.spec.augment)
            if isinstance(font, DrumKit):
                audio = self._sample_hit(kit, velocity)
            else:
                audio = self._render(engine, font, kit, [Note(0.0, DRUM_HIT_HOLD_S, note, velocity)], True,
                                     params["pitch_shift_cents"])
            if np.abs(audio).max() > SILENCE_PEAK:
                break
        else:
            raise ValueError(f"{font.path}: kit '{kit.name}' note {note} renders silence")
        common = ({"instrument": kit.name, "soundfont": font.name, "bank": -1, "preset": -1, "engine": "sample"}
                  if isinstance(font, DrumKit) else self._common(font, kit, engine))
        row = {"id": f"drums-{split}-{index:07d}", "drum_class": DRUM_CLASSES.index(cls),
               "drum_note": note - DRUM_NOTE_MIN, "midi_note": note, "velocity": velocity, **common}
        return self._finish(row, audio, params, rng, pitch_applied=not isinstance(font, DrumKit))

    def _sample_hit(self, inst, velocity: int) -> np.ndarray:
        """One hit of a recorded kit's instrument: the velocity's layer, at Hydrogen's gain
        (velocity x layer x instrument), from 10 ms before its onset, cut or padded to the clip."""
        layer = inst.layer_for(velocity)
        clip = _from_onset(self._samples.get(layer.path), self.n_samples, self.sr)
        return np.clip(clip * (HYDROGEN_LEVEL * velocity / 127 * layer.gain * inst.gain), -1, 1).astype(np.float32)

    def _source_name(self, src) -> str:
        if isinstance(src[0], DrumKit):
            return f"{src[0].name} ({src[0].kind})"
        return super()._source_name(src)


class NoteMaker(_SoundFontMaker):
    """One pitched note per example (NSynth-like), balanced over the 16 GM families."""

    def __init__(self, spec: Spec):
        super().__init__(spec)
        presets = [(f, p) for f in self.fonts for p in f.melodic() if p.program < 128]
        if not presets:
            raise ValueError("no GM melodic preset (bank 0) in " + ", ".join(f.path for f in self.fonts))
        self.by_split, self.split_rule = _assign(presets, spec.split_by, by_key=True)
        if self.spec.clip_s <= RELEASE_S:
            raise ValueError(f"notes need a clip longer than the {RELEASE_S} s release, got {self.spec.clip_s} s")
        self._shared_presets: set | None = None
        self._by_family: dict[str, dict[int, list]] = {}
        self._weight = self._font_weights()

    def sources_in(self, split):
        return self.by_split[split]

    @property
    def shared_presets(self) -> set[tuple[str, int, int]]:
        """Training presets left out: one example plays one preset here, so a training font keeps its
        split but loses each preset that plays a held-out recording (computed when first needed)."""
        if self._shared_presets is None:
            held = self.by_split["validation"] + self.by_split["test"]
            self._shared_presets = (held_out_sound_presets(self.by_split["train"], held)
                                    if self.split_rule == "soundfont" else set())
        return self._shared_presets

    def make(self, split, index):
        rng = self.rng(split, index)
        if split not in self._by_family:
            self._by_family[split] = {}
            for font, p in self.by_split[split]:
                if split == "train" and (font.path, p.bank, p.program) in self.shared_presets:
                    continue
                self._by_family[split].setdefault(p.program // PROGRAMS_PER_FAMILY, []).append((font, p))
        by_family = self._by_family[split]
        if not by_family:
            raise ValueError(f"split {split!r} has no melodic preset: give more SoundFonts or --split-by preset")
        families = sorted(by_family)
        for _ in range(MAX_ATTEMPTS):
            fam = families[rng.integers(len(families))]
            font, preset = self._draw_preset(rng, by_family[fam])
            lo, hi = FAMILY_PITCH_RANGE[GM_FAMILIES[fam]]
            pitch = int(rng.integers(lo, hi + 1))
            velocity = int(rng.integers(VELOCITY_RANGE[0], VELOCITY_RANGE[1] + 1))
            hold_s = round(float(rng.uniform(0.25, self.spec.clip_s - RELEASE_S)), 3)
            engine = self.engines[rng.integers(len(self.engines))]
            params = effects.draw(rng, self.spec.augment)
            audio = self._render(engine, font, preset, [Note(0.0, hold_s, pitch, velocity)], False,
                                 params["pitch_shift_cents"])
            if np.abs(audio).max() > SILENCE_PEAK:
                break
        else:
            raise ValueError(f"{font.path}: preset '{preset.name}' renders silence at every pitch tried")
        row = {"id": f"notes-{split}-{index:07d}", "family": fam, "program": preset.program,
               "pitch": pitch, "velocity": velocity, "hold_s": hold_s, **self._common(font, preset, engine)}
        return self._finish(row, audio, params, rng, pitch_applied=True)

    def _draw_preset(self, rng, cands: list) -> tuple:
        """One of a family's presets, each weighted by its font's ``font_weights`` entry. With no weight
        other than 1 among them this is the uniform draw datasets were always made with (same bytes)."""
        w = np.array([self._weight[f.path] for f, _ in cands])
        if (w == 1.0).all():
            return cands[rng.integers(len(cands))]
        return cands[rng.choice(len(cands), p=w / w.sum())]


class FolderMaker(Maker):
    """A user's one-shot samples: one sub-folder per instrument, the folder name is the label."""

    CACHE_FILES = 256

    def __init__(self, spec: Spec):
        super().__init__(spec)
        root = Path(spec.sample_dir).expanduser()
        if not root.is_dir():
            raise ValueError(f"{root}: sample folder not found")
        folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not folders:
            raise ValueError(f"{root}: no instrument sub-folders (expected one folder per instrument)")
        self.root = root
        self.labels = [d.name for d in folders]
        self.files: dict[str, list[str]] = {}
        for d in folders:
            files = sorted(str(f.relative_to(root)) for f in d.rglob("*")
                           if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                raise ValueError(f"{d}: empty instrument folder (no {', '.join(AUDIO_SUFFIXES)} files)")
            for f in files:
                if (root / f).stat().st_size == 0:
                    raise AudioError(f"{root / f}: empty file (0 bytes)")
            self.files[d.name] = files
        self.split_rule = "file"
        self.by_split = {s: [] for s in SPLITS}
        for label, files in self.files.items():
            for f, s in _rank_split(files).items():
                self.by_split[s].append((label, f))
        self._samples = _SampleCache(self.sr, self.CACHE_FILES)

    def sources_in(self, split):
        return self.by_split[split]

    def _source_name(self, src):
        return src[1]

    def make(self, split, index):
        rng = self.rng(split, index)
        by_label: dict[str, list[str]] = {}
        for label, f in self.by_split[split]:
            by_label.setdefault(label, []).append(f)
        if not by_label:
            raise ValueError(f"split {split!r} has no sample file: each instrument needs 3+ files to fill all splits")
        labels = sorted(by_label)
        label = labels[rng.integers(len(labels))]
        rel = by_label[label][rng.integers(len(by_label[label]))]
        params = effects.draw(rng, self.spec.augment)
        x = self._samples.get(self.root / rel)
        clip = _from_onset(x, self.n_samples, self.sr)
        row = {"id": f"folder-{split}-{index:07d}", "label": self.labels.index(label), "source_file": rel,
               "instrument": label, "soundfont": "", "bank": -1, "preset": -1, "engine": "sample"}
        return self._finish(row, clip, params, rng, pitch_applied=False)


class MixtureMaker(_SoundFontMaker):
    """Polyphonic multi-instrument clips with note-level labels, for transcription.

    Procedurally composed parts (or windows of the MIDI files in ``spec.sample_dir``), each
    rendered with a preset of the split's SoundFonts, given its own effects (no time stretch:
    note times stay exact; the detune is done in the synth and recorded), mixed at drawn levels,
    then noise and mp3 artefacts on the mix.
    """

    MIDI_FRACTION = 0.5  # of examples taken from MIDI files, when a MIDI folder is given

    def __init__(self, spec: Spec):
        super().__init__(spec)
        melodic = [(f, p) for f in self.fonts for p in f.melodic() if p.program < 128]
        kits = [(f, k) for f in self.fonts for k in f.drum_kits()]
        if not melodic:
            raise ValueError("no GM melodic preset (bank 0) in " + ", ".join(f.path for f in self.fonts))
        self.by_split, self.split_rule = _assign(melodic + kits, spec.split_by)
        self.midi_by_split = {s: [] for s in SPLITS}
        if spec.sample_dir:
            root = Path(spec.sample_dir).expanduser()
            if not root.is_dir():
                raise ValueError(f"{root}: MIDI folder not found")
            files = sorted(str(f) for f in root.rglob("*") if f.suffix.lower() in (".mid", ".midi"))
            if not files:
                raise ValueError(f"{root}: no .mid or .midi files")
            for f, split in _rank_split(files).items():
                self.midi_by_split[split].append(f)
        track_aug = dict(spec.augment.to_dict(), time_stretch=0.0, noise=0.0, mp3=0.0)
        track_aug["time_stretch_range"] = tuple(track_aug["time_stretch_range"])
        self.track_augment = effects.AugmentConfig(**track_aug)
        self.mix_augment = effects.AugmentConfig(**{**effects.AugmentConfig.dry().to_dict(),
                                                    "noise": spec.augment.noise, "mp3": spec.augment.mp3,
                                                    "time_stretch_range": (0.9, 1.1)})

    def sources_in(self, split):
        return self.by_split[split]

    def _preset_for(self, rng, split: str, program: int, is_drum: bool):
        pool = self.by_split[split]
        if is_drum:
            cands = [(f, p) for f, p in pool if p.bank == 128 or f.is_kit_only()]
        else:
            melodic = [(f, p) for f, p in pool if p.bank == 0 and not f.is_kit_only()]
            cands = ([(f, p) for f, p in melodic if p.program == program]
                     or [(f, p) for f, p in melodic if p.program // PROGRAMS_PER_FAMILY == program // PROGRAMS_PER_FAMILY]
                     or melodic)
        return cands[rng.integers(len(cands))] if cands else None

    def make(self, split, index):
        from .music import compose, parts_from_midi

        rng = self.rng(split, index)
        midi_files = self.midi_by_split[split]
        source, bpm = "procedural", 0.0
        if midi_files and rng.random() < self.MIDI_FRACTION:
            path = midi_files[rng.integers(len(midi_files))]
            parts, source = parts_from_midi(path, rng, self.spec.clip_s), Path(path).name
        else:
            parts, bpm = compose(rng, self.spec.clip_s)
        mix = np.zeros(self.n_samples, np.float32)
        notes, tracks = [], []
        for part in parts:
            chosen = self._preset_for(rng, split, part.program, part.is_drum)
            if chosen is None:
                continue  # no kit (or preset) in this split: the part is left out, and so are its labels
            font, preset = chosen
            engine = self.engines[rng.integers(len(self.engines))]
            params = effects.draw(rng, self.track_augment)
            part_notes = part.notes
            if part.is_drum:
                sounding = set(self.sounding_notes(font, preset))
                part_notes = [n for n in part_notes if n.pitch in sounding]
            if not part_notes:
                continue
            audio = engine.render(font.path, preset, part_notes, self.spec.clip_s, drum=part.is_drum,
                                  bend_cents=params["pitch_shift_cents"])
            audio = effects.apply(audio, self.sr, params, rng, pitch_applied=True)
            gain_db = round(float(rng.uniform(-12, 0)), 2)
            mix += audio * np.float32(10 ** (gain_db / 20))
            track = len(tracks)
            program = -1 if part.is_drum else preset.program
            tracks.append({"role": part.role, "program": program, "is_drum": part.is_drum,
                           "instrument": preset.name, "soundfont": font.name, "engine": engine.name,
                           "mix_gain_db": gain_db, "effects": effects.effect_labels(params),
                           "effect_params": json.dumps(params, sort_keys=True)})
            notes += [{"onset_s": n.onset_s, "offset_s": n.offset_s, "pitch": n.pitch, "velocity": n.velocity,
                       "program": program, "is_drum": part.is_drum, "track": track} for n in part_notes]
        mix_params = effects.draw(rng, self.mix_augment)
        audio = effects.apply(mix, self.sr, mix_params, rng, pitch_applied=True)
        notes.sort(key=lambda n: (n["onset_s"], n["pitch"]))
        row = {"id": f"mixtures-{split}-{index:07d}", "audio": {"bytes": encode_flac(audio, self.sr), "path": None},
               "notes": notes, "tracks": tracks, "tempo_bpm": round(bpm, 2), "source": source,
               "noise_snr_db": mix_params["noise_snr_db"], "mp3_vbr_quality": mix_params["mp3_vbr_quality"]}
        for kind, pixels in images(audio, self.spec.images, self.sr).items():
            row[image_column(kind)] = {"bytes": png_bytes(pixels), "path": None}
        return row

    def _source_name(self, src):
        f, p = src
        return f"{f.name} / {p.name} ({p.bank}:{p.program})"


MAKERS = {"drums": DrumMaker, "notes": NoteMaker, "folder": FolderMaker, "mixtures": MixtureMaker}


def make_maker(spec: Spec) -> Maker:
    return MAKERS[spec.config](spec)
