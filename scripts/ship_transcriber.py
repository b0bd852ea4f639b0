#!/usr/bin/env python
"""Tune a trained transcriber's decoding thresholds on the validation split, score it on the
test split (held-out SoundFonts) with mir_eval, rewrite its card, and ship it as
dub_models/weights/transcriber/.

    python scripts/ship_transcriber.py RUN_DIR DATASET --epochs 3 --max-train-examples 8000 ...
(the training flags are recorded in the card as they were given to `dub train`)
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kit_table(by_kit: dict, title: str = "Test clips") -> str:
    """Markdown table of the test scores by the SoundFont that plays each clip's drums."""
    rows = [f"{title}, by the SoundFont playing their drums:", "",
            "| drums played by | clips | note onset F1 | multi-instrument onset F1 | drum onset F1 |",
            "| --- | --- | --- | --- | --- |"]
    for kit, k in by_kit.items():
        drums = f"{k['drums_f1']:.3f}" if k["drum_hits"] else f"n/a ({k['drum_hits_found']} drum hits found)"
        rows.append(f"| {kit} | {k['clips']} | {k['onset_f1']:.3f} | {k['multi_instrument_f1']:.3f} | {drums} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("dataset")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--n-train", type=int, required=True)
    ap.add_argument("--tune-examples", type=int, default=150)
    ap.add_argument("--test-examples", type=int, default=400)
    ap.add_argument("--compare", help="another transcriber (folder) to score on the same test clips, for the card")
    ap.add_argument("--compare-name", default="the model shipped before", help="what the card calls --compare")
    ap.add_argument("--note", default="", help="extra text for the card (e.g. how the run was continued)")
    a = ap.parse_args()

    import torch

    from dub_models.card import write_transcriber_card
    from dub_models.evaluate import evaluate_model, tune_thresholds
    from dub_models.train import TrainArgs, describe_data
    from dub_models.tasks import get_task
    from dub_models.transcribe import load_transcriber

    torch.set_num_threads(2)
    run = Path(a.run)
    model = load_transcriber(run)
    compared = load_transcriber(a.compare) if a.compare else None  # a bad folder fails now, not after scoring
    th, val = tune_thresholds(model, a.dataset, "validation", a.tune_examples)
    model.config.onset_threshold, model.config.frame_threshold, model.config.drum_threshold = th.onset, th.frame, th.drum
    print("thresholds", th)
    scored = {"validation": val,
              "test": evaluate_model(model, a.dataset, "test", a.test_examples)}
    print(json.dumps(scored, indent=1))
    dest = ROOT / "dub_models" / "weights" / "transcriber"
    tmp = dest.with_name(".transcriber.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    args = TrainArgs(task="transcription", output_dir=str(run), dataset=a.dataset, size="small", epochs=a.epochs,
                     lr=a.lr, batch_size=a.batch_size)
    extra = (f"\nDecoding thresholds, picked on {a.tune_examples} validation clips: onset {th.onset}, frame {th.frame}, "
             f"drums {th.drum}. Test: {scored['test']['examples']} clips ({scored['test']['seconds']:.0f} s), "
             f"{scored['test']['x_realtime']:.0f}x realtime on 2 CPU threads.\n\n"
             + kit_table(scored["test"]["by_drum_kit"]))
    if a.compare:
        other = evaluate_model(compared, a.dataset, "test", a.test_examples)
        scored["compared"] = {"model": a.compare, "test": other}
        print("compared", json.dumps(other, indent=1))
        cols = ("onset_f1", "onset_offset_f1", "frame_f1", "multi_instrument_f1", "drums_f1")
        extra += (f"\nBeside {a.compare_name} on the same {other['examples']} test clips (its own thresholds):\n\n"
                  "| model | note onset F1 | note onset+offset F1 | frame F1 | multi-instrument onset F1 | drum onset F1 |\n"
                  "| --- | --- | --- | --- | --- | --- |\n"
                  + "".join(f"| {name} | " + " | ".join(f"{d[c]:.3f}" for c in cols) + " |\n"
                            for name, d in (("this model", scored["test"]), (a.compare_name, other))))
        extra += "\n" + kit_table(other["by_drum_kit"], f"{a.compare_name}, test clips")
    extra += f"\n{a.note}\n"
    write_transcriber_card(tmp, model, args, scored, n_train=a.n_train, epochs_run=a.epochs,
                           data_note=describe_data(args, get_task("transcription")), extra=extra)
    results = json.loads((run / "train_results.json").read_text()) if (run / "train_results.json").exists() else {}
    results["shipped"] = {"thresholds": vars(th), **scored}
    (tmp / "train_results.json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    print(f"shipped {run} as {dest} ({sum(f.stat().st_size for f in dest.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
