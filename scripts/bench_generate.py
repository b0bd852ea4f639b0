#!/usr/bin/env python
"""Examples per second: render-only vs the full pipeline, for 1 and 2 processes, in one run.

render-only: draw the example and render it with the SoundFont engines (nothing else).
full:        dub_dataset.generate end to end: render + augmentation + spectrogram PNGs + FLAC +
             Parquet files in the Hub layout.
Both include engine start-up and SoundFont loading in every process; each is timed with renders at
1x and 2x oversampling (``--render-oversample``), alternated. Usage:
    python scripts/bench_generate.py [--config notes] [--num-examples 400] [--render-oversample 1,2] [--soundfont PATH ...]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _render_only(args) -> int:
    spec_dict, split, start, stop = args
    import numpy as np

    from dub_dataset.effects import AugmentConfig, draw
    from dub_dataset.render import Note
    from dub_dataset.sources import DrumMaker, NoteMaker, Spec

    spec = Spec.from_dict(spec_dict)
    maker = {"drums": DrumMaker, "notes": NoteMaker}[spec.config](spec)
    cfg = AugmentConfig()
    for i in range(start, stop):  # the same draws as the full pipeline, then only the synth
        rng = maker.rng(split, i)
        if spec.config == "notes":
            font, preset = maker.sources_in(split)[rng.integers(len(maker.sources_in(split)))]
            pitch = int(rng.integers(36, 85))
            notes, drum = [Note(0.0, float(rng.uniform(0.25, spec.clip_s - 1.0)), pitch, 100)], False
        else:
            cands = maker.candidates(split)
            cls = sorted(cands)[rng.integers(len(cands))]
            font, preset, n = cands[cls][rng.integers(len(cands[cls]))]
            notes, drum = [Note(0.0, 0.1, n, 100)], True
        engine = maker.engines[rng.integers(len(maker.engines))]
        p = draw(rng, cfg)
        audio = engine.render(font.path, preset, notes, spec.clip_s, drum=drum, bend_cents=p["pitch_shift_cents"])
        assert np.isfinite(audio).all()
    return stop - start


def render_rate(spec, n, procs) -> float:
    chunks = [(spec.to_dict(), "train", k * n // procs, (k + 1) * n // procs) for k in range(procs)]
    t = time.perf_counter()
    with ProcessPoolExecutor(procs, mp_context=mp.get_context("spawn")) as pool:
        done = sum(pool.map(_render_only, chunks))
    return done / (time.perf_counter() - t)


def full_rate(spec, n, procs) -> float:
    from dub_dataset import generate

    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        # 4 files per process so that the pool has work to share; n * 0.8 are train examples
        generate(spec, n, out, num_proc=procs, examples_per_file=max(1, n // (4 * procs)), progress=False)
        return n / (time.perf_counter() - t)


def _factors(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",")]
    except ValueError:
        out = []
    if not out or not all(1 <= f <= 8 for f in out):
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated whole numbers from 1 to 8, e.g. 1,2")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="notes", choices=("notes", "drums"))
    ap.add_argument("--num-examples", type=int, default=400)
    ap.add_argument("--render-oversample", type=_factors, default=[1, 2],
                    help="comma-separated render oversampling factors to time side by side (default 1,2: the "
                         "renders before and after anti-aliasing; 2 is the generator's default)")
    ap.add_argument("--soundfont", action="append",
                    help="one font set to time (default: all system SoundFonts, then TimGM6mb + sf_GMbank)")
    a = ap.parse_args()
    from dub_dataset import Spec

    font_sets = {"given": a.soundfont} if a.soundfont else {
        "all system fonts": None,
        "small fonts": ["/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/sf_GMbank.sf2"]}
    spec = Spec(a.config, seed=0)
    print(f"config={a.config} examples={a.num_examples} clip={spec.clip_s}s rate={spec.sample_rate} Hz "
          f"engines={','.join(spec.engines)} images={','.join(spec.images)} cpus={os.cpu_count()}")
    print(f"{'fonts':>17} | {'processes':>9} | {'oversample':>10} | {'render-only ex/s':>16} | {'full ex/s':>9} | "
          f"{'full / render':>13}")
    for name, fonts in font_sets.items():
        def spec_for(over: int = 2):
            return Spec(a.config, seed=0, soundfonts=fonts, split_by="preset" if fonts else "auto", render_oversample=over)

        # untimed warm-up: the first generate() of a font set reads its fonts from disk and fills the
        # generator's caches, which would otherwise count against whichever row ran first
        full_rate(spec_for(), 8, 1)
        for procs in (1, 2):
            for over in a.render_oversample:  # alternated, so each pair shares the machine's load
                spec = spec_for(over)
                r = render_rate(spec, a.num_examples, procs)
                f = full_rate(spec, a.num_examples, procs)
                print(f"{name:>17} | {procs:>9} | {over:>10} | {r:16.1f} | {f:9.1f} | {f / r:12.0%}", flush=True)


if __name__ == "__main__":
    main()
