"""Transcription scores with mir_eval: note onset F1, onset+offset F1, frame F1, multi-instrument
F1 (a note matches only within its GM family) and drum onset F1 (per coarse drum class).

Counts (matches, reference notes, estimated notes) are summed over clips, and the F1s computed
from the sums (micro-averaged), so short clips with few notes do not dominate.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from dub_dataset.constants import DRUM_CLASS_OF_NOTE, PROGRAMS_PER_FAMILY

from .notes import NoteEvent

ONSET_TOLERANCE_S = 0.05
METRICS = ("onset", "onset_offset", "frame", "multi_instrument", "drums")


def _as_event(n) -> NoteEvent:
    if isinstance(n, NoteEvent):
        return n
    return NoteEvent(float(n["onset_s"]), float(n["offset_s"]), int(n["pitch"]), int(n["velocity"]),
                     max(0, int(n.get("program", 0))), bool(n.get("is_drum", False)))


def _arrays(notes: list[NoteEvent]):
    if not notes:
        return np.zeros((0, 2)), np.zeros(0)
    iv = np.array([[n.onset_s, max(n.offset_s, n.onset_s + 0.01)] for n in notes], float)
    hz = 440.0 * 2.0 ** ((np.array([n.pitch for n in notes], float) - 69.0) / 12.0)
    return iv, hz


def _matches(ref: list[NoteEvent], est: list[NoteEvent], offset_ratio: float | None) -> int:
    import mir_eval

    if not ref or not est:
        return 0
    (ri, rp), (ei, ep) = _arrays(ref), _arrays(est)
    return len(mir_eval.transcription.match_notes(ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE_S,
                                                  offset_ratio=offset_ratio))


def _frames(notes: list[NoteEvent], fps: float, n_frames: int) -> set:
    cells = set()
    for n in notes:
        for t in range(int(round(n.onset_s * fps)), min(n_frames, max(int(round(n.offset_s * fps)), int(round(n.onset_s * fps)) + 1))):
            cells.add((t, n.pitch))
    return cells


def clip_counts(ref, est, fps: float = 100.0) -> Counter:
    """Matches and totals for one clip. ``ref``: notes (dicts as in the mixtures dataset, or
    NoteEvents); ``est``: NoteEvents. Pitched notes are scored apart from drums."""
    ref, est = [_as_event(n) for n in ref], [_as_event(n) for n in est]
    rp, ep = [n for n in ref if not n.is_drum], [n for n in est if not n.is_drum]
    rd, ed = [n for n in ref if n.is_drum], [n for n in est if n.is_drum]
    c = Counter()
    c["onset_tp"] = _matches(rp, ep, None)
    c["onset_offset_tp"] = _matches(rp, ep, 0.2)
    c["onset_ref"] = c["onset_offset_ref"] = len(rp)
    c["onset_est"] = c["onset_offset_est"] = len(ep)
    end = max([n.offset_s for n in rp + ep] + [0.0])
    fr, fe = _frames(rp, fps, int(end * fps) + 1), _frames(ep, fps, int(end * fps) + 1)
    c["frame_tp"], c["frame_ref"], c["frame_est"] = len(fr & fe), len(fr), len(fe)
    for fam in {n.program // PROGRAMS_PER_FAMILY for n in rp + ep}:
        r = [n for n in rp if n.program // PROGRAMS_PER_FAMILY == fam]
        e = [n for n in ep if n.program // PROGRAMS_PER_FAMILY == fam]
        c["multi_instrument_tp"] += _matches(r, e, None)
    c["multi_instrument_ref"], c["multi_instrument_est"] = len(rp), len(ep)

    def drum_class(n):
        return DRUM_CLASS_OF_NOTE.get(n.pitch, "other_percussion")

    for cls in {drum_class(n) for n in rd + ed}:
        r = [NoteEvent(n.onset_s, n.onset_s + 0.05, 60, 100) for n in rd if drum_class(n) == cls]
        e = [NoteEvent(n.onset_s, n.onset_s + 0.05, 60, 100) for n in ed if drum_class(n) == cls]
        c["drums_tp"] += _matches(r, e, None)
    c["drums_ref"], c["drums_est"] = len(rd), len(ed)
    return c


def f1_scores(counts: Counter, metrics=METRICS) -> dict:
    """Precision, recall and F1 per metric from summed counts."""
    out = {}
    for m in metrics:
        tp, nr, ne = counts[f"{m}_tp"], counts[f"{m}_ref"], counts[f"{m}_est"]
        p, r = tp / ne if ne else 0.0, tp / nr if nr else 0.0
        out[f"{m}_precision"], out[f"{m}_recall"] = round(p, 4), round(r, 4)
        out[f"{m}_f1"] = round(2 * p * r / (p + r), 4) if p + r else 0.0
    return out


def held_out_clips(dataset: str | None = None, split: str = "test", num_examples: int = 50, seed: int = 1,
                   soundfonts: list[str] | None = None, tracks: bool = False):
    """(audio 16 kHz, reference notes) pairs: from a dub mixtures dataset, or rendered now with
    the split's held-out SoundFonts (the generator's own split rule). ``tracks=True`` adds each
    clip's track list (role, instrument, soundfont, ...) as a third item."""
    from dub_dataset.audio_io import decode_audio_bytes, resample
    from dub_dataset.constants import SAMPLE_RATE

    if dataset:
        from datasets import Audio

        from dub_dataset import load_dub_dataset

        ds = load_dub_dataset(dataset, "mixtures", split=split).cast_column("audio", Audio(decode=False))
        rows = ds.select(range(min(num_examples, len(ds))))
    else:
        from dub_dataset import Spec, make_maker

        maker = make_maker(Spec("mixtures", seed=seed, soundfonts=soundfonts, images=()))
        rows = (maker.make(split, i) for i in range(num_examples))
    for row in rows:
        audio = resample(*decode_audio_bytes(row["audio"]["bytes"]), SAMPLE_RATE)  # a dataset at another rate
        yield (audio, row["notes"], row["tracks"]) if tracks else (audio, row["notes"])


