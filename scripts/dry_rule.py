#!/usr/bin/env python
"""Compare decodings of an effects model on dub dataset splits: labels active independently (each at
its threshold) against `dry` and the effects excluding each other (dub's decoding: the side further above
its threshold stays). Prints micro-F1 and exact match of both, side by side.

With --tune DATASET:SPLIT (a validation split), a third column: the same rule with every label's
threshold re-picked on that split together (``tune_label_thresholds`` with ``exclusive``), against the
model's own thresholds (each picked by its own F1, as dub's trainer and --tune-thresholds do).

Usage: python scripts/dry_rule.py MODEL DATASET:SPLIT [DATASET:SPLIT ...] [--tune DATASET:validation]
"""

import argparse

import numpy as np


def scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(micro-F1, exact match) of boolean label rows."""
    tp = float((pred & truth).sum())
    return 2 * tp / max(1.0, float(pred.sum() + truth.sum())), float((pred == truth).all(1).mean())


def parse_split(ap, spec: str) -> tuple[str, str]:
    d, sep, split = spec.rpartition(":")
    if not sep or not d or split not in ("train", "validation", "test"):
        ap.error(f"expected DATASET:SPLIT with SPLIT train, validation or test, got {spec}")
    return d, split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an effects model folder or Hub id")
    ap.add_argument("splits", nargs="+", metavar="DATASET:SPLIT", help="e.g. my_dub:validation")
    ap.add_argument("--tune", metavar="DATASET:SPLIT", help="re-pick the thresholds together on this split")
    a = ap.parse_args()
    parts = [parse_split(ap, s) for s in a.splits]
    tune = parse_split(ap, a.tune) if a.tune else None

    import torch

    from dub_dataset import load_dub_dataset
    from dub_models.classifier import exclusive_label, label_thresholds
    from dub_models.evaluate import dataset_logits, load_classifier
    from dub_models.tasks import targets
    from dub_models.train import multi_label_pred, tune_label_thresholds

    torch.set_num_threads(1)
    m, fe, task = load_classifier(a.model, "effects")
    th, dry = label_thresholds(m.config), exclusive_label(task.labels)
    cache = {}

    def scored(dataset, split):
        if (dataset, split) not in cache:
            ds = load_dub_dataset(dataset, task.dataset_config)[split]
            cache[dataset, split] = dataset_logits(m, fe, ds), targets(task, ds["effects"]) > 0.5
        return cache[dataset, split]

    together = None
    if tune:
        together = tune_label_thresholds(*scored(*tune), exclusive=dry)
        print("thresholds, the model's:", dict(zip(task.labels, np.round(th, 2).tolist())))
        print("thresholds, tuned together on %s:%s:" % tune, dict(zip(task.labels, together.tolist())))
    for dataset, split in parts:
        logits, truth = scored(dataset, split)
        alone, exclusive = multi_label_pred(logits, th), multi_label_pred(logits, th, dry)
        both = int((alone[:, dry] & np.delete(alone, dry, axis=1).any(1)).sum())
        line = (f"{dataset} {split}: {len(truth)} clips, {both} over both dry's and an effect's threshold; "
                "independent F1 %.4f exact %.4f; dry-exclusive F1 %.4f exact %.4f" % (*scores(alone, truth), *scores(exclusive, truth)))
        if together is not None:
            line += "; tuned together F1 %.4f exact %.4f" % scores(multi_label_pred(logits, together, dry), truth)
        print(line, flush=True)


if __name__ == "__main__":
    main()
