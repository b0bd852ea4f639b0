#!/usr/bin/env python
"""Which drum sounds two SoundFonts share, and what a drums model scores on the shared and the
unshared ones.

Two measures side by side: stored samples with the same bytes (what ``soundfont_splits`` uses to
keep such fonts in one split), and kit keys that play a recording of the other font's kits (the
drums config's rule, ``dub_dataset.sources.held_out_sound_keys``: a sample with the same bytes on
any key, or a render correlating above 0.98 with any key's, at velocity 100 or 45). With --model and
--dataset, the model's accuracy on that dataset's split, apart for clips of FONT_A whose sound is
in FONT_B and for the others: a model trained on FONT_B has heard the first kind.

With --confusion PNG, the first model's confusion matrix on the unshared clips (the held-out sounds).

Usage: python scripts/shared_sounds.py FONT_A.sf2 FONT_B.sf2 [--model DIR ...] [--dataset DIR] [--split test]
       [--confusion PNG]
"""

import argparse
import json

import numpy as np

def shared_keys(a, b) -> tuple[set, dict]:
    """(program, key) of font ``a``'s kits that play a recording of ``b``'s kits (the generator's
    rule: a sample with the same bytes on any key, or the same sound), and the counts by kind."""
    from dub_dataset.constants import DRUM_NOTES
    from dub_dataset.soundfonts import shared_kit_keys
    from dub_dataset.sources import _key_renders, same_sound_keys

    ka, kb = [(a, k) for k in a.drum_kits()], [(b, k) for k in b.drum_kits()]
    by_bytes = {(p, n) for _, _, p, n in shared_kit_keys(ka, kb, DRUM_NOTES)}
    by_sound = {(p, n) for _, _, p, n in same_sound_keys(ka, kb, DRUM_NOTES)}
    sounding = {(p, n) for _, _, p, n in _key_renders(ka, DRUM_NOTES)[0]}
    return (by_bytes | by_sound) & sounding, {"kit_keys_a": len(sounding), "kit_keys_shared_bytes": len(by_bytes & sounding),
                                              "kit_keys_shared_sound": len(by_sound), "kit_keys_shared": len((by_bytes | by_sound) & sounding)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("font_a")
    p.add_argument("font_b")
    p.add_argument("--model", action="append", default=[], help="drums model folder (repeat)")
    p.add_argument("--dataset", help="a dub drums dataset folder")
    p.add_argument("--split", default="test")
    p.add_argument("--confusion", metavar="PNG", help="draw the first model's confusion matrix on the unshared clips")
    a = p.parse_args(argv)
    if a.confusion and not (a.model and a.dataset):
        p.error("--confusion needs --model and --dataset")

    from dub_dataset.soundfonts import load_soundfont, sample_hashes

    fa, fb = load_soundfont(a.font_a), load_soundfont(a.font_b)
    ha, hb = sample_hashes(fa), sample_hashes(fb)
    same, counts = shared_keys(fa, fb)
    report = {"font_a": fa.name, "font_b": fb.name, "samples_a": len(ha), "samples_b": len(hb),
              "samples_shared": len(ha & hb), **counts}
    print(f"{fa.name}: {len(ha & hb)} of {len(ha)} stored samples are byte-identical in {fb.name}; "
          f"{len(same)} of {counts['kit_keys_a']} kit keys play a recording of {fb.name}'s kits "
          f"({counts['kit_keys_shared_bytes']} by stored bytes, {counts['kit_keys_shared_sound']} by sound)")
    if a.model and a.dataset:
        import torch
        from datasets import Audio
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        import dub_models  # noqa: F401  (registers dub-cnn)
        from dub_dataset import load_dub_dataset
        from dub_models.features import log_mel_batch
        from dub_models.train import _decode

        torch.set_num_threads(2)
        ds = load_dub_dataset(a.dataset, "drums", split=a.split)
        ds = ds.filter(lambda r: r["soundfont"] == fa.name).cast_column("audio", Audio(decode=False))
        heard = np.array([(p, n) in same for p, n in zip(ds["preset"], ds["midi_note"])])
        y = np.array(ds["drum_class"])
        report["clips"] = {"all": len(y), "shared": int(heard.sum()), "unshared": int((~heard).sum())}
        print(f"{len(y)} {a.split} clips of {fa.name} in {a.dataset}: {heard.sum()} of a shared sound, {(~heard).sum()} not")
        print(f"{'model':50s} {'all':>7s} {'shared':>7s} {'unshared':>9s}")
        for m_dir in a.model:
            m = AutoModelForAudioClassification.from_pretrained(m_dir).eval()
            fe = AutoFeatureExtractor.from_pretrained(m_dir)
            pred = []
            with torch.no_grad():
                for lo in range(0, len(ds), 128):
                    x = torch.from_numpy(log_mel_batch(_decode(ds[lo:lo + 128]["audio"]), fe))
                    pred.append(m(input_values=x).logits.argmax(-1).numpy())
            pred = np.concatenate(pred)
            ok = pred == y
            if a.confusion and m_dir == a.model[0]:
                from dub_models.card import confusion_png

                names = ds.features["drum_class"].names
                cm = np.zeros((len(names), len(names)), dtype=np.int64)
                np.add.at(cm, (y[~heard], pred[~heard]), 1)
                report["confusion_unshared"] = {"labels": names, "counts": cm.tolist()}
                confusion_png(cm, names, a.confusion, f"dub drums: {a.split} clips of {fa.name} whose sound "
                              f"{fb.name} lacks ({int((~heard).sum())}, never heard in training)")
            acc = {"all": float(ok.mean()), "shared": float(ok[heard].mean()), "unshared": float(ok[~heard].mean())}
            report.setdefault("accuracy", {})[m_dir] = acc
            print(f"{m_dir[-50:]:50s} {acc['all']:7.3f} {acc['shared']:7.3f} {acc['unshared']:9.3f}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