def drum_kit_of(tracks) -> str:
    """The SoundFont that plays a clip's drums ("no drums" when none do)."""
    kits = sorted({t["soundfont"] for t in tracks if t["is_drum"]})
    return " + ".join(kits) or "no drums"


def evaluate_model(model=None, dataset: str | None = None, split: str = "test", num_examples: int = 50,
                   seed: int = 1, soundfonts: list[str] | None = None, thresholds=None) -> dict:
    """mir_eval F1s of a transcriber on held-out clips, and its speed (x realtime, inference only)."""
    import time

    from .transcribe import Thresholds, decode, load_transcriber, transcribe_array

    m = model if model is not None and not isinstance(model, str) else load_transcriber(model)
    thresholds = thresholds or Thresholds.of(m)
    counts, seconds, busy, n = Counter(), 0.0, 0.0, 0
    by_kit: dict[str, Counter] = {}
    for audio, ref, tracks in held_out_clips(dataset, split, num_examples, seed, soundfonts, tracks=True):
        t = time.perf_counter()
        est = decode(transcribe_array(m, audio), thresholds, tuple(m.config.families))
        busy += time.perf_counter() - t
        seconds += len(audio) / m.config.sampling_rate
        c = clip_counts(ref, est)
        counts += c
        by_kit.setdefault(drum_kit_of(tracks), Counter()).update(c + Counter(clips=1))
        n += 1
    if n == 0:
        raise ValueError(f"no {split} clips to evaluate on")
    # the same scores over the clips whose drums each SoundFont plays (pitched parts included)
    # (drum F1 means nothing where no drums play: there, "drum_hits_found" counts false drum hits)
    kits = {k: {"clips": c["clips"], "drum_hits": c["drums_ref"], "drum_hits_found": c["drums_est"], **f1_scores(c)}
            for k, c in sorted(by_kit.items())}
    return {"examples": n, "source": dataset or "rendered now with held-out SoundFonts", "seconds": seconds,
            "x_realtime": seconds / max(busy, 1e-9), **f1_scores(counts), "by_drum_kit": kits}


