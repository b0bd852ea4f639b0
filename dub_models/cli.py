"""The ``dub`` command. Heavy modules are imported inside each subcommand, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import json
import sys

from dub_dataset.effects import AugmentConfig
from dub_dataset.constants import ENGINES, EXAMPLES_PER_FILE, GM_FAMILIES, IMAGE_KINDS, SAMPLE_RATE, SPLITS


def _csv(kinds: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [t for t in items if t not in kinds]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(bad)} (choose from {', '.join(kinds)})")
        return items
    return parse


def _font_weight(text: str) -> tuple[str, float]:
    name, sep, w = text.rpartition("=")
    try:
        weight = float(w)
    except ValueError:
        weight = None
    if not sep or not name or weight is None or not 0 < weight < float("inf"):
        raise argparse.ArgumentTypeError(f"expected NAME=W with W a positive number, got {text!r}")
    return name, weight


def cmd_generate(a) -> int:
    from dub_dataset import Spec, generate, push_to_hub
    from dub_dataset.effects import AugmentConfig

    spec = Spec(config=a.config, seed=a.seed, sample_rate=a.sample_rate, clip_s=a.clip_seconds,
                soundfonts=a.soundfont or None, sample_dir=a.sample_dir, engines=a.engines,
                drumkits=None if a.drumkit is None else [d for d in a.drumkit if d],
                images=a.images,
                augment=AugmentConfig(max_pitch_shift_cents=a.max_pitch_shift_cents) if not a.dry else AugmentConfig.dry(),
                split_by=a.split_by, font_weights=dict(a.font_weight) if a.font_weight else None,
                render_oversample=a.render_oversample)
    out = generate(spec, a.num_examples, a.out, num_proc=a.num_proc, shard=a.shard,
                   num_shards=a.num_shards, examples_per_file=a.examples_per_file, progress=not a.quiet,
                   splits=a.splits)
    print(f"wrote {a.config} to {out} (load_dataset({str(out)!r}, {a.config!r}))")
    if a.push_to_hub:
        print("pushed:", push_to_hub(out, a.push_to_hub, private=a.private))
    return 0


def cmd_info(a) -> int:
    from dub_dataset import load_dub_dataset

    ds = load_dub_dataset(a.dataset, a.config)
    print(ds)
    for split, d in ds.items():
        for name, feat in d.features.items():
            if hasattr(feat, "names") and d.num_rows:
                counts = {}
                for v in d.select_columns([name])[name]:
                    counts[feat.names[v]] = counts.get(feat.names[v], 0) + 1
                top = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
                print(f"  {split}.{name}: {len(counts)} classes seen; most: {top}")
        if d.num_rows:
            row = d.select_columns([c for c in d.column_names if "image" not in c and c != "audio"])[0]
            print(f"  {split}[0]: " + json.dumps(row, default=str)[:400])
    return 0


def cmd_spectrogram(a) -> int:
    from pathlib import Path

    from dub_dataset.audio_io import load_audio
    from dub_dataset.spectrogram import image, png_bytes

    audio = load_audio(a.audio, a.sample_rate)
    if audio.size == 0:
        raise ValueError(f"{a.audio}: no audio samples")
    out = Path(a.output or Path(a.audio).with_suffix(f".{a.kind}.png"))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(png_bytes(image(audio, a.kind, a.sample_rate)))
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


def cmd_synth_kit(a) -> int:
    from dub_dataset.drumsynth import write_synth_kit

    paths = write_synth_kit(a.out, a.per_class, a.seed)
    print(f"wrote {len(paths)} drum hits to {a.out} (use: dub generate --config drums --drumkit system --drumkit {a.out})")
    return 0


def _font_written(path, report=(), verbose=True, summary=None) -> int:
    """What a font-building command prints: its report (or a one-line summary of it) and what it wrote."""
    from dub_dataset.soundfonts import load_soundfont

    font = load_soundfont(path)
    for line in (report if verbose or summary is None else [summary]):
        print(f"  {line}")
    print(f"wrote {len(font.melodic())} melodic presets" + (" and a drum kit" if font.drum_kits() else "")
          + f" to {path} (put it in ~/.local/share/soundfonts for dub generate to find it, or pass --soundfont {path})")
    return 0


def cmd_gus2sf2(a) -> int:
    from dub_dataset.gus import gus_to_soundfont

    return _font_written(gus_to_soundfont(a.folder, a.out, a.name))


def cmd_samples2sf2(a) -> int:
    from dub_dataset.multisample import multisample_to_soundfont

    report: list[str] = []
    return _font_written(multisample_to_soundfont(a.folder, a.out, a.name, report), report)


def cmd_stk_font(a) -> int:
    from dub_dataset.stk import stk_to_soundfont

    report: list[str] = []
    path = stk_to_soundfont(a.out, step=a.step, seed=a.seed, report=report)
    out = sum("left out" in line for line in report)
    return _font_written(path, report, a.verbose, f"{out} notes left out, {len(report) - out} pitch remarks (--verbose lists them)")


def cmd_eas_font(a) -> int:
    from dub_dataset.sonivox import eas_to_soundfont

    report: list[str] = []
    path = eas_to_soundfont(a.out, step=a.step, drums=not a.no_kit, report=report)
    return _font_written(path, report, a.verbose, f"{len(report)} notes left out (silent in EAS; --verbose lists them)")


def cmd_foxdot_kit(a) -> int:
    from dub_dataset.packs import foxdot_sample_folder

    files = foxdot_sample_folder(a.source, a.out, check_hash=not a.no_hash_check)
    print(f"wrote {len(files)} one-shots to {a.out} (dub generate --config drums finds it when it is "
          f"~/.local/share/dub/drumkits/FoxDot; elsewhere: --drumkit system --drumkit {a.out})")
    return 0


def cmd_drumsynth_kit(a) -> int:
    from dub_dataset.dsfile import drumsynth_sample_folder

    files = drumsynth_sample_folder(a.source, a.out, seed=a.seed)
    print(f"wrote {len(files)} rendered DrumSynth hits to {a.out} (dub generate --config drums finds it when it is "
          f"~/.local/share/dub/drumkits/LMMS-DrumSynth; elsewhere: --drumkit system --drumkit {a.out})")
    return 0


def cmd_bank(a) -> int:
    from dub_dataset import Spec
    from dub_dataset.bank import export_bank, spec_of_dataset

    if a.dataset:
        spec = spec_of_dataset(a.dataset, a.split)
    else:
        spec = Spec(config="drums", seed=a.seed, soundfonts=a.soundfont or None,
                    drumkits=None if a.drumkit is None else [d for d in a.drumkit if d],
                    augment=AugmentConfig(max_pitch_shift_cents=a.max_pitch_shift_cents), split_by=a.split_by)
    index = export_bank(spec, a.out, split=a.split)
    hits = {(h["offset"], h["length"]) for c in index["candidates"] for h in c["hits"]}
    print(f"wrote {len(hits)} hits of {len(index['candidates'])} {a.split} keys and kit instruments "
          f"({index['num_samples'] / index['sample_rate']:.0f} s of audio) to {a.out} "
          f"(train on it: python scripts/train_drums_bank.py --bank {a.out} --out DIR --model NAME=cnn:16,48,96,160)")
    return 0


def _kit_keys(path: str, kit_word: str | None) -> int:
    """What each key of a SoundFont's drum kits plays, and the class the drums config gives it."""
    from dub_dataset.constants import DRUM_NOTES
    from dub_dataset.soundfonts import key_sample_names, load_soundfont
    from dub_dataset.sources import kit_key_classes

    font = load_soundfont(path)
    kits = [k for k in font.drum_kits() if not kit_word or kit_word.lower() in k.name.lower()]
    if not kits:
        raise ValueError(f"{path}: no drum kit{f' named like {kit_word!r}' if kit_word else ''} "
                         f"(kits: {', '.join(k.name for k in font.drum_kits()) or 'none'})")
    for kit in kits:
        names, classes = key_sample_names(font, kit), kit_key_classes(font, kit)
        print(f"{font.name} / {kit.name} ({kit.bank}:{kit.program})")
        for n in DRUM_NOTES:
            if n in names:
                print(f"  {n:3d} {classes[n] or 'left out':16s} {', '.join(names[n])}")
    return 0


