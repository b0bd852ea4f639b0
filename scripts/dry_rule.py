#!/usr/bin/env python
"""Compare two decodings of an effects model on dub dataset splits: labels active independently (each at
its threshold) against `dry` and the effects excluding each other (dub's decoding: the side further above
its threshold stays). Prints micro-F1 and exact match of both, side by side.

Usage: python scripts/dry_rule.py MODEL DATASET:SPLIT [DATASET:SPLIT ...]
"""

import argparse

import numpy as np


def scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(micro-F1, exact match) of boolean label rows."""
    tp = float((pred & truth).sum())
    return 2 * tp / max(1.0, float(pred.sum() + truth.sum())), float((pred == truth).all(1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an effects model folder or Hub id")
    ap.add_argument("splits", nargs="+", metavar="DATASET:SPLIT", help="e.g. my_dub:validation")
    a = ap.parse_args()
    parts = [s.rpartition(":") for s in a.splits]
    bad = [s for s, (d, sep, split) in zip(a.splits, parts) if not sep or not d or split not in ("train", "validation", "test")]
    if bad:
        ap.error(f"expected DATASET:SPLIT with SPLIT train, validation or test, got {', '.join(bad)}")

    import torch

    from dub_dataset import load_dub_dataset
    from dub_models.classifier import exclusive_label, label_thresholds
    from dub_models.evaluate import dataset_logits, load_classifier
    from dub_models.tasks import targets
    from dub_models.train import multi_label_pred

    torch.set_num_threads(1)
    m, fe, task = load_classifier(a.model, "effects")
    th, dry = label_thresholds(m.config), exclusive_label(task.labels)
    for dataset, _, split in parts:
        ds = load_dub_dataset(dataset, task.dataset_config)[split]
        logits, truth = dataset_logits(m, fe, ds), targets(task, ds["effects"]) > 0.5
        alone, exclusive = multi_label_pred(logits, th), multi_label_pred(logits, th, dry)
        both = int((alone[:, dry] & np.delete(alone, dry, axis=1).any(1)).sum())
        print(f"{dataset} {split}: {len(truth)} clips, {both} over both dry's and an effect's threshold; "
              "independent F1 %.4f exact %.4f; dry-exclusive F1 %.4f exact %.4f"
              % (*scores(alone, truth), *scores(exclusive, truth)))


if __name__ == "__main__":
    main()
