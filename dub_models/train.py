"""Train a dub classifier with accelerate (in the shape of accelerate's examples).

Runs on a CPU, one GPU, or under ``accelerate launch`` on several; bf16/fp16 through
``--mixed-precision``; gradient accumulation; a checkpoint each epoch (``save_state``) and
``--resume``; evaluation on the held-out split each epoch; TensorBoard logging; explicit seeds.
The artefact is a ``save_pretrained`` folder (safetensors, config with id2label, preprocessor
config) with a model card and a confusion matrix.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dub_dataset.constants import SAMPLE_RATE

from .classifier import exclusive_decode, exclusive_label
from .features import MEL_FLOOR, save_feature_extractor
from .tasks import Task, get_task, targets


@dataclass
class TrainArgs:
    task: str
    output_dir: str
    dataset: str | None = None  # folder or Hub id of a dub dataset; None with stream=True
    size: str = "tiny"
    arch: str | None = None  # ast (ASTForAudioClassification, the default), cnn or cnn-freq (dub's log-mel CNN);
    # with init_from: None keeps the checkpoint's architecture, cnn/cnn-freq give a dub CNN that head
    init_from: str | None = None  # a pretrained AST or dub model (folder or Hub id) to fine-tune instead of size
    widen: list[int] | None = None  # with init_from a dub CNN: these channel widths, same function (cnn.widen)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_ratio: float = 0.1
    grad_accum: int = 1
    mixed_precision: str = "no"  # no | bf16 | fp16
    seed: int = 0
    resume: bool = False
    epochs_per_run: int | None = None  # stop (checkpointed) after this many epochs; --resume continues
    tracker: str | None = "tensorboard"
    max_train_examples: int | None = None
    max_eval_examples: int | None = None  # cap on validation and test examples (faster epochs)
    stream: bool = False  # draw fresh examples from the generator each epoch instead of a dataset
    stream_examples: int = 2000  # per epoch, with stream
    soundfonts: list[str] | None = None  # with stream
    num_threads: int | None = None
    sample_rate: int | None = None  # the model's input rate (None: 16 kHz, or the --init-from model's); clips are resampled to it
    spec_augment: int | None = None  # frequency and time masks per example (0: off; None: the task's default)
    spec_eq: float = 0.0  # random EQ on training features: control gains up to this many dB (0: off)
    mix_same: float = 0.0  # share of training clips layered with another clip of their class (0: off)
    mixup: float = 0.0  # mixup's Beta(a, a) across classes, soft targets (0: off; single-label tasks)
    teachers: list[str] | None = None  # distillation: classifiers (folders or Hub ids) whose averaged
    # probabilities on each training clip the model also learns; each reads the clips at its own rate
    distill: float = 0.5  # with teachers: the soft targets' weight in the loss (1 - distill: the labels')
    distill_temperature: float = 2.0  # with teachers: both sides' logits are divided by it (Hinton et al.)
    push_to_hub: str | None = None


class Progress:
    """Epochs done and the input rate, saved in every checkpoint (``register_for_checkpointing``)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        self.epoch = 0
        self.best = -1.0
        self.sample_rate = sample_rate

    def state_dict(self):
        return {"epoch": self.epoch, "best": self.best, "sample_rate": self.sample_rate}

    def load_state_dict(self, state):
        rate = int(state.get("sample_rate", SAMPLE_RATE))  # checkpoints written before the rate was an option: 16 kHz
        if rate != self.sample_rate:
            raise ValueError(f"--resume: the checkpoint's run reads {rate} Hz audio, this one {self.sample_rate} Hz: "
                             f"resume with --sample-rate {rate}")
        self.epoch, self.best = int(state["epoch"]), float(state["best"])


