"""Measure a dry-exclusive decode for an effects model: micro-F1 and exact match with independent labels
(each at its threshold) against `dry` and the effects excluding each other (the one further above its
threshold wins). Usage: python scripts/dry_rule.py MODEL DATASET:SPLIT [DATASET:SPLIT ...]"""
import sys
import numpy as np
import torch
torch.set_num_threads(1)
from dub_dataset import load_dub_dataset
from dub_models.evaluate import dataset_logits, load_classifier
from dub_models.classifier import label_thresholds
from dub_models.tasks import targets

m, fe, task = load_classifier(sys.argv[1], "effects")
th = label_thresholds(m.config)
dry = task.labels.index("dry")
for dpath, split in [(a.split(":")[0], a.split(":")[1]) for a in sys.argv[2:]]:
    ds = load_dub_dataset(dpath, "notes")[split]
    p = 1 / (1 + np.exp(-dataset_logits(m, fe, ds)))
    y = targets(task, ds["effects"])
    def f1(pred):
        tp = (pred * y).sum(); return 2 * tp / (pred.sum() + y.sum())
    a = (p >= th).astype(float)
    b = a.copy()
    margin = p - th
    others = np.delete(np.arange(len(task.labels)), dry)
    both = (a[:, dry] == 1) & (a[:, others].sum(1) > 0)
    dry_wins = margin[:, dry] > margin[:, others].max(1)
    b[np.ix_(both & dry_wins, others)] = 0
    b[both & ~dry_wins, dry] = 0
    none = a.sum(1) == 0
    print(dpath.split('/')[-1], split, "clips", len(y), "dry+effect", int(both.sum()), "empty", int(none.sum()),
          "independent F1 %.4f exact %.4f" % (f1(a), (a == y).all(1).mean()),
          "dry-exclusive F1 %.4f exact %.4f" % (f1(b), (b == y).all(1).mean()))