def cmd_soundfonts(a) -> int:
    from dub_dataset.soundfonts import discover_soundfonts, soundfont_splits

    if a.kit and not a.keys:
        raise ValueError("--kit picks kits of the font given with --keys FONT")
    if a.keys:
        return _kit_keys(a.keys, a.kit)
    fonts = discover_soundfonts()
    split, kit_split = soundfont_splits(fonts), soundfont_splits(fonts, kits=True)
    by_key = soundfont_splits(fonts, kits=True, by_key=True)  # the drums config's rule
    by_preset = soundfont_splits(fonts, by_key=True)  # the notes config's rule
    for f in fonts:
        where = (split[f.path] if by_preset[f.path] == split[f.path] else
                 f"{split[f.path]} (notes: {by_preset[f.path]}, without its presets that play a held-out recording)")
        melodic = f"{len(f.melodic()):4d} melodic -> {where:10s}" if f.melodic() else " " * 26
        where = (kit_split[f.path] if by_key[f.path] == kit_split[f.path] else
                 f"{kit_split[f.path]} (drums: {by_key[f.path]}, without its keys that play a held-out recording)")
        kits = f"{len(f.drum_kits()):3d} kits -> {where:10s}" if f.drum_kits() else " " * 23
        print(f"{f.name:24s} {melodic} {kits} {f.path}  [{f.license}]")
    from dub_dataset.hydrogen import discover_drumkits, kit_splits

    recorded = discover_drumkits()  # recorded kits, used by the drums config
    rec_split = kit_splits(recorded)
    for k in recorded:
        print(f"{k.name[:24]:24s} {'':26s} {len(k.instruments):3d} hits -> {rec_split[k.path]:10s} {k.path}  [{k.kind}; {k.license[:60]}]")
    return 0


