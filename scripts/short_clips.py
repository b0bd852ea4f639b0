"""Short clips: AST's log-mel zero padding against dub's silence padding, on held-out clips cut short.

    python scripts/short_clips.py TASK DATASET CONFIG COLUMN N CUTS
    e.g. python scripts/short_clips.py drums my_dub drums drum_class 400 0.5,1.0,1.5
         python scripts/short_clips.py effects my_notes notes effects 400 1,2,3

Scores the shipped TASK model on the first N clips of the validation and of the test split, whole and
cut to each length in CUTS (seconds), with each extractor. Instrument: family of the top program.
"""
import sys

import numpy as np
import torch

torch.set_num_threads(1)  # quiet on a shared machine; the figures are scores, not speeds
from datasets import load_dataset, Audio
from transformers import ASTFeatureExtractor, AutoModelForAudioClassification
import dub_models  # noqa: F401  (registers the dub-cnn architecture and DubFeatureExtractor)
from dub_models.features import DubFeatureExtractor
from dub_models.classifier import shipped_model, label_thresholds
task, ds_path, cfg, col, n_per = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
cuts = [float(c) for c in sys.argv[6].split(",")]
m = AutoModelForAudioClassification.from_pretrained(shipped_model(task)).eval()
fes = {"AST zero log-mel pad": ASTFeatureExtractor.from_pretrained(shipped_model(task)),
       "dub silence pad": DubFeatureExtractor.from_pretrained(shipped_model(task))}
rows = []
for split in ("validation", "test"):
    ds = load_dataset(ds_path, cfg, split=split)
    names = ds.features[col].feature.names if col == "effects" else None
    ds = ds.cast_column("audio", Audio(sampling_rate=16000))
    for r in ds.select(range(min(len(ds), n_per))):
        a = r["audio"].get_all_samples().data.mean(0).numpy().astype(np.float32)
        y = r[col]
        if col == "effects":
            y = {names[i] for i in y} or {"dry"}
        rows.append((a, y))
multi = m.config.problem_type == "multi_label_classification"
def predict(fe, arrs):
    out = []
    for i in range(0, len(arrs), 64):
        x = fe(arrs[i:i+64], sampling_rate=16000, return_tensors="pt")["input_values"]
        with torch.no_grad():
            out.append(m(input_values=x).logits.numpy())
    return np.concatenate(out)
def score(lg):
    if multi:
        p = 1 / (1 + np.exp(-lg)) >= label_thresholds(m.config)
        t = np.array([[m.config.id2label[j] in r[1] for j in range(m.config.num_labels)] for r in rows])
        return 2 * (p & t).sum() / (p.sum() + t.sum())
    if task == "instrument":
        return float((lg.argmax(1) // 8 == np.array([r[1] for r in rows]) // 8).mean())
    return float((lg.argmax(1) == np.array([r[1] for r in rows])).mean())
print(task, len(rows), "held-out clips (validation + test)", "micro-F1" if multi else "accuracy")
print("full clips:", round(score(predict(fes["dub silence pad"], [a for a, _ in rows])), 3))
for L in cuts:
    cut = [a[:int(L * 16000)] for a, _ in rows]
    print(f"cut to {L} s: " + "  ".join(f"{k} {score(predict(fe, cut)):.3f}" for k, fe in fes.items()))
