"""Toms ranked by pitch within a kit: how far the other hits of a kit would take the drums model.

    python scripts/tom_ranks.py --dataset my_dub            # the shipped drums model, the test split

Scores a drums classifier on a dub drums split clip by clip, then re-labels the clips it calls a tom
by rank within their kit (lowest third tom_low, middle third tom_mid, top third tom_high: the split
draws the three tom classes equally often), ranked by (a) the model's own tom height
p(mid) + 2 p(high) and (b) each clip's dominant frequency (strongest peak at 30-400 Hz in its first
400 ms); then the same ranking over the true tom clips (an oracle for which clips are toms) and a
ceiling that ranks each key's median frequency in its kit, detuned by the clip's recorded cents.
An analysis for docs/drums.md, not a feature: a user's kit need not hold its toms in thirds.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

TOMS = ("tom_low", "tom_mid", "tom_high")
TOM_KEYS = (41, 43, 45, 47, 48, 50)


def dominant_hz(x: np.ndarray, sr: int, lo: float = 30.0, hi: float = 400.0, window_s: float = 0.4) -> float:
    n = min(len(x), int(window_s * sr))
    spec = np.abs(np.fft.rfft(x[:n] * np.hanning(n), 16384))
    f = np.fft.rfftfreq(16384, 1 / sr)
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(spec[band])])


def by_thirds(pred: np.ndarray, groups: np.ndarray, score: np.ndarray, chosen: np.ndarray, tom_ids) -> np.ndarray:
    """``pred`` with the ``chosen`` clips of each group re-labelled by the rank of ``score`` in thirds."""
    out = pred.copy()
    for g in np.unique(groups):
        i = np.where((groups == g) & chosen)[0]
        if len(i) < 3:
            continue
        q = (np.argsort(np.argsort(score[i])) + 0.5) / len(i)
        out[i] = np.where(q < 1 / 3, tom_ids[0], np.where(q < 2 / 3, tom_ids[1], tom_ids[2]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, help="a dub dataset with a drums config")
    ap.add_argument("--model", help="a drums classifier folder (default: the shipped one)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--num-threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.num_threads)

    from dub_dataset.constants import SAMPLE_RATE
    from dub_models.evaluate import classifier_logits
    from dub_models.train import _decode

    m, task, ds, logits, y = classifier_logits(args.model, args.dataset, "drums", args.split)
    for col in ("instrument", "preset", "midi_note", "pitch_shift_cents"):
        if col not in ds.column_names:
            raise ValueError(f"{args.dataset}: the drums split has no {col!r} column")
    sr = SAMPLE_RATE  # every zoo classifier reads 16 kHz
    f0 = np.array([dominant_hz(a, sr) for lo in range(0, len(ds), 256) for a in _decode(ds[lo:lo + 256]["audio"])])
    kit = np.array([f"{a} / {b}" for a, b in zip(ds["instrument"], ds["preset"])])
    key = np.array(ds["midi_note"])
    cents = np.array(ds["pitch_shift_cents"], dtype=float)
    tom = np.array([task.labels.index(t) for t in TOMS])
    pred = logits.argmax(1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    pt = p[:, tom] / p[:, tom].sum(1, keepdims=True)
    called, true = np.isin(pred, tom), np.isin(y, tom)

    def line(name, labels):
        return f"{name:<58} all {np.mean(labels == y):.3f}   toms {np.mean(labels[true] == y[true]):.3f}"

    ceiling = np.zeros(len(y))
    for k in np.unique(kit):
        for n in TOM_KEYS:
            sel = (kit == k) & (key == n)
            if sel.any():
                ceiling[sel] = np.median(f0[sel]) * 2 ** (cents[sel] / 1200)
    print(f"{len(y)} {args.split} clips, {true.sum()} of them toms, {len(np.unique(kit))} kits; model {m.name_or_path}")
    print(line("the model, one clip at a time", pred))
    print(line("rank of the model's tom height in the kit", by_thirds(pred, kit, pt[:, 1] + 2 * pt[:, 2], called, tom)))
    print(line("rank of the dominant frequency in the kit", by_thirds(pred, kit, f0, called, tom)))
    print(line("the same over the true tom clips (oracle)", by_thirds(pred, kit, f0, true, tom)))
    print(line("ceiling: key's median frequency, detuned by its cents", by_thirds(pred, kit, ceiling, true, tom)))
    for k in np.unique(kit):
        print(f"  {k}: " + ", ".join(f"{n}: {np.median(f0[(kit == k) & (key == n)]):.0f} Hz"
                                     for n in TOM_KEYS if ((kit == k) & (key == n)).any()))


if __name__ == "__main__":
    main()