# -- data ---------------------------------------------------------------------------------------
def _decode(rows_audio, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Mono float32 clips at ``sample_rate`` (a dataset written at another rate is resampled)."""
    from dub_dataset.audio_io import decode_audio_bytes, resample

    return [resample(x, sr, sample_rate) for x, sr in (decode_audio_bytes(a["bytes"]) for a in rows_audio)]


def _rate(task: Task, fe) -> int:
    return SAMPLE_RATE if fe is None or task.kind == "transcription" else fe.sampling_rate


def _features(task: Task, fe, audio: list[np.ndarray]) -> np.ndarray:
    if task.kind == "transcription":  # the transcriber's own log-mel, clips padded to one length
        from .transcriber import features

        n = max(len(a) for a in audio)
        return np.stack([features(np.pad(a, (0, n - len(a)))) for a in audio]).astype(np.float16)
    from .features import log_mel_batch  # ASTFeatureExtractor's features, batched (several times faster)

    return log_mel_batch(audio, fe).astype(np.float16)


def _targets(task: Task, values):
    if task.kind == "transcription":  # note lists, made dense per batch (collate_transcription)
        from .transcriber import notes_array

        out = np.empty(len(values), dtype=object)
        out[:] = [notes_array(v) for v in values]
        return out
    return targets(task, values)


def featurise(ds, task: Task, fe, batch: int = 256):
    """(features float16 [N, frames, mels], targets) of a datasets.Dataset, in memory."""
    from datasets import Audio

    ds = ds.cast_column("audio", Audio(decode=False)).select_columns(["audio", task.label_column])
    out, ragged, ys = None, None, []
    for lo in range(0, len(ds), batch):
        part = ds[lo:lo + batch]
        f = _features(task, fe, _decode(part["audio"], _rate(task, fe)))
        ys.append(_targets(task, part[task.label_column]))
        if lo == 0:  # one array for the split, filled batch by batch: no second copy
            out = np.empty((len(ds), *f.shape[1:]), dtype=f.dtype)
        if ragged is None and f.shape[1:] == out.shape[1:]:
            out[lo:lo + len(f)] = f
        else:  # transcription clips of another length: keep the batches, np.concatenate reports a mismatch
            ragged = (ragged or [out[:lo]]) + [f]
    return (out if ragged is None else np.concatenate(ragged)), np.concatenate(ys)


def load_splits(args: TrainArgs, task: Task):
    from dub_dataset import load_dub_dataset

    if args.stream:
        from dub_dataset import Spec, make_maker

        maker = make_maker(Spec(task.dataset_config, seed=args.seed, soundfonts=args.soundfonts, images=(),
                                sample_rate=args.sample_rate or SAMPLE_RATE))
        return maker, None
    ds = load_dub_dataset(args.dataset, task.dataset_config)
    missing = [s for s in ("train", "validation") if s not in ds]
    if missing:
        raise ValueError(f"{args.dataset}: dataset has no {', '.join(missing)} split")
    if task.label_column not in ds["train"].column_names:
        raise ValueError(f"{args.dataset}: no column {task.label_column!r} for task {task.name}")
    if args.max_train_examples:
        ds["train"] = ds["train"].select(range(min(args.max_train_examples, len(ds["train"]))))
    if args.max_eval_examples:
        for split in ("validation", "test"):
            if split in ds:
                ds[split] = ds[split].select(range(min(args.max_eval_examples, len(ds[split]))))
    return None, ds


def normalisation(feats: np.ndarray) -> tuple[float, float]:
    """Mean and std of the raw log-mel features (AST normalises with dataset statistics)."""
    total = total_sq = 0.0
    for lo in range(0, len(feats), 1024):  # in chunks: a float32 copy of 100k clips would be 10 GB
        x = feats[lo:lo + 1024].astype(np.float64)
        total, total_sq = total + float(x.sum()), total_sq + float(np.square(x).sum())
    n = feats.size
    mean = total / n
    return float(mean), float(np.sqrt(max(0.0, total_sq / n - mean * mean)))


class _IndexDataset:
    """Items are indices; the collate function builds the batch (transcription targets)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def collate_transcription(x: np.ndarray, notes: np.ndarray):
    """(features, dense targets [B, frames, channels], indices) for a list of example indices."""
    import torch

    from .transcriber import FRAME_POOL, note_targets

    def collate(idx):
        n_frames = x.shape[1] // FRAME_POOL
        y = np.stack([note_targets(notes[i], n_frames) for i in idx])
        return torch.from_numpy(x[idx]), torch.from_numpy(y), torch.tensor(idx)
    return collate


def get_dataloaders(args: TrainArgs, task: Task, fe, epoch_seed: int, data):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    def loader(x, y, shuffle, seed, *extra):  # extra: per-clip arrays that travel with the clip (soft targets)
        g = torch.Generator().manual_seed(seed)
        if task.kind == "transcription":
            return DataLoader(_IndexDataset(len(x)), batch_size=args.batch_size, shuffle=shuffle, generator=g,
                              collate_fn=collate_transcription(x, y))
        return DataLoader(TensorDataset(*(torch.from_numpy(a) for a in (x, y, *extra))), batch_size=args.batch_size,
                          shuffle=shuffle, generator=g, drop_last=False)

    return {split: loader(x, y, split == "train", epoch_seed, *extra) for split, (x, y, *extra) in data.items()}


def stream_split(maker, task: Task, fe, split: str, n: int, seed_offset: int):
    """Fresh examples from the generator: ``seed_offset`` picks a new draw (per epoch)."""
    rows = [maker.make(split, seed_offset * 10_000_000 + i) for i in range(n)]
    return _features(task, fe, _decode([r["audio"] for r in rows], _rate(task, fe))), _targets(task, [r[task.label_column] for r in rows])


def spec_augment(x, masks: int = 2, max_freq: int = 24, max_time: int = 40, fill: float = 0.0):
    """SpecAugment on a batch (batch, frames, mels): ``masks`` frequency and time bands set to
    ``fill`` (the mean), drawn from torch's generator (seeded, checkpointed by accelerate)."""
    import torch

    if masks <= 0:
        return x
    b, t, f = x.shape
    x = x.clone()
    for _ in range(masks):
        fw = torch.randint(0, max_freq + 1, (b,))
        f0 = (torch.rand(b) * (f - fw)).long()
        tw = torch.randint(0, max_time + 1, (b,))
        t0 = (torch.rand(b) * (t - tw).clamp(min=0)).long()
        fr = torch.arange(f)[None, :]
        tr = torch.arange(t)[None, :]
        fmask = (fr >= f0[:, None]) & (fr < (f0 + fw)[:, None])
        tmask = (tr >= t0[:, None]) & (tr < (t0 + tw)[:, None])
        x = x.masked_fill(fmask[:, None, :].to(x.device) | tmask[:, :, None].to(x.device), fill)
    return x


EQ_POINTS = 6  # control gains of spectral_eq, evenly spaced over the mel axis


def spectral_eq(x, max_db: float, unit: float, floor: float, points: int = EQ_POINTS):
    """A random equaliser on a batch of log-mel features (batch, frames, mels), for timbre
    variety: kits and microphones colour the same drum differently. Each example gets a gain
    curve through ``points`` gains drawn uniformly in ±``max_db`` dB, evenly spaced over the mel
    axis and linear between them, the same in every frame (a fixed filter). ``unit``: feature
    units per dB (natural-log power, normalised). Left as they are: bins within 0.01 of ``floor``
    (digital silence, which is also what pads a short clip; the features are stored as float16); no
    bin is pushed below the floor. Drawn from torch's generator (seeded, checkpointed)."""
    import torch

    if max_db <= 0:
        return x
    b, _, f = x.shape
    gains = (torch.rand(b, 1, points) * 2 - 1) * (max_db * unit)
    curve = torch.nn.functional.interpolate(gains, size=f, mode="linear", align_corners=True)  # (b, 1, f)
    curve = curve.to(device=x.device, dtype=x.dtype)
    live = x > floor + 0.01
    return torch.where(live, torch.clamp(x + curve, min=floor), x)


def mix_power(x, partner, lam, unit: float):
    """Each clip of a batch of normalised log-mel features (batch, frames, mels) mixed with its
    ``partner`` at power weights ``lam`` and 1 - ``lam`` (a tensor, one per clip): the log-mel of
    the two sounds played together (uncorrelated, so powers add), where a log-domain average
    would be no sound at all. ``unit``: feature units per natural-log unit of power (1 / (2 std)).
    Silence (the floor, also what pads a short clip) mixed with silence stays silence. ``lam`` = 1
    returns ``x`` (to rounding)."""
    import torch

    s = 1.0 / unit
    lam = lam.to(device=x.device, dtype=x.dtype).clamp(1e-6, 1.0)[:, None, None]
    a, b = x * s + torch.log(lam), partner * s + torch.log1p(-lam.clamp(max=1 - 1e-6))
    out = torch.logaddexp(a, b) / s
    return torch.where(lam >= 1.0, x, out)


def same_class_partners(y):
    """A partner of the same class for each clip of a batch (another clip where the class has
    one; itself where it is the batch's only clip of its class), drawn from torch's generator."""
    import torch

    partner = torch.arange(len(y))
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        if len(idx) > 1:  # a random derangement-free shuffle: rotate a random order by one
            order = idx[torch.randperm(len(idx))]
            partner[order] = torch.roll(order, 1)
    return partner


def mix_batch(x, y, unit: float, mix_same: float = 0.0, mixup: float = 0.0):
    """Training-time mixing of a single-label batch. ``mix_same``: that share of the clips is
    layered with another clip of its class (power weights 0.2-0.8, label kept): two kits' kicks
    played together are still a kick, and a kit no font has. ``mixup`` (alpha of a Beta draw):
    every clip is mixed with a random clip of the batch, and the loss weighs both labels by
    their power weights (mixup). Returns (x, partner labels, weights of the clip's own labels)."""
    import torch

    b = len(y)
    own = torch.ones(b)
    if mix_same > 0:
        lam = torch.where(torch.rand(b) < mix_same, 0.2 + 0.6 * torch.rand(b), torch.ones(b))
        x = mix_power(x, x[same_class_partners(y)], lam, unit)
    y2 = y
    if mixup > 0:
        perm = torch.randperm(b)
        own = torch.distributions.Beta(mixup, mixup).sample((b,))
        own = torch.maximum(own, 1 - own)  # the clip keeps the larger share (its label leads)
        x, y2 = mix_power(x, x[perm], own, unit), y[perm]
    return x, y2, own


# -- metrics ------------------------------------------------------------------------------------
THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))  # sigmoid scores 0.05 ... 0.95


