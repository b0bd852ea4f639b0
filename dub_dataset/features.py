"""The dataset schema of each config: explicit ``datasets.Features``."""

from __future__ import annotations

import re

from .constants import DRUM_CLASSES, DRUM_NOTES, EFFECTS, GM_FAMILIES, IMAGE_KINDS

CONFIGS = ("drums", "notes", "folder", "mixtures")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def gm_program_names() -> list[str]:
    """128 GM program names as slugs, index = program (``acoustic_grand_piano``...)."""
    from pretty_midi.constants import INSTRUMENT_MAP

    return [_slug(n) for n in INSTRUMENT_MAP]


def gm_drum_names() -> list[str]:
    """GM percussion names for notes 35-81 as slugs, index = note - 35."""
    from pretty_midi.constants import DRUM_MAP

    assert len(DRUM_MAP) == len(DRUM_NOTES)
    return [_slug(n) for n in DRUM_MAP]


def image_column(kind: str) -> str:
    return f"{kind}_image"


def check_config(config: str) -> str:
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}: choose from {', '.join(CONFIGS)}")
    return config


def features_for(config: str, sample_rate: int, images: tuple[str, ...] = IMAGE_KINDS,
                 labels: list[str] | None = None):
    """``datasets.Features`` of one config. ``labels``: the folder config's class names."""
    from datasets import Audio, ClassLabel, Features, Image, List, Value

    from .effects import COLUMNS

    check_config(config)
    for kind in images:
        if kind not in IMAGE_KINDS:
            raise ValueError(f"unknown image kind {kind!r}: choose from {', '.join(IMAGE_KINDS)}")
    cols: dict = {"id": Value("string"), "audio": Audio(sampling_rate=sample_rate)}
    if config == "drums":
        cols |= {
            "drum_class": ClassLabel(names=list(DRUM_CLASSES)),
            "drum_note": ClassLabel(names=gm_drum_names()),
            "midi_note": Value("int16"),
            "velocity": Value("int16"),
        }
    elif config == "notes":
        cols |= {
            "family": ClassLabel(names=list(GM_FAMILIES)),
            "program": ClassLabel(names=gm_program_names()),
            "pitch": Value("int16"),
            "velocity": Value("int16"),
            "hold_s": Value("float32"),
        }
    elif config == "mixtures":
        cols |= {
            "notes": List({"onset_s": Value("float32"), "offset_s": Value("float32"), "pitch": Value("int16"),
                           "velocity": Value("int16"), "program": Value("int16"), "is_drum": Value("bool"),
                           "track": Value("int16")}),
            "tracks": List({"role": Value("string"), "program": Value("int16"), "is_drum": Value("bool"),
                            "instrument": Value("string"), "soundfont": Value("string"), "engine": Value("string"),
                            "mix_gain_db": Value("float32"), "effects": List(Value("string")),
                            "effect_params": Value("string")}),
            "tempo_bpm": Value("float32"),
            "source": Value("string"),  # "procedural" or the MIDI file's name
            "noise_snr_db": Value("float32"),
            "mp3_vbr_quality": Value("float32"),
        }
        cols |= {image_column(kind): Image() for kind in images}
        return Features(cols)
    else:
        if not labels:
            raise ValueError("the folder config needs its class labels (the sample folders' names)")
        cols |= {"label": ClassLabel(names=list(labels)), "source_file": Value("string")}
    cols |= {
        "instrument": Value("string"),  # preset or folder name
        "soundfont": Value("string"),
        "bank": Value("int16"),
        "preset": Value("int16"),
        "engine": Value("string"),
        "effects": List(ClassLabel(names=list(EFFECTS))),
    }
    cols |= {name: Value(dtype) for name, dtype in COLUMNS.items()}
    cols |= {image_column(kind): Image() for kind in images}
    return Features(cols)
