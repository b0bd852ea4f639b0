#!/usr/bin/env python
"""Training examples/s and inference clips/s of the classifier sizes, side by side, in one run.

Random features of the drums task's shape (2 s clips: 198 frames x 128 mel bins); torch threads
pinned (--threads). On a CUDA machine, pass --device cuda. First, the featurisation the trainer
does before training: ASTFeatureExtractor clip by clip vs dub's batched log_mel_batch (same features),
on drum hits rendered with TimGM6mb. Usage:
    python scripts/bench_train.py [--sizes tiny,small] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import time


def bench(size: str, device: str, batch: int, steps: int) -> tuple[float, float, int]:
    """size: an AST size (tiny, small, base), "cnn" (dub's log-mel CNN) or "cnn-freq" (its frequency-aware head)."""
    import torch

    from dub_models.classifier import build_model, num_frames
    from dub_models.tasks import get_task

    task = get_task("drums")
    model = (build_model(task, arch=size) if size.startswith("cnn") else build_model(task, size)).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, num_frames(task.clip_s), 128, device=device)
    y = torch.randint(0, len(task.labels), (batch,), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    model.train()
    for i in range(steps + 2):  # 2 warm-up steps
        if i == 2:
            sync()
            t = time.perf_counter()
        loss = model(input_values=x, labels=y).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    sync()
    train = steps * batch / (time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        for i in range(steps + 2):
            if i == 2:
                sync()
                t = time.perf_counter()
            model(input_values=x)
    sync()
    infer = steps * batch / (time.perf_counter() - t)
    return train, infer, n_params


def bench_features(n: int = 256) -> tuple[float, float, float]:
    """Clips/s of ASTFeatureExtractor and of log_mel_batch on n rendered 2 s drum hits, and their largest difference."""
    import numpy as np

    from dub_dataset.render import Note, get_engine
    from dub_dataset.soundfonts import load_soundfont
    from dub_models.classifier import feature_extractor
    from dub_models.features import log_mel_batch
    from dub_models.tasks import get_task

    font = "/usr/share/sounds/sf2/TimGM6mb.sf2"
    kit = load_soundfont(font).drum_kits()[0]
    eng = get_engine("fluidsynth", 16000)
    hits = [eng.render(font, kit, [Note(0, 0.1, note, 100)], 2.0, drum=True) for note in range(35, 82)]
    clips = [hits[i % len(hits)] for i in range(n)]
    fe = feature_extractor(get_task("drums"))
    t = time.perf_counter()
    ref = fe(clips, sampling_rate=16000, return_tensors="np")["input_values"]
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    got = log_mel_batch(clips, fe)
    t_dub = time.perf_counter() - t
    return n / t_ref, n / t_dub, float(np.abs(got - ref).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,small,cnn,cnn-freq", help="AST sizes and/or cnn, cnn-freq")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-features", action="store_true", help="skip the featurisation comparison")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if not a.no_features:
        ref, dub, diff = bench_features()
        print(f"features (2 s clips, one process): ASTFeatureExtractor {ref:.1f} clips/s | dub log_mel_batch "
              f"{dub:.1f} clips/s | {dub / ref:.1f}x | largest difference {diff:.1e}", flush=True)
    print(f"device={a.device} threads={a.threads} batch={a.batch} clip=2 s (198x128 features)")
    print(f"{'size':>8} | {'params':>9} | {'train ex/s':>10} | {'inference clips/s':>17}")
    rows = []
    for size in a.sizes.split(","):
        train, infer, n = bench(size, a.device, a.batch, a.steps)
        rows.append((size, train, infer))
        print(f"{size:>8} | {n / 1e6:8.2f}M | {train:10.1f} | {infer:17.1f}", flush=True)
    base = rows[0]
    for size, train, infer in rows[1:]:
        print(f"{size} vs {base[0]}: training {train / base[1]:.2f}x, inference {infer / base[2]:.2f}x")


if __name__ == "__main__":
    main()
