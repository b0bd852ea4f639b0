"""The dataset card (README.md): YAML the Hub and ``load_dataset`` read, and prose for people."""

from __future__ import annotations

import shlex

from .constants import (CLIP_S, DRUM_CLASS_NOTES, ENGINES, IMAGE_KINDS, KIT_KEY_CLASSES, KIT_KEYS_LEFT_OUT,
                        KIT_NAME_KEY_CLASSES, SAME_SOUND_NOTES, SAMPLE_RATE, SPLITS)

_CONFIG_TEXT = {
    "drums": "one drum or percussion hit per example (GM notes 35-81), balanced over 12 coarse classes",
    "notes": "one pitched note per example (NSynth-like), balanced over the 16 GM families",
    "folder": "one-shot samples from a user's folders, one folder per instrument (folder name = label)",
}


def spec_changes(base: dict, other: dict) -> str:
    """What ``other`` (a Spec as a dict) sets differently from ``base``: "max_pitch_shift_cents 100, ..."."""
    def flat(d):
        return {**{k: v for k, v in d.items() if k != "augment"}, **d.get("augment", {})}
    a, b = flat(base), flat(other)
    def show(v):
        return f"{v:g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k} {show(b[k])}" for k in sorted(b) if a.get(k) != b[k]) or "nothing"


