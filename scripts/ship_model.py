#!/usr/bin/env python
"""Copy a trained run's artefact into dub_models/weights/<task>/ as a shipped default.

Keeps what from_pretrained, pipeline and a reader need (safetensors weights, config.json,
preprocessor_config.json, README.md card, confusion_matrix.png, train_results.json), not the
checkpoints. With --dataset, the card gets a held-out breakdown measured now by ``dub evaluate``
(by augmentation, by source kit or font, per label, commonest confusions); with --compare, the same
figures of another model (say, the one shipped before) on the same clips, side by side.

Usage: python scripts/ship_model.py RUN_DIR TASK [--dataset DIR] [--split test] [--num-examples N]
                                   [--compare OLD_MODEL_DIR] [--dest DIR]
"""

import argparse
import shutil
import sys
from pathlib import Path

KEEP = ("model.safetensors", "config.json", "preprocessor_config.json", "README.md", "confusion_matrix.png",
        "train_results.json")
SECTION = "## Held-out breakdown"


def _main_metric(r: dict) -> str:
    return "f1_micro" if "f1_micro" in r else "accuracy"


def breakdown(new: dict, old: dict | None, old_name: str | None) -> str:
    """Markdown tables of ``evaluate_classifier`` results (``old``: another model on the same clips)."""
    key = _main_metric(new)
    extra = ["family_accuracy"] if "family_accuracy" in new else ["exact_match"] if "exact_match" in new else []
    cols = [key, *extra]

    def cells(d: dict | None) -> list[str]:
        return [f"{d[c]:.3f}" if d and c in d else "" for c in cols]

    head = cols + ([f"{c} ({old_name})" for c in cols] if old else [])

    def table(title: str, key: str | None, groups: dict, label=str) -> list[str]:
        """A table of ``groups`` (name -> scores), each row beside ``old[key]``'s same group."""
        rows = [f"| {title} | examples | " + " | ".join(head) + " |", "| --- | --- | " + " | ".join("---" for _ in head) + " |"]
        return rows + [f"| {label(g)} | {d['examples']} | " + " | ".join(
            cells(d) + (cells(old if key is None else old[key].get(g)) if old else [])) + " |" for g, d in groups.items()]

    lines = [SECTION, "",
             f"`dub evaluate` on {new['examples']} clips of the {new['split']} split of `{Path(new['dataset']).name}` "
             "(held-out SoundFonts)" + (f"; `{old_name}` scored on the same clips." if old else "."), ""]
    lines += table("clips", None, {"all": new})
    lines += table("clips", "by_effect", new["by_effect"], lambda g: "no effect (dry)" if g == "none" else f"with {g}")[2:]
    if new.get("by_family"):
        lines += ["", *table("GM family", "by_family", new["by_family"])]
    if 1 < len(new.get("by_source", {})) <= 40:
        lines += ["", *table("source (SoundFont / preset)", "by_source", new["by_source"])]
    if new.get("per_label"):
        lines += ["", "| label | support | precision | recall | F1 |" + (f" F1 ({old_name}) |" if old else ""),
                  "| --- | --- | --- | --- | --- |" + (" --- |" if old else "")]
        for g, d in new["per_label"].items():
            lines.append(f"| {g} | {d['support']} | {d['precision']:.3f} | {d['recall']:.3f} | {d['f1']:.3f} |"
                         + (f" {old['per_label'][g]['f1']:.3f} |" if old else ""))
    if new.get("top_confusions"):
        lines += ["", "Commonest confusions: " + "; ".join(f"{c['true']} taken for {c['predicted']} ({c['count']})"
                                                        for c in new["top_confusions"]) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("task")
    ap.add_argument("--dataset", help="a dub dataset to measure the held-out breakdown on")
    ap.add_argument("--split", default="test")
    ap.add_argument("--num-examples", type=int)
    ap.add_argument("--compare", help="another model of the task (e.g. the one shipped before), scored on the same clips")
    ap.add_argument("--dest", type=Path, help="where to write the folder (default: dub_models/weights/TASK)")
    a = ap.parse_args()
    dest = a.dest or Path(__file__).resolve().parent.parent / "dub_models" / "weights" / a.task
    tmp = dest.with_name(f".{a.task}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _assemble(a, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # the shipped folder stays as it was
        shutil.rmtree(tmp.with_name(f".{a.task}.compare"), ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    size = sum(f.stat().st_size for f in dest.iterdir())
    print(f"shipped {a.run} as {dest} ({size / 1e6:.1f} MB)")


def _assemble(a, tmp: Path) -> None:
    """The new shipped folder in ``tmp``: the run's files, and the card's breakdown when asked."""
    for name in KEEP:
        if (a.run / name).exists():
            shutil.copy2(a.run / name, tmp / name)
    if not (tmp / "model.safetensors").exists():
        raise SystemExit(f"{a.run}: no model.safetensors")
    if a.dataset:
        from dub_models.evaluate import evaluate_classifier

        new = evaluate_classifier(a.dataset, task=a.task, model=str(a.run), split=a.split, num_examples=a.num_examples)
        old = None
        if a.compare:
            old_dir = tmp.with_name(f".{a.task}.compare")  # the old model may be the one being replaced
            shutil.rmtree(old_dir, ignore_errors=True)
            shutil.copytree(a.compare, old_dir)
            old = evaluate_classifier(a.dataset, task=a.task, model=str(old_dir), split=a.split, num_examples=a.num_examples)
            shutil.rmtree(old_dir)
        import numpy as np

        from dub_models.card import confusion_png, confusion_title
        from dub_models.tasks import get_task

        conf = new["confusion"]  # drawn from these clips, so the picture matches the card's tables
        confusion_png(np.array(conf["counts"]), conf["labels"], tmp / "confusion_matrix.png",
                      confusion_title(get_task(a.task)), np.array(conf["row_clips"]))
        card = (tmp / "README.md").read_text()
        card = card.split("\n" + SECTION)[0].rstrip()
        if "(confusion_matrix.png)" not in card:
            card += "\n\n![confusion matrix](confusion_matrix.png)"
        card += "\n\n" + breakdown(new, old, "previous model" if old else None)
        (tmp / "README.md").write_text(card)
        print(f"{a.task}: {_main_metric(new)} {new[_main_metric(new)]:.4f}" + (f" (compared: {old[_main_metric(old)]:.4f})" if old else ""))


if __name__ == "__main__":
    sys.exit(main())
