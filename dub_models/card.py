"""Model cards: how a model was trained and its held-out scores, with a confusion matrix PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _count(n: int) -> str:
    """A count in at most four characters: 987, 1.2k, 12k."""
    return str(n) if n < 1000 else f"{n / 1000:.1f}k" if n < 9950 else f"{round(n / 1000)}k"


def _n(n: int, word: str) -> str:
    """'1 epoch', '3 epochs'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def confusion_png(cm: np.ndarray, names: list[str], path: Path, title: str,
                  support: np.ndarray | None = None) -> None:
    """Confusion matrix as a PNG (true rows, predicted columns, counts in the cells), PIL only.
    Shading is each cell over its row's ``support`` (default: the row's sum; a multi-label
    task passes the number of clips carrying each label)."""
    from PIL import Image, ImageDraw

    n = len(names)
    cell, left, top = 28, 150, 40
    img = Image.new("RGB", (max(left + n * cell + 10, 6 * len(title) + 20), top + n * cell + 150), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 10), title, fill="black")
    total = cm.sum(1) if support is None else np.asarray(support)
    rows = np.clip(cm / np.maximum(1, total)[:, None], 0, 1)
    for i in range(n):
        d.text((5, top + i * cell + 8), names[i][:22], fill="black")
        for j in range(n):
            v = rows[i, j]
            shade = int(255 * (1 - v))
            d.rectangle([left + j * cell, top + i * cell, left + (j + 1) * cell - 1, top + (i + 1) * cell - 1],
                        fill=(shade, shade, 255) if i != j else (shade, 255, shade))
            if cm[i, j]:
                d.text((left + j * cell + 2, top + i * cell + 8), _count(int(cm[i, j])),
                       fill="black" if v < 0.6 else "white")
    for j in range(n):  # column names, written downwards
        label = Image.new("RGB", (140, 14), "white")
        ImageDraw.Draw(label).text((0, 0), names[j][:22], fill="black")
        img.paste(label.rotate(90, expand=True), (left + j * cell + 7, top + n * cell + 5))
    img.save(path)


def confusion_title(task) -> str:
    if task.multi_label:
        return f"dub {task.name}, test split (held-out SoundFonts): rows, clips with the label; off the diagonal, labels wrongly added"
    return f"dub {task.name}: test split (held-out SoundFonts)"


def base_training(init: str | None) -> str:
    """The Training section of the card of the model a run was fine-tuned from (a local folder with a
    dub card), as a sub-section: the new card then tells the whole recipe, whatever happens to that folder."""
    card = Path(init) / "README.md" if init else None
    if card is None or not card.is_file():
        return ""
    text = card.read_text()
    if "\n## Training" not in text:
        return ""
    section = text.split("\n## Training", 1)[1].split("\n## ", 1)[0].strip("\n")
    section = section.replace("\n### ", "\n#### ")  # its own base model, one level down
    return f"\n### The model it was fine-tuned from (`{init}`), as its card tells\n{section}\n"


