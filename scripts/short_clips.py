"""Short clips: AST's log-mel zero padding against dub's silence padding, on held-out clips cut short.

    python scripts/short_clips.py --task drums --dataset my_dub --cuts 0.5,1,1.5
    python scripts/short_clips.py --task effects --dataset my_notes --cuts 1,2,3

Scores the shipped model of the task (or --model) on the first --num-examples clips of the
validation and of the test split, whole and cut to each length (seconds), with the features padded
AST's way (``ASTFeatureExtractor``: log-mel zeros) and dub's (``log_mel_batch``: silence), using
the task's own metrics (``dub_models.train.metrics``; multi-label at the model's thresholds).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", required=True, help="drums, instrument or effects")
    ap.add_argument("--dataset", required=True, help="a dub dataset with validation and test splits")
    ap.add_argument("--model", help="a classifier folder (default: the shipped one)")
    ap.add_argument("--num-examples", type=int, default=400, help="clips per split")
    ap.add_argument("--cuts", default="1,2,3", help="comma list of lengths in seconds")
    args = ap.parse_args()
    torch.set_num_threads(1)  # quiet on a shared machine; the figures are scores, not speeds

    from transformers import ASTFeatureExtractor

    from dub_models.classifier import label_thresholds
    from dub_models.evaluate import classifier_logits
    from dub_models.features import DubFeatureExtractor, log_mel_batch
    from dub_models.tasks import targets
    from dub_models.train import _decode, metrics

    clips, ys = [], []
    for split in ("validation", "test"):
        m, task, ds, _, _ = classifier_logits(args.model, args.dataset, args.task, split, num_examples=args.num_examples)
        clips += _decode(ds["audio"])
        ys.append(targets(task, ds[task.label_column]))
    y = np.concatenate(ys)
    folder = m.name_or_path
    dub_fe, ast_fe = DubFeatureExtractor.from_pretrained(folder), ASTFeatureExtractor.from_pretrained(folder)
    th = label_thresholds(m.config) if task.multi_label else None
    keys = ["f1_micro"] if task.multi_label else ["accuracy"] + (["family_accuracy"] if task.name == "instrument" else [])

    def score(feats: np.ndarray) -> str:
        with torch.no_grad():
            logits = np.concatenate([m(input_values=torch.from_numpy(feats[i:i + 64])).logits.float().numpy()
                                     for i in range(0, len(feats), 64)])
        got = metrics(task, logits, y, th)
        return " / ".join(f"{k} {got[k]:.3f}" for k in keys)

    print(f"{task.name}: {len(y)} held-out clips (validation + test), model {folder}")
    print(f"whole clips: {score(log_mel_batch(clips, dub_fe))}")
    for cut_s in (float(c) for c in args.cuts.split(",")):
        cut = [c[:int(cut_s * dub_fe.sampling_rate)] for c in clips]
        ast = ast_fe(cut, sampling_rate=ast_fe.sampling_rate, return_tensors="np")["input_values"].astype(np.float32)
        print(f"cut to {cut_s:g} s: AST zero log-mel padding {score(ast)} | dub silence padding {score(log_mel_batch(cut, dub_fe))}")


if __name__ == "__main__":
    main()