def multi_label_pred(logits: np.ndarray, thresholds=None, exclusive: int | None = None) -> np.ndarray:
    """Active labels: sigmoid score at or above each label's threshold (0.5 where ``thresholds`` is None);
    with ``exclusive`` (the index of ``dry``), that label and the others exclude each other
    (``classifier.exclusive_decode``)."""
    th = np.full(logits.shape[-1:], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    th = np.clip(th, 1e-6, 1 - 1e-6)
    pred = logits >= np.log(th / (1 - th))  # sigmoid(logit) >= th, without overflow
    if exclusive is None:
        return pred
    margin = 1 / (1 + np.exp(-np.clip(logits, -60, 60))) - th
    return exclusive_decode(pred, margin, exclusive)


def tune_label_thresholds(logits: np.ndarray, y: np.ndarray, grid=THRESHOLD_GRID, exclusive: int | None = None,
                          rounds: int = 3) -> np.ndarray:
    """Per label, the threshold of ``grid`` with the best F1 on these (validation) clips; ties go to
    the one nearest 0.5. With ``exclusive`` (the index of ``dry``, which the decoding makes exclude the
    effects: ``multi_label_pred``), the labels' thresholds interact, so they are then tuned together:
    up to ``rounds`` passes over the labels, each moving one label's threshold to the grid value with
    the best micro-F1 of the whole decoding (a move must gain; ties keep the threshold)."""
    truth = y > 0.5
    out = []
    for i in range(logits.shape[1]):
        def f1(th):
            pred = multi_label_pred(logits[:, i], th)
            tp = float((pred & truth[:, i]).sum())
            return 2 * tp / max(1.0, 2 * tp + float((pred & ~truth[:, i]).sum()) + float((~pred & truth[:, i]).sum()))
        out.append(max(sorted(grid, key=lambda t: abs(t - 0.5)), key=f1))
    out = np.array(out, dtype=np.float64)
    if exclusive is None:
        return out

    def micro(th):
        pred = multi_label_pred(logits, th, exclusive)
        tp = float((pred & truth).sum())
        return 2 * tp / max(1.0, float(pred.sum() + truth.sum()))

    best = micro(out)
    for _ in range(rounds):
        moved = False
        for i in range(len(out)):
            for t in grid:
                trial = out.copy()
                trial[i] = t
                score = micro(trial)
                if score > best + 1e-12:
                    out, best, moved = trial, score, True
        if not moved:
            break
    return out


def named_thresholds(labels, thresholds) -> dict[str, float]:
    """``{label: threshold}``, as a config's ``label_thresholds`` holds them."""
    return {name: float(t) for name, t in zip(labels, thresholds)}


def metrics(task: Task, logits: np.ndarray, y: np.ndarray, thresholds=None) -> dict:
    """The task's scores. Multi-label: ``thresholds`` per label on sigmoid scores (None: 0.5)."""
    if task.multi_label:
        pred = multi_label_pred(logits, thresholds, exclusive_label(task.labels))
        tp = float((pred & (y > 0.5)).sum())
        fp, fn = float((pred & (y < 0.5)).sum()), float((~pred & (y > 0.5)).sum())
        out = {"f1_micro": 2 * tp / max(1.0, 2 * tp + fp + fn), "exact_match": float((pred == (y > 0.5)).all(1).mean())}
        for i, name in enumerate(task.labels):
            out[f"accuracy/{name}"] = float((pred[:, i] == (y[:, i] > 0.5)).mean())
        out["score"] = out["f1_micro"]
        return out
    pred = logits.argmax(1)
    out = {"accuracy": float((pred == y).mean())}
    if task.name == "instrument":
        probs = np.exp(logits - logits.max(1, keepdims=True))
        fam = probs.reshape(len(probs), -1, 8).sum(2)
        out["family_accuracy"] = float((fam.argmax(1) == y // 8).mean())
    if task.name == "drums":  # low/mid/high tom is a kit's tuning, not a sound: kits differ by semitones
        tom = np.array([name.startswith("tom_") for name in task.labels])
        out["accuracy_toms_merged"] = float(((pred == y) | (tom[pred] & tom[y])).mean())
    out["score"] = out["accuracy"]
    return out


def confusion(task: Task, logits: np.ndarray, y: np.ndarray, thresholds=None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Counts of (true, predicted) pairs, the label names, and each row's number of clips.
    Multi-label: row i holds the clips that carry label i. On the diagonal, those given label i
    (over the row's clips: recall); off it, in column j, those given label j that they do not
    carry: the label the model wrongly adds when label i is present."""
    from dub_dataset.constants import GM_FAMILIES

    if task.multi_label:
        pred = multi_label_pred(logits, thresholds, exclusive_label(task.labels)).astype(np.int64)
        truth = (y > 0.5).astype(np.int64)
        cm = truth.T @ (pred * (1 - truth))  # zero on the diagonal
        cm[np.diag_indices_from(cm)] = (truth * pred).sum(0)
        return cm, list(task.labels), truth.sum(0)
    if task.name == "instrument":
        probs = np.exp(logits - logits.max(1, keepdims=True))
        pred, truth, names = probs.reshape(len(probs), -1, 8).sum(2).argmax(1), y // 8, list(GM_FAMILIES)
    else:
        pred, truth, names = logits.argmax(1), y, list(task.labels)
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(cm, (truth, pred), 1)
    return cm, names, cm.sum(1)


def evaluate_transcription(model, loader, accelerator, notes: np.ndarray) -> dict:
    """mir_eval scores (dub_models.evaluate) of the decoded notes against each clip's notes."""
    import torch

    from .evaluate import clip_counts, f1_scores
    from .transcribe import Posteriors, decode
    from .transcriber import NOTE_FIELDS

    model.eval()
    counts, fps = Counter(), accelerator.unwrap_model(model).config.fps
    families = tuple(accelerator.unwrap_model(model).config.families)
    with torch.no_grad():
        for x, _, idx in loader:
            out = model(input_values=x.float())
            parts = [torch.sigmoid(out.onset_logits), torch.sigmoid(out.frame_logits), torch.sigmoid(out.offset_logits),
                     out.velocity, out.family_logits.argmax(-1), torch.sigmoid(out.drum_onset_logits), out.drum_velocity]
            *parts, idx = accelerator.gather_for_metrics((*parts, idx))
            parts = [p.float().cpu().numpy() for p in parts]
            for b, i in enumerate(idx.cpu().numpy()):
                post = Posteriors(fps, *(p[b] for p in parts[:4]), parts[4][b].astype(np.uint8), parts[5][b], parts[6][b])
                ref = [dict(zip(NOTE_FIELDS, r))
                       for r in notes[i].tolist()]
                counts += clip_counts(ref, decode(post, families=families))
    out = f1_scores(counts)
    out["score"] = round((out["onset_f1"] + out["multi_instrument_f1"] + out["drums_f1"]) / 3, 4)
    return out


def evaluate(model, loader, accelerator, task, notes=None) -> tuple[dict, np.ndarray, np.ndarray]:
    import torch

    if task.kind == "transcription":
        return evaluate_transcription(model, loader, accelerator, notes), None, None
    model.eval()
    all_logits, all_y = [], []
    with torch.no_grad():
        for x, y in loader:
            logits = model(input_values=x.float()).logits
            logits, y = accelerator.gather_for_metrics((logits, y))
            all_logits.append(logits.float().cpu().numpy())
            all_y.append(y.cpu().numpy())
    logits, y = np.concatenate(all_logits), np.concatenate(all_y)
    return metrics(task, logits, y), logits, y


def describe_data(args: TrainArgs, task: Task) -> str:
    """How the training data was made, from the dataset's dub.json when it is a local folder."""
    from dub_dataset.card import generate_command, split_spec_phrases

    meta_path = Path(args.dataset or "") / "dub.json"
    if args.stream or not meta_path.is_file():
        return f"`{args.dataset}`" if args.dataset else "the dub generator, streamed (fresh examples every epoch)"
    m = json.loads(meta_path.read_text()).get(task.dataset_config)
    if not m:
        return f"`{args.dataset}`"
    spec, sizes = m["spec"], m["split_sizes"]
    fonts = {s: sorted({src.split(" / ")[0] for src in m["sources"].get(s, [])}) for s in sizes}
    return (f"a dub dataset made with `{generate_command(task.dataset_config, spec, sum(sizes.values()))}` "
            f"(dub {m['dub_version']}; engines "
            f"{', '.join(spec['engines'])}; held out by {m['split_rule']}: "
            + "; ".join(f"{s} {sizes[s]} examples from {', '.join(fonts[s]) or '-'}" for s in sizes)
            + "".join(f"; {n} kit keys of {f} that play a held-out recording left out of training"
                      for f, n in m.get("shared_keys_left_out", {}).items())
            + "".join(f"; {n} melodic presets of {f} that play a held-out recording left out of training"
                      for f, n in m.get("shared_presets_left_out", {}).items())
            + "".join(f"; {p}" for p in split_spec_phrases(m)) + ")")


def _teacher_cache(args: TrainArgs, teacher: str, n: int, cache_dir: Path) -> Path:
    import hashlib

    return cache_dir / f"teacher-{hashlib.sha1(f'{teacher}|{args.dataset}|{n}'.encode()).hexdigest()[:16]}.npz"


def cache_teacher_logits(args: TrainArgs, task: Task, ds, cache_dir: Path, log=print, reuse: bool = False) -> None:
    """Each teacher's logits on the clips of ``ds`` (the training split), each read at the teacher's
    own rate, written atomically to ``cache_dir`` under a name made of the teacher, the dataset and
    the clip count. With ``reuse`` (``--resume``) a file already there is kept; a fresh run computes
    them again, so a teacher or dataset rewritten in place since the last run is not read stale."""
    import io

    from dub_dataset.fileio import atomic_write_bytes

    from .evaluate import dataset_logits, load_classifier

    for teacher in args.teachers:
        path = _teacher_cache(args, teacher, len(ds), cache_dir)
        if reuse and path.is_file():
            continue
        m, fe, _ = load_classifier(teacher, task.name)
        names = [m.config.id2label[i] for i in range(m.config.num_labels)]
        if names != list(task.labels):
            raise ValueError(f"--teacher {teacher}: its labels {names} are not the {task.name} task's {list(task.labels)}")
        t0 = time.perf_counter()
        z = dataset_logits(m, fe, ds, batch_size=256).astype(np.float32)
        log(f"teacher {teacher}: {len(z)} training clips at {fe.sampling_rate} Hz in {time.perf_counter() - t0:.0f} s")
        buf = io.BytesIO()
        np.savez(buf, logits=z, teacher=np.array(teacher), dataset=np.array(str(args.dataset)))
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())


def teacher_probs(args: TrainArgs, task: Task, n: int, cache_dir: Path) -> np.ndarray:
    """The teachers' probabilities at ``distill_temperature``, averaged: float32 [n, labels]."""
    import torch

    probs = []
    for teacher in args.teachers:
        path = _teacher_cache(args, teacher, n, cache_dir)
        z = np.load(path)["logits"]
        if z.shape != (n, len(task.labels)):
            raise ValueError(f"{path}: cached logits of shape {z.shape}, expected {(n, len(task.labels))}; delete it")
        probs.append(torch.softmax(torch.from_numpy(z) / args.distill_temperature, dim=-1).numpy())
    return np.mean(probs, axis=0).astype(np.float32)


def distill_loss(logits, y, q, weight: float, temperature: float):
    """(1 - weight) x cross-entropy on the labels + weight x T^2 x KL(teachers || model) at
    temperature T (the T^2 keeps the soft targets' gradients at the labels' scale)."""
    import torch.nn.functional as F

    logits = logits.float()
    soft = F.kl_div(F.log_softmax(logits / temperature, dim=-1), q.to(logits.device), reduction="batchmean")
    return (1 - weight) * F.cross_entropy(logits, y) + weight * temperature ** 2 * soft


# -- training -----------------------------------------------------------------------------------
def model_sample_rate(args: TrainArgs, task: Task) -> int:
    """The rate the model will read: ``--sample-rate``, else the ``--init-from`` model's, else 16 kHz.
    A checkpoint at another rate than the one asked for is an error (its mel bins would mean other
    frequencies); the transcriber reads 16 kHz only."""
    rate = args.sample_rate
    if rate is not None and not 8000 <= rate <= 96000:
        raise ValueError(f"--sample-rate {rate}: a rate in Hz, 8000 to 96000")
    if task.kind == "transcription":
        if rate not in (None, SAMPLE_RATE):
            raise ValueError(f"--sample-rate {rate}: the transcriber reads {SAMPLE_RATE} Hz only")
        return SAMPLE_RATE
    if args.init_from:
        from transformers import AutoConfig

        from .features import DubFeatureExtractor

        try:
            AutoConfig.from_pretrained(args.init_from)  # a checkpoint that does not load is reported later
            ckpt = DubFeatureExtractor.from_pretrained(args.init_from).sampling_rate
        except (OSError, ValueError):
            ckpt = None
        if ckpt is not None and rate not in (None, ckpt):
            raise ValueError(f"--sample-rate {rate}: --init-from {args.init_from} reads {ckpt} Hz audio; "
                             f"leave --sample-rate out or train from scratch at {rate} Hz")
        rate = rate or ckpt
    return rate or SAMPLE_RATE


def training_function(args: TrainArgs) -> dict:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    from .card import write_model_card
    from .classifier import build_model, feature_extractor, from_checkpoint

    task = get_task(args.task)
    if args.spec_augment is None:
        args.spec_augment = task.spec_augment
    if args.spec_eq < 0:
        raise ValueError(f"--spec-eq {args.spec_eq:g}: a gain range in dB, 0 (off) or more")
    if args.widen:
        from transformers import AutoConfig

        from . import cnn  # noqa: F401  (registers dub-cnn, so its config loads)

        try:
            kind = AutoConfig.from_pretrained(args.init_from).model_type if args.init_from else None
        except (OSError, ValueError) as e:
            raise ValueError(f"--init-from {args.init_from}: cannot load the model to widen: {e}") from e
        if kind != "dub-cnn" or task.kind == "transcription":
            raise ValueError("--widen widens a trained dub CNN classifier: give it with --init-from such a model"
                             + (f" ({args.init_from!r} is of model type {kind})" if kind else ""))
    if args.spec_eq and task.kind == "transcription":
        raise ValueError("--spec-eq: the transcription task trains without it (classifiers only)")
    if not 0 <= args.mix_same <= 1:
        raise ValueError(f"--mix-same {args.mix_same:g}: a share of the training clips, 0 to 1")
    if args.mixup < 0:
        raise ValueError(f"--mixup {args.mixup:g}: the alpha of a Beta draw, 0 (off) or more")
    if (args.mix_same or args.mixup) and (task.multi_label or task.kind == "transcription"):
        raise ValueError("--mix-same and --mixup: single-label classifiers only (drums, instrument)")
    if args.teachers:
        if task.multi_label or task.kind == "transcription":
            raise ValueError("--teacher: distillation trains single-label classifiers only (drums, instrument)")
        if args.stream:
            raise ValueError("--teacher: distillation needs a --dataset (the teachers score its training clips once)")
        if args.mix_same or args.mixup:
            raise ValueError("--teacher: not with --mix-same or --mixup (a mixed clip has no teacher targets)")
        if not 0 < args.distill <= 1:
            raise ValueError(f"--distill {args.distill:g}: the soft targets' weight in the loss, above 0 and at most 1")
        if not args.distill_temperature > 0:
            raise ValueError(f"--distill-temperature {args.distill_temperature:g}: a temperature above 0")
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    out = Path(args.output_dir)
    project = ProjectConfiguration(project_dir=str(out / "run"), automatic_checkpoint_naming=True, total_limit=2)
    accelerator = Accelerator(mixed_precision=args.mixed_precision, gradient_accumulation_steps=args.grad_accum,
                              log_with=args.tracker, project_config=project)
    set_seed(args.seed)

    args.sample_rate = model_sample_rate(args, task)
    # Data: raw log-mel features in memory (a dataset), or fresh draws each epoch (stream).
    fe_raw = None if task.kind == "transcription" else feature_extractor(task, sample_rate=args.sample_rate)
    if fe_raw is not None:
        fe_raw.do_normalize = False
    maker, ds = load_splits(args, task)
    if args.teachers:  # before the features: a teacher with other labels fails fast
        cache = out / "run" / "teachers"
        if accelerator.is_main_process:
            cache_teacher_logits(args, task, ds["train"], cache, accelerator.print, reuse=args.resume)
        accelerator.wait_for_everyone()
    data = {}
    if ds is not None:
        for split in ("train", "validation", "test"):
            if split in ds and len(ds[split]):
                t0 = time.perf_counter()
                data[split] = featurise(ds[split], task, fe_raw)
                accelerator.print(f"features: {split} {len(ds[split])} clips in {time.perf_counter() - t0:.0f} s")
    else:
        n_eval = max(64, args.stream_examples // 8)
        data = {"train": stream_split(maker, task, fe_raw, "train", args.stream_examples, 0),
                "validation": stream_split(maker, task, fe_raw, "validation", n_eval, 0),
                "test": stream_split(maker, task, fe_raw, "test", n_eval, 0)}
    if args.teachers:  # the soft targets ride with each training clip through the shuffled loader
        data["train"] = (*data["train"], teacher_probs(args, task, len(data["train"][1]), cache))
    # AST normalises features by dataset statistics: measured on the training split and stored in
    # the preprocessor config, so inference (pipeline, dub classify) applies the same.
    mean, std = normalisation(data["train"][0])
    transcription = task.kind == "transcription"
    fe = None if transcription else feature_extractor(task, mean=mean, std=std, sample_rate=args.sample_rate)

    def renorm(x):  # the transcriber normalises inside the model (config.feature_mean/std)
        if transcription:
            return x
        for lo in range(0, len(x), 1024):  # in place, in chunks: no float32 copy of the whole split
            x[lo:lo + 1024] = (x[lo:lo + 1024].astype(np.float32) - mean) / (2 * std)
        return x

    data = {s: (renorm(v[0]), *v[1:]) for s, v in data.items()}
    # spectral_eq works in normalised feature units: a dB of power is ln(10)/10 in the log-mel.
    eq_unit = math.log(10) / 10 / (2 * std)
    eq_floor = (math.log(MEL_FLOOR) - mean) / (2 * std)

    if transcription:
        from .transcriber import build_transcriber

        if args.init_from:
            from .transcribe import load_transcriber

            model = load_transcriber(args.init_from).train()
        else:
            model = build_transcriber(args.size, seed=args.seed, feature_mean=mean, feature_std=std)
    elif args.init_from:
        model = from_checkpoint(task, args.init_from, args.arch)
        if args.widen:  # checked above: a dub CNN
            from .cnn import widen

            model = widen(model, args.widen, seed=args.seed)
        if getattr(model.config, "max_length", fe.max_length) != fe.max_length:  # AST: its position embeddings fix the length
            fe = feature_extractor(task, mean=mean, std=std, sample_rate=args.sample_rate)
            fe.max_length = model.config.max_length
    else:
        model = build_model(task, args.size, seed=args.seed, arch=args.arch or "ast")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(data["train"][1]) / args.batch_size / args.grad_accum)
    total = steps_per_epoch * args.epochs
    warmup = int(total * args.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, total)))))
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    progress = Progress(args.sample_rate)
    accelerator.register_for_checkpointing(progress)
    if args.resume:
        ckpts = out / "run" / "checkpoints"
        if not ckpts.exists() or not any(ckpts.iterdir()):
            raise FileNotFoundError(f"--resume: no checkpoint in {ckpts}")
        accelerator.load_state()  # the latest checkpoint
        accelerator.project_configuration.iteration = progress.epoch
        accelerator.print(f"resumed after epoch {progress.epoch}")
    if args.tracker:
        accelerator.init_trackers(f"dub-{task.name}", config={k: v for k, v in asdict(args).items()
                                                               if isinstance(v, (int, float, str, bool))})
    history = []
    first = progress.epoch
    for epoch in range(progress.epoch, args.epochs):
        if args.epochs_per_run and epoch - first >= args.epochs_per_run:
            accelerator.print(f"stopping after {args.epochs_per_run} epochs this run; continue with --resume")
            break
        if args.stream and epoch > 0:  # fresh augmented examples every epoch
            x, y = stream_split(maker, task, fe_raw, "train", args.stream_examples, epoch)
            data["train"] = (renorm(x), y)
        loaders = get_dataloaders(args, task, fe, args.seed + epoch, data)
        train_loader, val_loader = accelerator.prepare(loaders["train"], loaders["validation"])
        model.train()
        total_loss, n = 0.0, 0
        for batch in train_loader:
            x, y = batch[0], batch[1]
            if args.mix_same or args.mixup:
                x, y2, own = mix_batch(x.float(), y, eq_unit, args.mix_same, args.mixup)
            if args.spec_eq and not transcription:
                x = spectral_eq(x.float(), args.spec_eq, eq_unit, eq_floor)
            if transcription:  # frequency masks only: a time mask would hide labelled notes
                x = spec_augment(x.float(), args.spec_augment, max_time=0, fill=mean)
            else:
                x = spec_augment(x.float(), args.spec_augment)
            with accelerator.accumulate(model):
                if args.teachers:  # labels and the teachers' soft targets
                    loss = distill_loss(model(input_values=x).logits, y, batch[2], args.distill, args.distill_temperature)
                elif args.mixup:  # both labels, weighed by their shares
                    logp = torch.log_softmax(model(input_values=x).logits.float(), dim=-1)
                    own = own.to(logp.device)
                    loss = -(own * logp.gather(1, y[:, None]).squeeze(1)
                             + (1 - own) * logp.gather(1, y2[:, None]).squeeze(1)).mean()
                else:
                    loss = model(input_values=x, labels=y).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            total_loss += float(loss.detach()) * len(y)
            n += len(y)
        val, _, _ = evaluate(model, val_loader, accelerator, task, data["validation"][1])
        progress.epoch = epoch + 1
        log = {"loss/train": total_loss / max(1, n), **{f"validation/{k}": v for k, v in val.items()}, "epoch": epoch + 1}
        accelerator.log(log, step=epoch + 1)
        accelerator.print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in log.items()
                                      if "/accuracy/" not in k}))
        history.append(log)
        if val["score"] >= progress.best:
            progress.best = val["score"]
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                accelerator.unwrap_model(model).save_pretrained(out / "best", safe_serialization=True)
                if fe is not None:  # best/ loads in pipeline() even if the run stops before its end
                    save_feature_extractor(fe, out / "best", accelerator.unwrap_model(model).config.model_type)
        accelerator.save_state()
    accelerator.end_training()

    # Final artefact: the best epoch on validation, scored once on the held-out test split.
    results = {"history": history}
    if accelerator.is_main_process:
        from transformers import AutoModel, AutoModelForAudioClassification

        auto = AutoModel if transcription else AutoModelForAudioClassification
        best = auto.from_pretrained(out / "best") if (out / "best").exists() else accelerator.unwrap_model(model)
        best.config.dub_task = task.name
        best.save_pretrained(out, safe_serialization=True)
        if fe is not None:
            save_feature_extractor(fe, out, best.config.model_type)
        eval_acc = Accelerator(cpu=not torch.cuda.is_available())
        scored, thresholds = {}, None
        for split in ("validation", "test"):
            if split in data:
                loader = get_dataloaders(args, task, fe, args.seed, {split: data[split]})[split]
                m, logits, y = evaluate(best.to(eval_acc.device), loader, eval_acc, task, data[split][1])
                if task.multi_label and split == "validation":  # each label's threshold, picked on validation
                    thresholds = tune_label_thresholds(logits, y)
                    best.config.label_thresholds = named_thresholds(task.labels, thresholds)
                    best.config.save_pretrained(out)  # the weights saved above stay as they are
                if thresholds is not None:
                    m = {**m, **metrics(task, logits, y, thresholds)}
                scored[split] = m
                if split == "test" and not transcription:
                    cm = confusion(task, logits, y, thresholds)
        results.update(scored)
        if transcription:
            from .card import write_transcriber_card

            write_transcriber_card(out, best, args, scored, n_train=len(data["train"][1]), epochs_run=progress.epoch,
                                   data_note=describe_data(args, task))
        else:
            write_model_card(out, task, args, scored, cm if "test" in data else None,
                             n_train=len(data["train"][1]), epochs_run=progress.epoch,
                             data_note=describe_data(args, task))
        (out / "train_results.json").write_text(json.dumps(results, indent=1))
        if args.push_to_hub:
            from .hub import push_model

            push_model(out, args.push_to_hub)
    return results