def write_model_card(out: Path, task, args, scored: dict, confusion, n_train: int, epochs_run: int | None = None,
                     data_note: str | None = None, extra: str = "") -> None:
    """The model card (README.md) of a trained classifier; ``confusion``: ``train.confusion``'s
    (counts, names, row clips) on the test split, drawn as confusion_matrix.png, or None."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    test = scored.get("test", {})
    val = scored.get("validation", {})
    main_metric = "f1" if task.multi_label else "accuracy"
    main_key = "f1_micro" if task.multi_label else "accuracy"
    evals = []
    if test:
        evals.append(EvalResult(task_type="audio-classification", dataset_type="dub", dataset_name=f"dub {task.dataset_config} (held-out SoundFonts)",
                                dataset_config=task.dataset_config, dataset_split="test",
                                metric_type=main_metric, metric_value=round(test[main_key], 4)))
        if "family_accuracy" in test:
            evals.append(EvalResult(task_type="audio-classification", dataset_type="dub", dataset_name=f"dub {task.dataset_config} (held-out SoundFonts)",
                                    dataset_config=task.dataset_config, dataset_split="test", metric_type="accuracy",
                                    metric_name="GM family accuracy", metric_value=round(test["family_accuracy"], 4)))
    # What was trained, from the saved config (an --init-from model keeps its own architecture).
    saved = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else {}
    is_cnn = saved.get("model_type") == "dub-cnn" if saved else getattr(args, "arch", "ast") in ("cnn", "cnn-freq")
    freq_head = saved.get("pooling") == "time" if saved else getattr(args, "arch", "ast") == "cnn-freq"
    data = ModelCardData(library_name="transformers", pipeline_tag="audio-classification", license="mit",
                         tags=["audio", "music", "dub", task.name, "cnn" if is_cnn else "audio-spectrogram-transformer"],
                         model_name=f"dub-{task.name}", eval_results=evals or None,
                         metrics=[main_metric])
    if confusion is not None:
        confusion_png(confusion[0], confusion[1], out / "confusion_matrix.png", confusion_title(task), confusion[2])

    def fmt(d):
        return ", ".join(f"{k} {v:.3f}" for k, v in d.items() if k != "score" and "/" not in k) or "n/a"

    masks = getattr(args, "spec_augment", None)
    augment_note = f"SpecAugment ({masks} frequency and time masks)" if masks else "no SpecAugment"
    eq = getattr(args, "spec_eq", 0.0)
    if eq:
        from .train import EQ_POINTS

        augment_note += f", random EQ (gains up to ±{eq:g} dB at {EQ_POINTS} points over the mel axis)"
    if getattr(args, "mix_same", 0.0):
        augment_note += f", {args.mix_same:.0%} of the clips layered with another clip of their class (power weights 0.2-0.8)"
    if getattr(args, "mixup", 0.0):
        augment_note += f", mixup (Beta({args.mixup:g}, {args.mixup:g}) power weights, both labels in the loss)"
    teachers = getattr(args, "teachers", None)
    if teachers:
        augment_note += (f"; distilled from {', '.join(f'`{t}`' for t in teachers)} (the teachers' averaged probabilities "
                         f"at temperature {args.distill_temperature:g} weigh {args.distill:g} in the loss, the labels "
                         f"{1 - args.distill:g})")

    src = data_note or args.dataset or "the dub generator, streamed (fresh augmented examples every epoch)"
    head = ", head over time-pooled features that keeps the frequency axis" if freq_head else ""
    arch = f"dub's log-mel CNN (`DubCNNForAudioClassification`{head}; `import dub_models` registers it)" \
        if is_cnn else "`ASTForAudioClassification`, " + (
            f"hidden size {saved['hidden_size']}, {saved['num_hidden_layers']} layers" if saved and getattr(args, "init_from", None)
            else f"size `{args.size}`")
    init = getattr(args, "init_from", None)
    base = base_training(init)
    init_config = Path(init) / "config.json" if init else None
    init_pooling = json.loads(init_config.read_text()).get("pooling", "global") \
        if init_config is not None and init_config.is_file() else None
    notes = [f"its convolutions, under a new head: `--arch {'cnn-freq' if freq_head else 'cnn'}`"] \
        if is_cnn and init_pooling is not None and init_pooling != saved.get("pooling", "global") else []
    widths = getattr(args, "widen", None)
    if is_cnn and widths:
        before = json.loads(init_config.read_text()).get("channels") \
            if init_config is not None and init_config.is_file() else None
        notes.append(f"widened{f' from channels {before}' if before else ''} to {list(widths)} computing the same "
                     "function, Net2Net style: `--widen`")
    notes += ["how that was trained: below"] if base else []
    origin = f"Fine-tuned from `{init}`" + (f" ({'; '.join(notes)})" if notes else "") if init else \
        "Trained from scratch (no Hub checkpoint is reachable where it was trained)"
    device = "GPU" if _cuda() else "CPU"
    body = f"""
# dub-{task.name}

A classifier that labels a
{task.clip_s:g} s clip at {(getattr(args, "sample_rate", None) or 16000) / 1000:g} kHz with **{task.name}** classes: {", ".join(task.labels[:16])}{" ..." if len(task.labels) > 16 else ""}.
{"Multi-label: each effect is scored independently (sigmoid) and is active at its own threshold (`label_thresholds` in `config.json`, picked for the best F1 on the validation split; the held-out scores use them); `dry` means no effect, and it and the effects exclude each other (a clip over both thresholds keeps the side further above its threshold)." if task.multi_label else ""}

```python
{"import dub_models  # registers the dub-cnn architecture with transformers" + chr(10) if is_cnn else ""}from transformers import pipeline
clf = pipeline("audio-classification", model="<this folder or repo>")
clf("hit.wav")
```
or `dub classify --task {task.name} FILE...`.

## Training
- Data: {src}, config `{task.dataset_config}`, label column `{task.label_column}`; {n_train} training examples.
  Splits hold out whole instrument sources (SoundFonts or presets): the test scores are on instruments never heard in training.