def generate_command(config: str, spec: dict, num_examples: int) -> str:
    """The ``dub generate`` command that draws the examples of ``spec`` (a Spec as a dict, as dub.json
    stores it): every option that differs from the command's default, paths as they were given."""
    from .effects import STEP_NAMES, AugmentConfig

    aug, default = spec.get("augment", {}), AugmentConfig().to_dict()
    parts = [f"dub generate --config {config} --num-examples {num_examples} --seed {spec['seed']}"]
    if spec.get("sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
        parts.append(f"--sample-rate {spec['sample_rate']}")
    if spec.get("render_oversample", 1) != 2:  # absent: written before the field, rendered without it
        parts.append(f"--render-oversample {spec.get('render_oversample', 1)}")
    if spec.get("clip_s") not in (None, CLIP_S.get(config)):
        parts.append(f"--clip-seconds {spec['clip_s']:g}")
    if aug and all(not aug.get(k) for k in STEP_NAMES):
        parts.append("--dry")
    if aug.get("max_pitch_shift_cents", default["max_pitch_shift_cents"]) != default["max_pitch_shift_cents"]:
        parts.append(f"--max-pitch-shift-cents {aug['max_pitch_shift_cents']:g}")
    for name, w in (spec.get("font_weights") or {}).items():
        parts.append(f"--font-weight {shlex.quote(f'{name}={w:g}')}")
    if spec.get("split_by", "auto") != "auto":
        parts.append(f"--split-by {spec['split_by']}")
    if tuple(spec.get("engines", ENGINES)) != ENGINES:
        parts.append(f"--engines {','.join(spec['engines'])}")
    if tuple(spec.get("images", IMAGE_KINDS)) != IMAGE_KINDS:
        parts.append(f"--images {','.join(spec['images']) or repr('')}")
    parts += [f"--soundfont {shlex.quote(str(f))}" for f in spec.get("soundfonts") or []]
    kits = spec.get("drumkits")
    parts += [f"--drumkit {shlex.quote(str(k))}" for k in kits or []]
    if kits == [] and spec.get("soundfonts") is None:
        parts.append("--drumkit ''")  # the system's fonts without their recorded kits
    if spec.get("sample_dir"):
        parts.append(f"--sample-dir {shlex.quote(str(spec['sample_dir']))}")
    return " ".join(parts)


def split_spec_phrases(m: dict) -> list[str]:
    """What the splits written apart (``dub generate --splits``) with another Spec changed, one phrase
    per change: "the validation and test splits written apart (...) with max_pitch_shift_cents 100"."""
    by_change: dict[str, list[str]] = {}
    for split, spec in m.get("split_specs", {}).items():
        by_change.setdefault(spec_changes(m["spec"], spec), []).append(split)
    return [f"the {' and '.join(splits)} split{'s' if len(splits) > 1 else ''} written apart (`--splits "
            f"{','.join(splits)}`, the same examples drawn) with {change}" for change, splits in by_change.items()]


def split_spec_lines(m: dict) -> list[str]:
    """Card lines for ``split_spec_phrases``."""
    return [f"- {p[0].upper()}{p[1:]}." for p in split_spec_phrases(m)]


def _yaml(meta: dict):
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    card = DatasetCardData(
        license="other",
        task_categories=["audio-classification"],
        tags=["audio", "music", "soundfont", "synthetic", "dub"],
        pretty_name="dub: rendered, augmented instrument samples",
    )
    configs, infos = {}, {}
    for i, (name, m) in enumerate(sorted(meta.items())):
        sizes = {s: n for s, n in m["split_sizes"].items() if n}
        configs[name] = {"data_files": [{"split": s, "path": f"data/{name}/{s}-*.parquet"} for s in sizes]}
        if i == 0:
            configs[name]["default"] = True
        splits = SplitDict()
        for s, n in sizes.items():
            splits.add(SplitInfo(name=s, num_examples=n))
        infos[name] = DatasetInfo(features=Features.from_dict(m["features"]), splits=splits, config_name=name)
    MetadataConfigs(configs).to_dataset_card_data(card)
    DatasetInfosDict(infos).to_dataset_card_data(card)
    return card


def dataset_card(meta: dict) -> str:
    """Card text for a dataset folder whose dub.json is ``meta`` (config name -> record)."""
    from huggingface_hub import DatasetCard

    lines = ["# dub dataset", "",
             "Instrument samples rendered from General MIDI SoundFonts (FluidSynth and TinySoundFont, "
             "their own reverb and chorus off) or read from sample folders, then augmented: every "
             "augmentation parameter is a column, so effects are labels, not noise. Made by "
             "[dub](https://github.com/) `dub generate`; the same command and seed give the same bytes.", "",
             "```python", "from datasets import load_dataset",
             f"ds = load_dataset(\"<this repo or folder>\", \"{sorted(meta)[0]}\")", "```", ""]
    for name, m in sorted(meta.items()):
        spec = m["spec"]
        lines += [f"## Config `{name}`", "", _CONFIG_TEXT.get(name, ""), "",
                  "| split | examples |", "| --- | --- |"]
        lines += [f"| {s} | {m['split_sizes'][s]} |" for s in SPLITS]
        lines += ["", f"- Made with: `{generate_command(name, spec, sum(m['split_sizes'].values()))}` "
                      f"(dub {m['dub_version']}), "
                      f"{spec['sample_rate']} Hz, {spec['clip_s']} s clips, engines: {', '.join(spec['engines'])}, "
                      f"images: {', '.join(spec['images'])}.",
                  *split_spec_lines(m),
                  f"- Held out by **{m['split_rule']}**: no instrument source appears in two splits."]
        for s in SPLITS:
            srcs = m["sources"].get(s, [])
            shown = ", ".join(srcs[:12]) + (f" ... ({len(srcs)} in all)" if len(srcs) > 12 else "")
            lines.append(f"  - {s}: {shown or 'none'}")
        if m.get("shared_keys_left_out"):
            lines.append("- Left out of training: the kit keys that play a held-out kit's recording (the same "
                         "stored sample on any key or velocity layer, or the same sound; "
                         + ", ".join(f"{f}: {n}" for f, n in m["shared_keys_left_out"].items())
                         + " keys), so no held-out recording is heard in training.")
        if m.get("shared_presets_left_out"):
            lines.append("- Left out of training: the melodic presets that play a held-out font's recording (the same "
                         f"stored sample on any key, or the same sound on keys {', '.join(map(str, SAME_SOUND_NOTES))}; "
                         + ", ".join(f"{f}: {n}" for f, n in m["shared_presets_left_out"].items())
                         + " presets), so no held-out recording is heard in training.")
        aug = spec["augment"]
        lines.append("- Augmentation probabilities: " + ", ".join(
            f"{k} {v}" for k, v in aug.items() if not isinstance(v, list) and k in (
                "pitch_shift", "time_stretch", "gain", "distortion", "filter", "chorus", "delay",
                "reverb", "noise", "mp3")) + ".")
        if m["soundfonts"]:
            lines.append("- SoundFonts and their licences (the audio inherits them):")
            lines += [f"  - {f['file']}: {f['license']}" for f in m["soundfonts"]]
        if m.get("drumkits"):
            lines.append("- Recorded drum kits (Hydrogen kits, one-shot sample folders; instrument or file names, or a "
                         "file's GM key prefix, give the coarse class), their splits and licences:")
            lines += [f"  - {k['name']} ({k.get('kind', 'Hydrogen kit')}, {k['split']}): {k['license']}" if "split" in k
                      else f"  - {k['name']}: {k['license']}" for k in m["drumkits"]]
        if name == "drums":
            lines.append("- Coarse classes by GM note: " + "; ".join(
                f"{c} {list(n)}" for c, n in DRUM_CLASS_NOTES.items()) + "; other_percussion: every other note 35-81.")
            off = [f"{font} keys {', '.join(f'{k} {c}' for k, c in keys.items())}" for font, keys in KIT_KEY_CLASSES.items()]
            off += [f"every kit named '{word}': keys {', '.join(f'{k} {c}' for k, c in keys.items())}"
                    for word, keys in KIT_NAME_KEY_CLASSES.items()]
            lines.append("- Labels follow the GM key map, except kit keys that play another class: " + "; ".join(off)
                         + ". Left out of every split, as they sound another class's recording under their own: "
                         + "; ".join(f"{f} / {k} keys {', '.join(map(str, n))}" for (f, k), n in KIT_KEYS_LEFT_OUT.items()) + ".")
        lines.append("")
    lines += ["## Columns", "",
              "Audio is 16-bit FLAC. Effect parameters are 0 (or null) when the effect is off; "
              "`effects` lists the audible effects applied (empty = dry). Images are PNG: `*_image` "
              "columns hold DFT spectrograms (Hamming, Dolph-Chebyshev windows), a peak spectrum "
              "(peak-hold magnitude per frequency over the clip) and the log-mel the models use.", ""]
    return DatasetCard.from_template(_yaml(meta), template_str="---\n{{ card_data }}\n---\n\n" + "\n".join(lines)).content + "\n"
