"""The classification tasks of the model zoo: which dataset column each one learns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dub_dataset.constants import CLIP_S, DRUM_CLASSES, EFFECTS, GM_FAMILIES, PROGRAMS_PER_FAMILY

DRY = "dry"


@dataclass(frozen=True)
class Task:
    name: str
    dataset_config: str  # dub dataset config the task trains on
    label_column: str
    labels: tuple[str, ...]
    multi_label: bool = False
    kind: str = "classification"  # or "transcription" (frame-wise notes, dub_models.transcriber)
    # SpecAugment masks per training example by default. Off for effects: a frequency mask looks like
    # a filter notch and a time mask like a gap between echoes, so masks would contradict the labels.
    spec_augment: int = 2

    @property
    def clip_s(self) -> float:
        return CLIP_S[self.dataset_config]

    @property
    def problem_type(self) -> str:
        return "multi_label_classification" if self.multi_label else "single_label_classification"


def _program_labels() -> tuple[str, ...]:
    from dub_dataset.features import gm_program_names

    return tuple(gm_program_names())


TASKS = {
    "drums": Task("drums", "drums", "drum_class", DRUM_CLASSES),
    # GM program (128 classes); the family is program // 8, scored from the summed probabilities.
    "instrument": Task("instrument", "notes", "program", ()),
    "effects": Task("effects", "notes", "effects", (*EFFECTS, DRY), multi_label=True, spec_augment=0),
    # notes with onset, offset, pitch, velocity, program and drums, from the mixtures config
    "transcription": Task("transcription", "mixtures", "notes", (), kind="transcription"),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: choose from {', '.join(TASKS)}")
    task = TASKS[name]
    if name == "instrument":
        task = dataclasses.replace(task, labels=_program_labels())
    return task


def family_of_program(program: int) -> str:
    return GM_FAMILIES[program // PROGRAMS_PER_FAMILY]


def targets(task: Task, values):
    """Dataset column values -> integer class ids (single label) or multi-hot rows (multi label)."""
    import numpy as np

    if not task.multi_label:
        return np.asarray(values, dtype=np.int64)
    out = np.zeros((len(values), len(task.labels)), dtype=np.float32)
    dry = task.labels.index(DRY)
    for i, active in enumerate(values):
        if len(active) == 0:
            out[i, dry] = 1.0
        for a in active:
            out[i, a] = 1.0  # dataset effect ids line up with task.labels[:len(EFFECTS)]
    return out