def channel_list(value: str) -> list[int]:
    """``--widen``'s comma list of channel counts."""
    try:
        return [int(c) for c in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: channel counts separated by commas, e.g. 32,96,192,320") from None


def cmd_train(a) -> int:
    from .train import TrainArgs, training_function

    if not a.dataset and not a.stream:
        raise ValueError("give --dataset DIR_OR_HUB_ID or --stream")
    res = training_function(TrainArgs(
        task=a.task, output_dir=a.output_dir, dataset=a.dataset, size=a.size, arch=a.arch, init_from=a.init_from, widen=a.widen,
        epochs=a.epochs,
        batch_size=a.batch_size, lr=a.lr, grad_accum=a.grad_accum, mixed_precision=a.mixed_precision,
        seed=a.seed, resume=a.resume, epochs_per_run=a.epochs_per_run, tracker=None if a.tracker == "none" else a.tracker,
        max_train_examples=a.max_train_examples, max_eval_examples=a.max_eval_examples, stream=a.stream, stream_examples=a.stream_examples,
        soundfonts=a.soundfont, num_threads=a.num_threads, push_to_hub=a.push_to_hub, sample_rate=a.sample_rate,
        weight_decay=a.weight_decay, spec_augment=a.spec_augment, spec_eq=a.spec_eq,
        mix_same=a.mix_same, mixup=a.mixup, teachers=a.teacher, distill=a.distill,
        distill_temperature=a.distill_temperature))
    print(json.dumps({k: v for k, v in res.items() if k != "history"}, indent=1))
    print(f"saved to {a.output_dir}")
    return 0


def _quiet_transformers() -> None:
    """No weight-loading progress bars or filter-bank warnings in a command's output."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")


def cmd_classify(a) -> int:
    from .classifier import classify_files

    _quiet_transformers()

    results = classify_files(a.files, task=a.task, model=a.model, top_k=a.top_k)
    if a.json:
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        if r["silent"]:
            print(f"{r['file']}: silent (no sound above -80 dBFS), not classified")
            continue
        top = ", ".join(f"{s['label']} {s['score']:.2f}" for s in r["labels"])
        extra = ""
        if "families" in r:
            extra = " | family: " + ", ".join(f"{s['label']} {s['score']:.2f}" for s in r["families"])
        if "active" in r:
            extra = " | active: " + (", ".join(r["active"]) or "none")
        print(f"{r['file']}: {top}{extra}")
    return 0


def cmd_transcribe(a) -> int:
    from pathlib import Path

    from .transcribe import Thresholds, load_transcriber, transcribe_to_midi

    _quiet_transformers()
    if a.output and len(a.files) > 1:
        raise ValueError("-o/--output names one MIDI file: with several inputs use --out-dir")
    model = load_transcriber(a.model)
    keep = set(a.keep) if a.keep else None
    th = Thresholds.of(model, a.onset_threshold, a.frame_threshold, a.drum_threshold)
    results = []
    for f in a.files:
        out = Path(a.output) if a.output else Path(a.out_dir) / (Path(f).stem + ".mid")
        out.parent.mkdir(parents=True, exist_ok=True)
        r = transcribe_to_midi(f, out, model, th, keep, a.tempo)
        results.append(r)
        if not a.json:
            if r["message"]:
                print(r["message"])
            tracks = ", ".join(f"{t['instrument']} {t['notes']}" for t in r["tracks"]) or "no notes"
            print(f"{f}: {r['duration_s']:.1f} s, {len(r['notes'])} notes ({tracks}), "
                  f"{r['tempo_bpm']:g} BPM -> {out}")
    if a.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=1))
    return 0


def cmd_evaluate(a) -> int:
    from .evaluate import evaluate_model

    _quiet_transformers()
    if a.task != "transcription" and a.tune_thresholds:
        from .evaluate import tune_label_thresholds_of

        if not a.model or not a.dataset:
            raise ValueError("--tune-thresholds needs --model DIR (updated in place) and --dataset (its validation split)")
        print(json.dumps(tune_label_thresholds_of(a.model, a.dataset, a.num_examples), indent=1))
        return 0
    if a.task != "transcription":
        return _evaluate_classifier(a)
    if a.tune_thresholds:
        from .evaluate import tune_thresholds
        from .transcribe import load_transcriber

        if not a.model or not a.dataset:
            raise ValueError("--tune-thresholds needs --model DIR (updated in place) and --dataset (its validation split)")
        m = load_transcriber(a.model)
        th, scores = tune_thresholds(m, a.dataset, "validation", a.num_examples or 50)
        m.config.onset_threshold, m.config.frame_threshold, m.config.drum_threshold = th.onset, th.frame, th.drum
        m.config.save_pretrained(a.model)
        print(json.dumps({"thresholds": {"onset": th.onset, "frame": th.frame, "drum": th.drum},
                          "validation": scores}, indent=1))
        return 0
    scores = evaluate_model(model=a.model, dataset=a.dataset, split=a.split, num_examples=a.num_examples or 50,
                            seed=a.seed, soundfonts=a.soundfont)
    if a.json:
        print(json.dumps(scores, indent=1))
        return 0
    print(f"{scores['examples']} {a.split} clips ({scores['source']}), {scores['seconds']:.0f} s of audio, "
          f"{scores['x_realtime']:.0f}x realtime")
    for m in ("onset", "onset_offset", "frame", "multi_instrument", "drums"):
        print(f"  {m:17s} F1 {scores[m + '_f1']:.3f}  (precision {scores[m + '_precision']:.3f}, "
              f"recall {scores[m + '_recall']:.3f})")
    print("  by the SoundFont playing the drums:")
    for kit, k in scores["by_drum_kit"].items():
        drums = (f"drum onset F1 {k['drums_f1']:.3f}" if k["drum_hits"]
                 else f"{k['drum_hits_found']} drum hits found where none play")
        print(f"    {kit:24s} {k['clips']:5d} clips  note onset F1 {k['onset_f1']:.3f}  {drums}")
    return 0


def _evaluate_classifier(a) -> int:
    from .evaluate import evaluate_classifier

    if not a.dataset:
        raise ValueError(f"--task {a.task}: give --dataset, a dub dataset folder or Hub id with a {a.split} split")
    r = evaluate_classifier(a.dataset, task=a.task, model=a.model, split=a.split,
                            num_examples=a.num_examples)
    if a.json:
        print(json.dumps(r, indent=1))
        return 0

    def line(d):
        return ", ".join(f"{k} {v:.3f}" for k, v in d.items() if k != "examples")

    print(f"{r['task']}: {r['examples']} {r['split']} examples of {r['dataset']}: {line({k: v for k, v in r.items() if isinstance(v, float)})}")
    for g, d in r["by_effect"].items():
        print(f"  {g:10s} {d['examples']:6d}  {line(d)}")
    for g, d in r.get("by_family", {}).items():
        print(f"  family {g:17s} {d['examples']:6d}  {line(d)}")
    for g, d in r.get("per_label", {}).items():
        print(f"  label {g:10s} support {d['support']:5d}  precision {d['precision']:.3f}, recall {d['recall']:.3f}, f1 {d['f1']:.3f}")
    if 1 < len(r.get("by_source", {})) <= 40:  # kits; a notes split has 128 programs: --json lists them
        for g, d in r["by_source"].items():
            print(f"  {g:30s} {d['examples']:6d}  {line(d)}")
    for c in r.get("top_confusions", []):
        print(f"  confused: {c['true']} -> {c['predicted']} ({c['count']})")
    return 0


def cmd_app(a) -> int:
    from .space import launch

    _quiet_transformers()
    launch(a.host, a.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dub", description="Style, instrument, notes, effects: extract all of it from an mp3.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="render, augment and write a dataset in the Hub layout")
    g.add_argument("--config", required=True, help="drums, notes, folder or mixtures")
    g.add_argument("--num-examples", type=int, required=True)
    g.add_argument("--out", required=True, help="dataset folder (load_dataset(OUT, CONFIG) reads it)")
    g.add_argument("--num-proc", type=int, default=1)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--shard", type=int, default=0, help="this machine's shard, 0-based")
    g.add_argument("--num-shards", type=int, default=1, help="machines sharing the job")
    g.add_argument("--splits", type=_csv(SPLITS), default=None,
                   help="comma list: write only these splits into OUT, keeping its others (same --num-examples "
                        "and --seed as its whole build: the same examples, e.g. with other augmentation)")
    g.add_argument("--soundfont", action="append", help="SoundFont path (repeat); default: all system ones")
    g.add_argument("--drumkit", action="append",
                   help="drums: a Hydrogen kit folder or a flat folder of one-shot samples named by what they "
                        "play (repeat; --drumkit '' for none; --drumkit system: the system's kits beside your own); "
                        "default: the system's recorded kits (Hydrogen, FreePats, LMMS, Sonic Pi) when no --soundfont is given")
    g.add_argument("--sample-dir", help="folder: one sub-folder of samples per instrument; mixtures: a folder of MIDI files")
    g.add_argument("--sample-rate", type=int, default=SAMPLE_RATE)
    g.add_argument("--render-oversample", type=int, default=2,
                   help="run the SoundFont synthesisers at this multiple of the sample rate and resample down, so "
                   "nothing above half the rate folds back (default 2; 1: alias as datasets written before this option)")
    g.add_argument("--clip-seconds", type=float, default=None, help="default: 2 (drums), 4 (notes, folder)")
    g.add_argument("--engines", type=_csv(ENGINES), default=ENGINES, help="comma list: " + ",".join(ENGINES))
    g.add_argument("--images", type=_csv(IMAGE_KINDS), default=IMAGE_KINDS, help="comma list: " + ",".join(IMAGE_KINDS))
    g.add_argument("--split-by", default="auto", choices=("auto", "soundfont", "preset"))
    g.add_argument("--dry", action="store_true", help="no augmentation")
    g.add_argument("--max-pitch-shift-cents", type=float, default=AugmentConfig.max_pitch_shift_cents,
                   help="largest detune drawn, in cents (default: slight; drum kits differ by several semitones)")
    g.add_argument("--font-weight", action="append", type=_font_weight, metavar="NAME=W",
                   help="notes: draw a family's presets from SoundFont NAME (as `dub soundfonts` names it) W times "
                        "as often as from the others (repeat), e.g. ToneJS_Instruments=8 for more recorded instruments; "
                        "drums: the same for a class's SoundFont kit keys, e.g. Sonivox_EAS=12")
    g.add_argument("--push-to-hub", metavar="ORG/NAME")
    g.add_argument("--private", action="store_true")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--examples-per-file", type=int, default=EXAMPLES_PER_FILE, help=argparse.SUPPRESS)
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("info", help="print what a dataset folder (or Hub id) holds")
    i.add_argument("dataset")
    i.add_argument("--config", default=None)
    i.set_defaults(func=cmd_info)

    s = sub.add_parser("spectrogram", help="a spectrogram PNG of any audio file")
    s.add_argument("audio")
    s.add_argument("--kind", default="logmel", choices=IMAGE_KINDS)
    s.add_argument("-o", "--output")
    s.add_argument("--sample-rate", type=int, default=SAMPLE_RATE)
    s.set_defaults(func=cmd_spectrogram)

    from .train import TrainArgs  # light: numpy and the task table

    t = sub.add_parser("train", help="train a classifier (accelerate; CPU, GPU or accelerate launch)")
    t.add_argument("--task", required=True, help="drums, instrument, effects or transcription")
    t.add_argument("--dataset", help="dub dataset folder or Hub id")
    t.add_argument("--output-dir", required=True)
    t.add_argument("--size", default="tiny", help="model size: tiny, small or base (AST, or the transcriber)")
    t.add_argument("--arch", default=None, choices=("ast", "cnn", "cnn-freq"),
                   help="AST (the default), or dub's small log-mel CNN (cnn-freq: its head keeps the frequency "
                   "axis); with --init-from a dub CNN, cnn or cnn-freq keeps its convolutions and gives it that head")
    t.add_argument("--init-from", help="fine-tune a pretrained model (folder or Hub id): an AST, e.g. "
                   "MIT/ast-finetuned-audioset-10-10-0.4593, or a dub model such as dub_models/weights/drums")
    t.add_argument("--widen", metavar="C1,C2,C3,C4", type=channel_list,
                   help="with --init-from a dub CNN: widen its conv blocks to these channels first, keeping what it "
                   "computes (Net2Net: new channels copy old ones, their outgoing weights shared among the copies)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--grad-accum", type=int, default=1)
    t.add_argument("--mixed-precision", default="no", choices=("no", "bf16", "fp16"))
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUTPUT_DIR")
    t.add_argument("--epochs-per-run", type=int, help="stop after this many epochs (time-sliced jobs); --resume continues")
    t.add_argument("--tracker", default="tensorboard", help="tensorboard, trackio or none")
    t.add_argument("--max-train-examples", type=int)
    t.add_argument("--max-eval-examples", type=int, help="cap on validation and test examples")
    t.add_argument("--stream", action="store_true", help="fresh generated examples every epoch, nothing stored")
    t.add_argument("--stream-examples", type=int, default=2000)
    t.add_argument("--soundfont", action="append")
    t.add_argument("--num-threads", type=int)
    t.add_argument("--sample-rate", type=int,
                   help="the model's input rate in Hz (default 16000, or the --init-from model's); the dataset's "
                   "clips are resampled to it, and the log-mel keeps 25 ms frames every 10 ms with its bins up to half the rate")
    t.add_argument("--weight-decay", type=float, default=TrainArgs.weight_decay)
    t.add_argument("--spec-augment", type=int, metavar="MASKS",
                   help="SpecAugment frequency and time masks per example (0: off); default: the task's "
                        "(2; 0 for effects, where a masked band would look like a filter)")
    t.add_argument("--spec-eq", type=float, default=0.0, metavar="DB",
                   help="random EQ on training features, gains up to DB dB at 6 points over the mel axis "
                        "(timbre variety; 0: off)")
    t.add_argument("--mix-same", type=float, default=0.0, metavar="SHARE",
                   help="layer this share of the training clips with another clip of the same class "
                        "(power weights 0.2-0.8, label kept: a kit no font has; single-label tasks; 0: off)")
    t.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mixup: mix every training clip with another at a Beta(ALPHA, ALPHA) power weight, "
                        "the loss weighing both labels (single-label tasks; 0: off)")
    t.add_argument("--teacher", action="append", metavar="MODEL",
                   help="distillation: a trained classifier (folder or Hub id) whose probabilities on each training "
                        "clip the model also learns; repeat it for an ensemble (probabilities averaged, each teacher "
                        "reading the clips at its own rate; single-label tasks, with --dataset)")
    t.add_argument("--distill", type=float, default=TrainArgs.distill, metavar="W",
                   help="with --teacher: the soft targets' weight in the loss, the labels' is 1 - W")
    t.add_argument("--distill-temperature", type=float, default=TrainArgs.distill_temperature, metavar="T",
                   help="with --teacher: teachers' and model's logits divided by T before the softmax")
    t.add_argument("--push-to-hub", metavar="ORG/NAME")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("classify", help="top labels of audio files with a zoo model")
    c.add_argument("files", nargs="+")
    c.add_argument("--task", help="drums, instrument or effects (the shipped model)")
    c.add_argument("--model", help="a saved model folder or Hub id instead of the shipped one")
    c.add_argument("--top-k", type=int, default=3)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_classify)

    r = sub.add_parser("transcribe", help="audio files to MIDI: notes, velocities, instruments, drums")
    r.add_argument("files", nargs="+", help="mp3, wav, flac, ogg, m4a...: any rate and channel count")
    r.add_argument("-o", "--output", help="the MIDI file (one input); default: OUT_DIR/<name>.mid")
    r.add_argument("--out-dir", default=".", help="where MIDI files go without -o (default: here)")
    r.add_argument("--model", help="a transcriber folder or Hub id instead of the shipped one")
    r.add_argument("--json", action="store_true", help="print the notes and tracks as JSON")
    r.add_argument("--onset-threshold", type=float, help="lower finds more (quieter) notes; default: the model's")
    r.add_argument("--frame-threshold", type=float)
    r.add_argument("--drum-threshold", type=float)
    r.add_argument("--keep", type=_csv((*GM_FAMILIES, "drums")), help="comma list of families (and drums) to keep")
    r.add_argument("--tempo", type=float, help="BPM written to the MIDI (default: estimated)")
    r.set_defaults(func=cmd_transcribe)

    e = sub.add_parser("evaluate", help="score a transcriber (mir_eval F1s) or a classifier (accuracy, by effect) "
                                        "on held-out data")
    e.add_argument("--task", default="transcription", choices=("transcription", "drums", "instrument", "effects"))
    e.add_argument("--model", help="a model folder or Hub id for the task (default: the shipped one)")
    e.add_argument("--dataset", help="a dub dataset folder or Hub id (mixtures for transcription; default there: "
                                     "render clips now)")
    e.add_argument("--split", default="test", choices=("train", "validation", "test"))
    e.add_argument("--num-examples", type=int, help="clips to score (transcription default 50; classifiers: "
                                                     "the whole split)")
    e.add_argument("--seed", type=int, default=1, help="draw of the clips rendered now")
    e.add_argument("--soundfont", action="append", help="with no --dataset: SoundFonts to render with")
    e.add_argument("--json", action="store_true")
    e.add_argument("--tune-thresholds", action="store_true",
                   help="pick the thresholds on the validation split of --dataset and save them in --model: "
                        "the transcriber's decoding thresholds, or each label's of a multi-label classifier (effects)")
    e.set_defaults(func=cmd_evaluate)

    w = sub.add_parser("app", help="the web app (transcribe, classify, spectrograms) on 127.0.0.1")
    w.add_argument("--host", default="127.0.0.1", help="0.0.0.0 serves other machines too")
    w.add_argument("--port", type=int, default=7860)
    w.set_defaults(func=cmd_app)

    k = sub.add_parser("synth-kit", help="write a folder of drawn analog-style drum hits (a kit for dub generate --drumkit)")
    k.add_argument("out", help="folder to write (files NNN_synth_<voice>_<i>.wav; NNN: the GM key)")
    k.add_argument("--per-class", type=int, default=16, help="hits of each of the 12 drum classes")
    k.add_argument("--seed", type=int, default=0)
    k.set_defaults(func=cmd_synth_kit)

    g = sub.add_parser("gus2sf2", help="convert a GUS melodic patch set (FreePats' Tone_000: NNN_Name.pat) to a SoundFont")
    g.add_argument("folder", help="folder of .pat files named NNN_Name.pat, NNN the GM program")
    g.add_argument("out", help="SoundFont to write (.sf2, written atomically)")
    g.add_argument("--name", help="the SoundFont's name (default: the folder's)")
    g.set_defaults(func=cmd_gus2sf2)

    m = sub.add_parser("samples2sf2", help="convert folders of note-named recordings (NNN_name/A4.mp3) to a SoundFont")
    m.add_argument("folder", help="folder of instrument folders named NNN_name (NNN the GM program), each of "
                   "recordings named by their note (A4.mp3, Cs4.wav; an npm package's package/ folder counts)")
    m.add_argument("out", help="SoundFont to write (.sf2, written atomically)")
    m.add_argument("--name", help="the SoundFont's name (default: the folder's)")
    m.set_defaults(func=cmd_samples2sf2)

    t = sub.add_parser("stk-font", help="render the Synthesis ToolKit's physical-model and FM instruments "
                       "(Debian stk) into a SoundFont of their GM programs")
    t.add_argument("out", help="SoundFont to write (.sf2, written atomically)")
    t.add_argument("--step", type=int, default=3, help="semitones between rendered notes (default 3)")
    t.add_argument("--seed", type=int, default=0, help="seed of STK's breath, bow and pluck noise")
    t.add_argument("--verbose", action="store_true", help="list the notes left out and why")
    t.set_defaults(func=cmd_stk_font)

    e = sub.add_parser("eas-font", help="render the GM set of Sonivox EAS, Android's MIDI synthesiser (Debian "
                       "libsonivox3), into a SoundFont: 128 programs and a drum kit")
    e.add_argument("out", help="SoundFont to write (.sf2, written atomically)")
    e.add_argument("--step", type=int, default=6, help="semitones between rendered notes (default 6)")
    e.add_argument("--no-kit", action="store_true", help="leave the drum kit out")
    e.add_argument("--verbose", action="store_true", help="list the notes left out and why")
    e.set_defaults(func=cmd_eas_font)

    f = sub.add_parser("foxdot-kit", help="lay FoxDot's drum one-shots (its PyPI sdist) out as a training kit folder")
    f.add_argument("source", help="foxdot-0.9.0.tar.gz (pip download --no-deps --no-binary :all: foxdot==0.9.0), "
                   "or an unpacked FoxDot folder")
    f.add_argument("out", help="folder to write (files NNN_<folder>_<name>, NNN the GM key; replaced whole)")
    f.add_argument("--no-hash-check", action="store_true", help="accept an sdist other than FoxDot 0.9.0's")
    f.set_defaults(func=cmd_foxdot_kit)

    f = sub.add_parser("drumsynth-kit", help="render LMMS's DrumSynth presets (.ds) whose names say a drum class "
                       "into a training kit folder")
    f.add_argument("source", nargs="?", default="/usr/share/lmms/samples/drumsynth",
                   help="folder of .ds presets (default: Debian lmms-common's)")
    f.add_argument("out", help="folder to write (files NNN_<folder>_<preset>.wav, NNN the GM key; replaced whole)")
    f.add_argument("--seed", type=int, default=0, help="seed of the presets' noise")
    f.set_defaults(func=cmd_drumsynth_kit)

    b = sub.add_parser("bank", help="write the dry drum hits of a drums config's split (a hit bank to train from elsewhere)")
    b.add_argument("out", help="folder to write (hits.flac, index.json)")
    b.add_argument("--dataset", help="a dub dataset folder: the Spec its drums split was written with")
    b.add_argument("--split", default="train", choices=SPLITS)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--soundfont", action="append", help="SoundFont path (repeat); default: all system ones")
    b.add_argument("--drumkit", action="append", help="a recorded kit folder (repeat; 'system': the system's kits)")
    b.add_argument("--split-by", default="auto", choices=("auto", "soundfont", "preset"))
    b.add_argument("--max-pitch-shift-cents", type=float, default=AugmentConfig.max_pitch_shift_cents)
    b.set_defaults(func=cmd_bank)

    f = sub.add_parser("soundfonts", help="list the SoundFonts and Hydrogen drum kits found on this machine, and their splits")
    f.add_argument("--keys", metavar="FONT", help="list what each key of FONT's drum kits plays (its samples) "
                   "and the class the drums config gives it")
    f.add_argument("--kit", help="with --keys: only kits whose name holds this word")
    f.set_defaults(func=cmd_soundfonts)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError, OSError) as e:  # our errors name the file or value
        print(f"dub {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dub {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