def tune_thresholds(model, dataset: str, split: str = "validation", num_examples: int = 100,
                    onsets=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8), frames=(0.3, 0.4, 0.5, 0.6), drums=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8)):
    """Decoding thresholds that maximise F1 on the validation split (never the test split):
    onset and frame thresholds by onset F1 + frame F1, the drum threshold by drum F1."""
    from .transcribe import Thresholds, decode, transcribe_array

    posts = [(transcribe_array(model, a), ref) for a, ref in held_out_clips(dataset, split, num_examples)]
    fam = tuple(model.config.families)

    def score(th, keys):
        c = Counter()
        for p, ref in posts:
            c += clip_counts(ref, decode(p, th, fam))
        s = f1_scores(c)
        return sum(s[k] for k in keys), s

    best_pitch = max(((on, fr) for on in onsets for fr in frames),
                     key=lambda t: score(Thresholds(t[0], t[1], 0.5), ("onset_f1", "frame_f1"))[0])
    best_drum = max(drums, key=lambda d: score(Thresholds(*best_pitch, d), ("drums_f1",))[0])
    th = Thresholds(*best_pitch, best_drum)
    return th, score(th, ())[1]


# -- classifiers --------------------------------------------------------------------------------
def load_classifier(model, task: str | None = None):
    """(model in eval mode, its DubFeatureExtractor, its Task) of a zoo classifier folder or Hub id."""
    from transformers import AutoModelForAudioClassification

    from . import cnn  # noqa: F401  (registers dub-cnn)
    from .classifier import shipped_model
    from .features import DubFeatureExtractor
    from .tasks import get_task

    if model is None:
        if task is None:
            raise ValueError("give a task or a model")
        model = shipped_model(task)
    m = AutoModelForAudioClassification.from_pretrained(str(model)).eval()
    task = get_task(task or getattr(m.config, "dub_task", None) or "")
    if getattr(m.config, "dub_task", task.name) != task.name:
        raise ValueError(f"{model}: a model for the {m.config.dub_task} task, not for {task.name}")
    fe = DubFeatureExtractor.from_pretrained(str(model))  # short clips padded with silence
    return m, fe, task


def dataset_logits(m, fe, ds, batch_size: int = 64) -> np.ndarray:
    """Logits [N, labels] of a loaded classifier on a dataset's clips, each read at the model's own rate."""
    import torch
    from datasets import Audio

    from .features import log_mel_batch
    from .train import _decode

    if getattr(ds.features["audio"], "decode", False):
        ds = ds.cast_column("audio", Audio(decode=False))
    logits = []
    with torch.no_grad():
        for lo in range(0, len(ds), batch_size):
            audio = _decode(ds[lo:lo + batch_size]["audio"], fe.sampling_rate)  # resampled to the model's rate
            logits.append(m(input_values=torch.from_numpy(log_mel_batch(audio, fe))).logits.float().numpy())
    return np.concatenate(logits) if logits else np.zeros((0, m.config.num_labels), np.float32)


def classifier_logits(model, dataset: str, task: str | None = None, split: str = "test",
                      num_examples: int | None = None, batch_size: int = 64):
    """(loaded model, task, the split as a datasets.Dataset, logits, targets) of a zoo classifier on a dub dataset split."""
    from datasets import Audio

    from dub_dataset import load_dub_dataset

    from .tasks import targets

    m, fe, task = load_classifier(model, task)
    ds = load_dub_dataset(dataset, task.dataset_config, split=split)
    if task.label_column not in ds.column_names:
        raise ValueError(f"{dataset}: no column {task.label_column!r} for task {task.name}")
    if num_examples:
        ds = ds.select(range(min(num_examples, len(ds))))
    if len(ds) == 0:
        raise ValueError(f"{dataset}: the {split} split is empty")
    ds = ds.cast_column("audio", Audio(decode=False))
    return m, task, ds, dataset_logits(m, fe, ds, batch_size), targets(task, ds[task.label_column])


