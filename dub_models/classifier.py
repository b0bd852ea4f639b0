"""Audio-spectrogram-transformer classifiers: build, load, and classify files.

A dub classifier is a plain ``ASTForAudioClassification`` (or dub's CNN) with an ``ASTFeatureExtractor``
set for the task's clip length (``DubFeatureExtractor``: the same, short clips padded with silence),
saved with ``save_pretrained``: ``transformers.pipeline("audio-classification", model=folder)`` loads
an AST one with no dub import (its folder names ``ASTFeatureExtractor``, so short clips are then padded
as AST pads them, with loud log-mel zeros; ``load_pipeline`` pads with silence); ``import dub_models``
registers the CNN, whose folders name ``DubFeatureExtractor``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dub_dataset.constants import GM_FAMILIES, SAMPLE_RATE, SILENCE_PEAK

from .tasks import DRY, Task, family_of_program, get_task

WEIGHTS_DIR = Path(__file__).parent / "weights"

# name: (hidden, layers, heads, intermediate, patch stride in frequency and time)
SIZES = {
    "tiny": (96, 4, 4, 384, 16),
    "small": (192, 6, 6, 768, 12),
    "base": (768, 12, 12, 3072, 10),  # AST's own size (e.g. MIT/ast-finetuned-audioset-10-10-0.4593)
}
N_MEL_BINS = 128  # AST's Kaldi-style filterbank
FRAMES_PER_S = 100  # 10 ms frame shift


def num_frames(clip_s: float) -> int:
    """Feature frames AST sees for a clip: 25 ms windows every 10 ms (the same count at any rate)."""
    return 1 + int((clip_s * SAMPLE_RATE - 400) // 160)


def feature_extractor(task: Task, mean: float = -4.2677393, std: float = 4.5689974, sample_rate: int = SAMPLE_RATE):
    from .features import DubFeatureExtractor  # AST's features, short clips padded with silence

    return DubFeatureExtractor(sampling_rate=sample_rate, num_mel_bins=N_MEL_BINS,
                               max_length=num_frames(task.clip_s), mean=mean, std=std)


def build_model(task: Task, size: str = "tiny", seed: int = 0, arch: str = "ast"):
    """A new, randomly initialised classifier for ``task`` (``arch``: ast, cnn, or cnn-freq: the CNN with a frequency-aware head)."""
    import torch
    from transformers import ASTConfig, ASTForAudioClassification

    if arch in ("cnn", "cnn-freq"):
        from .cnn import DubCNNConfig, DubCNNForAudioClassification

        torch.manual_seed(seed)
        model = DubCNNForAudioClassification(DubCNNConfig(
            num_mel_bins=N_MEL_BINS, num_frames=num_frames(task.clip_s), id2label=dict(enumerate(task.labels)),
            label2id={name: i for i, name in enumerate(task.labels)}, problem_type=task.problem_type,
            pooling="time" if arch == "cnn-freq" else "global"))
        model.config.dub_task = task.name
        return model
    if arch != "ast":
        raise ValueError(f"unknown architecture {arch!r}: choose ast, cnn or cnn-freq")
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}: choose from {', '.join(SIZES)}")
    hidden, layers, heads, inter, stride = SIZES[size]
    config = ASTConfig(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=inter,
        frequency_stride=stride, time_stride=stride, num_mel_bins=N_MEL_BINS,
        max_length=num_frames(task.clip_s), hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
        id2label=dict(enumerate(task.labels)), label2id={name: i for i, name in enumerate(task.labels)},
        problem_type=task.problem_type,
    )
    config.dub_task = task.name
    torch.manual_seed(seed)
    return ASTForAudioClassification(config)


def from_checkpoint(task: Task, checkpoint: str, arch: str | None = None):
    """Fine-tune from a pretrained classifier, a folder or Hub id: an AST (e.g.
    ``MIT/ast-finetuned-audioset-10-10-0.4593``: its encoder, a new head for ``task``, and its own
    patch/stride/length settings), or a dub model (a shipped one goes on training on new data; its
    head is kept when its labels are the task's). ``arch`` "cnn" or "cnn-freq" on a dub CNN keeps
    its convolutions and gives it that head (global pooling, or pooling over time only): a new head
    when the checkpoint's pooling differs; None keeps the checkpoint's architecture."""
    from transformers import AutoConfig, AutoModelForAudioClassification

    from . import cnn  # noqa: F401  (registers dub-cnn with the Auto classes)

    labels = dict(enumerate(task.labels))
    try:
        config = AutoConfig.from_pretrained(checkpoint)
        is_cnn = getattr(config, "model_type", None) == "dub-cnn"
        if is_cnn and getattr(config, "dub_task", None) not in (None, task.name):
            raise ValueError(f"{checkpoint!r} is a dub model for the {config.dub_task} task, not for {task.name}")
        overrides = {}
        if arch is not None:
            if (arch in ("cnn", "cnn-freq")) != is_cnn:
                raise ValueError(f"--arch {arch} cannot start from {checkpoint!r}, a {config.model_type} model: "
                                 "leave --arch out to keep its architecture")
            if is_cnn:
                overrides["pooling"] = "time" if arch == "cnn-freq" else "global"
        model = AutoModelForAudioClassification.from_pretrained(
            checkpoint, num_labels=len(task.labels), id2label=labels,
            label2id={n: i for i, n in enumerate(task.labels)}, problem_type=task.problem_type,
            ignore_mismatched_sizes=True, **overrides)
    except OSError as e:
        raise ValueError(f"cannot load the checkpoint {checkpoint!r}: {e}") from e
    model.config.dub_task = task.name
    return model


def shipped_model(task: str) -> Path:
    path = WEIGHTS_DIR / task
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no shipped model for task {task!r} in {path}: train one with "
                                f"`dub train --task {task}` or pass --model DIR_OR_HUB_ID")
    return path


def load_pipeline(model: str | Path):
    """``transformers.pipeline`` for a saved classifier folder or Hub id."""
    from transformers import pipeline

    from .features import DubFeatureExtractor  # short clips padded with silence, whatever the folder names

    return pipeline("audio-classification", model=str(model), device="cpu",
                    feature_extractor=DubFeatureExtractor.from_pretrained(str(model)))


def label_thresholds(config) -> np.ndarray:
    """A multi-label model's threshold per label on sigmoid scores, in label order: its config's
    ``label_thresholds`` (picked on validation by the trainer or ``dub evaluate --tune-thresholds``),
    0.5 for a label it does not name."""
    named = getattr(config, "label_thresholds", None) or {}
    return np.array([float(named.get(config.id2label[i], 0.5)) for i in range(config.num_labels)])


def exclusive_decode(active: np.ndarray, margin: np.ndarray, k: int | None) -> np.ndarray:
    """Active labels [N, L] (bool) where label ``k`` (``dry``: no effect) and the others exclude each
    other: a clip given both keeps the side whose best ``margin`` (sigmoid score minus threshold) is
    larger. ``k`` None: ``active`` as it is."""
    active = np.array(active, dtype=bool, copy=True)
    if k is None:
        return active
    others = np.delete(np.arange(active.shape[1]), k)
    both = active[:, k] & active[:, others].any(1)
    k_wins = margin[:, k] > margin[:, others].max(1)
    active[np.ix_(both & k_wins, others)] = False
    active[both & ~k_wins, k] = False
    return active


def exclusive_label(labels) -> int | None:
    """The index of the label that excludes the others (``dry``), if the labels have it."""
    labels = list(labels)
    return labels.index(DRY) if DRY in labels else None


def classify_arrays(pipe, arrays: list[np.ndarray], top_k: int = 3, sample_rate: int | None = None) -> list[dict]:
    """Top labels per mono array at ``sample_rate`` (None: the model's own,
    ``pipe.feature_extractor.sampling_rate``; other rates are resampled). Silence is reported, not classified."""
    from dub_dataset.audio_io import resample

    rate = pipe.feature_extractor.sampling_rate
    arrays = [resample(np.asarray(x, dtype=np.float32), sample_rate or rate, rate) for x in arrays]
    task = getattr(pipe.model.config, "dub_task", None)
    multi = pipe.model.config.problem_type == "multi_label_classification"
    th = label_thresholds(pipe.model.config) if multi else None
    results = []
    for x in arrays:
        if x.size == 0 or float(np.abs(x).max()) <= SILENCE_PEAK:
            results.append({"silent": True, "labels": []})
            continue
        num = pipe.model.config.num_labels
        scores = pipe({"raw": x, "sampling_rate": rate}, top_k=num)
        res = {"silent": False, "labels": scores[:top_k]}
        if task == "instrument":
            fam = np.zeros(len(GM_FAMILIES))
            for s in scores:
                fam[GM_FAMILIES.index(family_of_program(pipe.model.config.label2id[s["label"]]))] += s["score"]
            order = np.argsort(-fam)[:top_k]
            res["families"] = [{"label": GM_FAMILIES[i], "score": float(fam[i])} for i in order]
        if multi:
            ids = [pipe.model.config.label2id[s["label"]] for s in scores]
            prob = np.zeros(num)
            prob[ids] = [s["score"] for s in scores]
            names = [pipe.model.config.id2label[i] for i in range(num)]
            on = exclusive_decode((prob >= th)[None], (prob - th)[None], exclusive_label(names))[0]
            res["active"] = [s["label"] for s, i in zip(scores, ids) if on[i]]  # by score
        results.append(res)
    return results


def classify_files(files: list[str], task: str | None = None, model: str | None = None, top_k: int = 3) -> list[dict]:
    """Classify audio files (any common format, rate and channel count)."""
    from dub_dataset.audio_io import load_audio

    if model is None:
        if task is None:
            raise ValueError("give --task or --model")
        get_task(task)
        model = shipped_model(task)
    pipe = load_pipeline(model)
    arrays = [load_audio(f, pipe.feature_extractor.sampling_rate) for f in files]  # errors name the file
    return [{"file": str(f), **r} for f, r in zip(files, classify_arrays(pipe, arrays, top_k))]
