"""How an effects classifier's recall depends on how strongly each effect was applied.

    python scripts/effect_strength.py --dataset my_dub              # the shipped effects model, test split
    python scripts/effect_strength.py --dataset my_dub --model runs/effects --split validation

Scores the model on a dub `notes` split at its own thresholds (`dry` and the effects exclusive, as
`dub classify` decodes), then, for each effect, splits the clips that carry it into quarters by the
parameter the generator recorded for its strength (reverb wet level, delay and chorus mix, filter
cut-off or width, distortion drive) and prints the recall in each quarter; and the false-alarm rate
on the clips without the effect; then the low- and high-passes' recall by their cut-off over
the note's fundamental (a high-pass far below it removes next to nothing). An analysis for the README, not a feature: it tells whether the
misses sit at the gentle settings (the label is hard to hear) or everywhere (the model is short).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

# effect -> (the column that records its strength, True when a larger value is a stronger effect)
STRENGTH = {
    "reverb": ("reverb_wet_level", True),
    "delay": ("delay_mix", True),
    "chorus": ("chorus_mix", True),
    "lowpass": ("filter_cutoff_hz", False),
    "highpass": ("filter_cutoff_hz", True),
    "bandpass": ("filter_bandwidth_octaves", False),
    "distortion": ("distortion_drive_db", True),
}


def strength_recall(labels: list[str], pred: np.ndarray, truth: np.ndarray, columns: dict, quarters: int = 4) -> dict:
    """Per effect with at least ``quarters`` clips: its strength column, the clips in each quarter by
    strength (gentlest first), each quarter's strength range and recall, and the false-alarm rate on the
    clips without the effect."""
    out = {}
    for name, (column, stronger_up) in STRENGTH.items():
        i = labels.index(name)
        on = truth[:, i]
        value = np.array([np.nan if v is None else v for v in columns[column]], float)
        sel = on & np.isfinite(value)
        if sel.sum() < quarters:
            continue
        v = value[sel] if stronger_up else -value[sel]  # larger is stronger
        edges = np.quantile(v, np.linspace(0, 1, quarters + 1))
        bin_of = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, quarters - 1)
        sign = 1 if stronger_up else -1
        out[name] = {"column": column,
                     "ranges": [(sign * edges[q], sign * edges[q + 1]) for q in range(quarters)],
                     "clips": [int((bin_of == q).sum()) for q in range(quarters)],
                     "recall": [float(pred[sel, i][bin_of == q].mean()) if (bin_of == q).any() else float("nan")
                                for q in range(quarters)],
                     "false_alarms": float(pred[~on, i].mean()) if (~on).any() else float("nan")}
    return out


def strength_table(result: dict, quarters: int = 4) -> list[str]:
    """Markdown rows of ``strength_recall``'s result."""
    rows = [f"| effect | strength | {' | '.join(f'recall, quarter {q + 1}' for q in range(quarters))} | false alarms |",
            "| --- | --- | " + " | ".join("---" for _ in range(quarters)) + " | --- |"]
    for name, r in result.items():
        cells = [f"{rec:.2f} ({a:.3g} to {b:.3g})" for rec, (a, b) in zip(r["recall"], r["ranges"])]
        rows.append(f"| {name} | {r['column']} | {' | '.join(cells)} | {r['false_alarms']:.3f} |")
    return rows


# cut-off over the note's fundamental: where a filter leaves the note whole, takes its fundamental, or more
RATIO_BINS = ((0, 0.5), (0.5, 1), (1, 2), (2, 4), (4, 8), (8, np.inf))


def cutoff_vs_pitch(labels: list[str], pred: np.ndarray, truth: np.ndarray, cutoff, pitch) -> dict:
    """Low- and high-pass recall by the cut-off over the note's fundamental (MIDI ``pitch``), in
    ``RATIO_BINS``: {filter: [(bin, clips, recall), ...]} (bins without clips left out)."""
    f0 = 440.0 * 2.0 ** ((np.asarray(pitch, float) - 69) / 12)
    ratio = np.array([np.nan if c is None else c for c in cutoff], float) / f0
    out = {}
    for name in ("lowpass", "highpass"):
        on = truth[:, labels.index(name)]
        rows = []
        for lo, hi in RATIO_BINS:
            sel = on & (ratio >= lo) & (ratio < hi)
            if sel.any():
                rows.append(((lo, hi), int(sel.sum()), float(pred[sel, labels.index(name)].mean())))
        out[name] = rows
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, help="a dub dataset with the notes config")
    ap.add_argument("--model", default=None, help="an effects classifier (default: the shipped one)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--num-examples", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)

    import torch

    from dub_models.classifier import exclusive_label, label_thresholds
    from dub_models.evaluate import classifier_logits
    from dub_models.train import multi_label_pred

    torch.set_num_threads(a.threads)
    try:
        m, task, ds, logits, y = classifier_logits(a.model, a.dataset, "effects", a.split, a.num_examples)
    except (OSError, ValueError) as e:  # no such dataset or split, no notes config, not an effects model
        print(f"effect_strength: error: {e}", file=sys.stderr)
        return 2
    pred = multi_label_pred(logits, label_thresholds(m.config), exclusive_label(task.labels))
    columns = {c: ds[c] for c in {c for c, _ in STRENGTH.values()}}
    print(f"{m.name_or_path} on {len(y)} clips of the {a.split} split of {a.dataset}; each effect's clips in quarters "
          "by strength, gentlest first (the range of the strength column in brackets)")
    result = strength_recall(list(task.labels), pred, y > 0.5, columns)
    if not result:
        print(f"no effect is on 4 or more of the {len(y)} clips: nothing to split into quarters")
    print("\n".join(strength_table(result)))
    print("\nlow- and high-pass recall by the cut-off over the note's fundamental\n"
          "| filter | cut-off / fundamental | clips | recall |\n| --- | --- | --- | --- |")
    for name, rows in cutoff_vs_pitch(list(task.labels), pred, y > 0.5, ds["filter_cutoff_hz"], ds["pitch"]).items():
        for (lo, hi), n, rec in rows:
            print(f"| {name} | {lo:g} to {hi:g} | {n} | {rec:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