def tune_label_thresholds_of(model: str, dataset: str, num_examples: int | None = None) -> dict:
    """Pick a multi-label classifier's per-label thresholds on the validation split of ``dataset`` and
    save them in the model folder's config (``label_thresholds``); returns them with the validation
    micro-F1 before and after."""
    from .train import metrics, named_thresholds, tune_label_thresholds

    m, task, _, logits, y = classifier_logits(model, dataset, split="validation", num_examples=num_examples)
    if not task.multi_label:
        raise ValueError(f"{model}: --tune-thresholds picks multi-label thresholds (effects); {task.name} takes the top label")
    th = tune_label_thresholds(logits, y)
    m.config.label_thresholds = named_thresholds(task.labels, th)
    m.config.save_pretrained(str(model))
    return {"thresholds": m.config.label_thresholds, "validation_examples": len(y),
            "validation_f1_micro_at_0.5": round(metrics(task, logits, y)["f1_micro"], 4),
            "validation_f1_micro": round(metrics(task, logits, y, th)["f1_micro"], 4)}


def evaluate_classifier(dataset: str, task: str | None = None, model=None, split: str = "test",
                        num_examples: int | None = None, batch_size: int = 64) -> dict:
    """Score a zoo classifier (a folder, Hub id, or the shipped one for ``task``) on a split of a
    dub dataset: the task's metrics over the split, then the same metrics over the examples with
    each augmentation (``by_effect``: "none" are the clean ones), of each GM family (``by_family``, pitched
    data) and from each source (``by_source``: "SoundFont / preset"), and the commonest confusions.
    A multi-label model's labels are active at its own thresholds (``label_thresholds``, else 0.5)."""
    from .classifier import exclusive_label, label_thresholds
    from .train import metrics, multi_label_pred, named_thresholds

    m, task, ds, logits, y = classifier_logits(model, dataset, task, split, num_examples, batch_size)
    model = model if model is not None else m.name_or_path
    th = label_thresholds(m.config) if task.multi_label else None

    def scores(sel) -> dict:
        out = metrics(task, logits[sel], y[sel], th)
        return {"examples": int(np.sum(sel)), **{k: round(v, 4) for k, v in out.items() if k != "score" and "/" not in k}}

    result = {"model": str(model), "dataset": str(dataset), "split": split, "task": task.name,
              **scores(np.ones(len(y), bool)), "by_effect": {}}
    if task.multi_label:  # each label alone: what "f1_micro" averages over
        pred, truth = multi_label_pred(logits, th, exclusive_label(task.labels)), y > 0.5
        result["per_label"] = {}
        tp, fp, fn = (pred & truth).sum(0), (pred & ~truth).sum(0), (~pred & truth).sum(0)
        for i, name in enumerate(task.labels):
            result["per_label"][name] = {"support": int(truth[:, i].sum()),
                                         "precision": round(float(tp[i] / max(1, tp[i] + fp[i])), 4),
                                         "recall": round(float(tp[i] / max(1, tp[i] + fn[i])), 4),
                                         "f1": round(float(2 * tp[i] / max(1, 2 * tp[i] + fp[i] + fn[i])), 4)}
    if "effects" in ds.column_names:
        names = ds.features["effects"].feature.names
        active = ds["effects"]
        groups = {"none": np.array([len(a) == 0 for a in active])}
        groups.update({n: np.array([i in a for a in active]) for i, n in enumerate(names)})
        result["by_effect"] = {g: scores(sel) for g, sel in groups.items() if sel.any()}
    if "family" in ds.column_names:  # pitched data: how each GM family fares (effects "robust across instruments")
        fam = np.array(list(ds["family"]))
        result["by_family"] = {n: scores(fam == i) for i, n in enumerate(ds.features["family"].names) if (fam == i).any()}
    if "soundfont" in ds.column_names and "instrument" in ds.column_names:
        # by source: which kits or programs of the held-out fonts are hard (a font's own key map, say)
        src = np.array([f"{f} / {i}" for f, i in zip(ds["soundfont"], ds["instrument"])])
        result["by_source"] = {k: scores(src == k) for k in sorted(set(src))}
    from .train import confusion

    cm, labels, support = confusion(task, logits, y, th)
    if th is not None:
        result["thresholds"] = named_thresholds(task.labels, th)
    result["confusion"] = {"labels": labels, "counts": cm.tolist(), "row_clips": support.tolist()}
    if not task.multi_label:
        off = [(int(cm[i, j]), labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels)) if i != j and cm[i, j]]
        result["top_confusions"] = [{"true": t, "predicted": p, "count": c} for c, t, p in sorted(off, reverse=True)[:5]]
    return result