- Model: {arch}. {origin} by
  `dub train` (accelerate) on {device}: {_n(epochs_run or args.epochs, 'epoch')}, batch {args.batch_size}, AdamW lr {args.lr},
  weight decay {args.weight_decay}, cosine schedule with {args.warmup_ratio:.0%} warm-up, {augment_note},
  seed {args.seed}. The epoch with the best validation
  score is kept.
{base}
## Held-out scores
- validation: {fmt(val)}
- **test: {fmt(test)}**
{"" if not (out / "confusion_matrix.png").exists() else chr(10) + "![confusion matrix](confusion_matrix.png)" + chr(10)}{extra}
## Limits
Trained on synthetic renders of General MIDI SoundFonts with dub's augmentation; recordings of
real instruments differ from those and will score lower.
"""
    card = ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body)
    card.save(out / "README.md")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _masks(args) -> int:
    """SpecAugment masks of a run: the task's default when none were given."""
    from .tasks import get_task

    return args.spec_augment if args.spec_augment is not None else get_task(args.task).spec_augment


def write_transcriber_card(out: Path, model, args, scored: dict, n_train: int, epochs_run: int | None = None,
                           data_note: str | None = None, extra: str = "") -> None:
    """Card of a dub transcriber: how it was trained and its mir_eval scores on held-out renders."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    test, val = scored.get("test", {}), scored.get("validation", {})
    names = {"onset_f1": "note onset F1", "onset_offset_f1": "note onset+offset F1", "frame_f1": "frame F1",
             "multi_instrument_f1": "multi-instrument onset F1", "drums_f1": "drum onset F1"}
    evals = [EvalResult(task_type="music-transcription", task_name="music transcription", dataset_type="dub",
                        dataset_name="dub mixtures (held-out SoundFonts)", dataset_config="mixtures",
                        dataset_split="test", metric_type="f1", metric_name=label, metric_value=test[key])
             for key, label in names.items() if key in test]
    data = ModelCardData(library_name="transformers", license="mit", model_name="dub-transcriber",
                         tags=["audio", "music", "dub", "music-transcription", "midi"], eval_results=evals or None,
                         metrics=["f1"])
    c = model.config
    n_params = sum(p.numel() for p in model.parameters())

    def row(d):
        return " | ".join(f"{d.get(k, float('nan')):.3f}" for k in names)

    src = data_note or args.dataset or "the dub generator, streamed (fresh augmented examples every epoch)"
    body = f"""
# dub-transcriber

Audio in, notes out: onset, offset, pitch (MIDI {c.pitch_min}-{c.pitch_min + c.num_pitches - 1}) and velocity of every
note, the GM family of each note, and the onsets and velocities of {len(c.drum_classes)} coarse drum classes.
A spectrogram transformer ({n_params / 1e6:.2f} M parameters): a convolutional front end over 10 ms frames of
a log-frequency spectrogram (2048-point DFT, two bins per semitone from A0; halved to {c.fps:g} frames/s), {c.num_layers} transformer layer(s) of width {c.d_model}, and linear heads.

```python
import dub_models  # registers the dub-transcriber architecture with transformers
from dub_models.transcribe import load_transcriber, transcribe_file
from dub_models.midi import write_midi

notes, _, _ = transcribe_file("song.mp3", load_transcriber("<this folder or repo>"))
write_midi(notes, "song.mid")
```
or `dub transcribe song.mp3 -o song.mid --model <this folder or repo>`.

## Training
- Data: {src}, config `mixtures` (procedural multi-instrument clips, rendered per track with dub's
  effects, mixed, noise and mp3 artefacts on the mix); {n_train} training clips.
  Validation and test clips are rendered with SoundFonts never heard in training.
- `dub train --task transcription` (accelerate) on {"GPU" if _cuda() else "CPU"}: {_n(epochs_run or args.epochs, 'epoch')}, batch {args.batch_size},
  AdamW lr {args.lr}, weight decay {args.weight_decay}, cosine schedule with {args.warmup_ratio:.0%} warm-up,
  SpecAugment frequency masks ({_masks(args)}), seed {args.seed}; the epoch with the best validation score
  (mean of note onset, multi-instrument and drum F1) is kept.

## Held-out scores (mir_eval, 50 ms onset tolerance, micro-averaged over clips)

| split | {" | ".join(names.values())} |
| --- | {" | ".join("---" for _ in names)} |
| validation | {row(val)} |
| **test** | {row(test)} |
{extra}
## Limits
Trained on synthetic renders of General MIDI SoundFonts; real recordings, singing and dense
mixes differ and will score lower. Each note's instrument is its GM family, written with the
family's first program.
"""
    card = ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body)
    card.save(out / "README.md")
