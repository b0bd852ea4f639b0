"""Train drum classifiers on fresh examples drawn from a hit bank, as fast as the machine makes them.

Made for a GPU machine that has torch but none of the SoundFonts (the bank, written here by
``dub bank``, travels instead). Worker processes draw augmented examples (``dub_dataset.bank``)
and compute the trainer's own log-mel features (``log_mel_batch``); the main process trains
every model named by ``--model`` on the same batches (accelerate, bf16 on a GPU), sampling from a
buffer of recent examples while new ones arrive, with a learning rate that warms up and decays
over the time budget. Each model is saved with ``save_pretrained`` (and its preprocessor config)
at the snapshot fractions and at the end, and packed into one tar per model under ``--out``.
There is no held-out split here: score the snapshots with ``dub evaluate`` on a dub dataset.

    python scripts/train_drums_bank.py --bank BANK --out OUT --minutes 6 \\
        --model wide=cnn:64,128,256,512 --model ft=init:dub_models/weights/drums

``--bench`` first times training steps of each model on the GPU and on the CPU, side by side.
Workers run one thread each (set here, before they start). Results of the run on an H200: docs/drums.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_maker = None
_valTHREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_maker = None
_fe = None


def _numpy_features() -> None:
    """ASTFeatureExtractor makes its own mel filters (the numpy path that dub's models are trained and
    scored with, and that ``log_mel_batch`` batches) only where torchaudio is absent: make it so here."""
    import transformers.models.audio_spectrogram_transformer.feature_extraction_audio_spectrogram_transformer as ast_fe

    ast_fe.is_speech_available = lambda: False


def _init_worker(bank: str, seed: int, val_bank: str | None) -> None:
    global _maker, _val_maker, _fe
    import torch

    torch.set_num_threads(1)
    _numpy_features()
    from dub_dataset.bank import BankMaker
    from dub_models.classifier import feature_extractor
    from dub_models.tasks import get_task

    _maker = BankMaker(bank, seed=seed)
    if val_bank:  # augmented as its index says (dub bank --dataset D --split validation: as D's validation split)
        _val_maker = BankMaker(val_bank, seed=seed)
    _fe = feature_extractor(get_task("drums"))
    _fe.do_normalize = False
    assert getattr(_fe, "mel_filters", None) is not None, "the extractor has no numpy mel filters"


def _block(args: tuple[int, int, bool]):
    """Raw log-mel features (float16) and classes of examples [lo, lo + n) (of the validation bank: ``val``)."""
    from dub_models.features import log_mel_batch

    lo, n, val = args
    maker = _val_maker if val else _maker
    made = [maker.make(i) for i in range(lo, lo + n)]
    return log_mel_batch([a for a, _ in made], _fe).astype(np.float16), np.array([c for _, c in made], np.int64)


def build(spec: str, seed: int):
    """A model from ``cnn:C1,C2,...`` (a new time-pooled CNN) or ``init:FOLDER`` (a saved dub model)."""
    import torch

    from dub_models.classifier import build_model, from_checkpoint
    from dub_models.tasks import get_task

    task = get_task("drums")
    kind, _, arg = spec.partition(":")
    if kind == "init":
        return from_checkpoint(task, arg)
    if kind == "cnn":
        model = build_model(task, arch="cnn-freq", seed=seed)
        cfg = model.config
        cfg.channels = [int(c) for c in arg.split(",")]
        torch.manual_seed(seed)
        return type(model)(cfg)
    raise ValueError(f"--model {spec!r}: cnn:C1,C2,... or init:FOLDER")


def bench(models: dict, batch: int, threads: int) -> None:
    """Training steps per second of each model, GPU (bf16) and CPU (``threads``), one batch size."""
    import copy

    import torch

    x = torch.randn(batch, 198, 128)
    y = torch.randint(0, 12, (batch,))
    for name, model in models.items():
        row = {}
        for dev in (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]:
            m = copy.deepcopy(model).to(dev).train()
            opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
            steps = 20 if dev == "cuda" else 3
            for i in range(steps + 2):
                if i == 2:
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                with torch.autocast(dev, dtype=torch.bfloat16, enabled=dev == "cuda"):
                    loss = m(input_values=x.to(dev), labels=y.to(dev)).loss
                loss.backward()
                opt.step()
                opt.zero_grad()
            if dev == "cuda":
                torch.cuda.synchronize()
            row[dev] = steps * batch / (time.perf_counter() - t0)
        ratio = row["cuda"] / row["cpu"] if "cuda" in row else float("nan")
        print(json.dumps({"bench": name, "batch": batch, "cpu_threads": threads,
                          **{f"{d}_clips_per_s": round(v, 1) for d, v in row.items()}, "gpu_over_cpu": round(ratio, 1)}),
              flush=True)


def save(model, fe, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    fe.save_pretrained(folder)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bank", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", action="append", required=True, help="NAME=cnn:C1,C2,... or NAME=init:FOLDER")
    p.add_argument("--minutes", type=float, default=5.0, help="training time budget (after the workers start)")
    p.add_argument("--snapshots", default="", help="fractions of the budget at which to save too")
    p.add_argument("--val-bank", help="a bank of the validation split: models are scored on it, the best state kept")
    p.add_argument("--val-examples", type=int, default=4096)
    p.add_argument("--eval-every", type=float, default=45.0, help="seconds between scorings on --val-bank")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of new models (init: a tenth)")
    p.add_argument("--warmup", type=float, default=0.05, help="fraction of the budget")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--block", type=int, default=128, help="examples per worker task")
    p.add_argument("--buffer", type=int, help="recent examples kept to sample batches from (default: 200,000 on a GPU, "
                   "10 GB of its memory; 20,000 on a CPU)")
    p.add_argument("--max-replay", type=float, default=8.0, help="batches drawn per example made, at most")
    p.add_argument("--work", help="folder for the saved models before packing (default: --out)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bench", action="store_true")
    args = p.parse_args(argv)
    bad = [m for m in args.model if "=" not in m]
    if bad:
        p.error(f"--model {bad[0]!r}: NAME=cnn:C1,C2,... or NAME=init:FOLDER")

    import multiprocessing as mp

    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from dub_models.classifier import feature_extractor
    from dub_models.tasks import get_task
    from dub_models.train import spec_augment

    from dub_dataset.bank import BankMaker

    t_launch = time.perf_counter()
    for bank in filter(None, (args.bank, args.val_bank)):  # here, not in the workers (a pool restarts failed ones forever)
        print(json.dumps({"bank": bank, "candidates": len(BankMaker(bank).index["candidates"])}), flush=True)
    out = Path(args.out)
    work = Path(args.work or args.out)
    for d in (out, work):
        d.mkdir(parents=True, exist_ok=True)
    set_seed(args.seed)
    specs = dict(m.split("=", 1) for m in args.model)
    models = {name: build(spec, args.seed) for name, spec in specs.items()}
    for name, m in models.items():
        print(json.dumps({"model": name, "spec": specs[name], "params": sum(p.numel() for p in m.parameters())}), flush=True)
    if args.bench:
        bench(models, 64, torch.get_num_threads())

    # The shipped model's normalisation for every model: the fine-tune keeps its inputs.
    ship = feature_extractor(get_task("drums")).from_pretrained(Path(__file__).parent.parent / "dub_models/weights/drums")
    mean, std = float(ship.mean), float(ship.std)
    fe = feature_extractor(get_task("drums"), mean=mean, std=std)

    accelerator = Accelerator(mixed_precision="bf16" if torch.cuda.is_available() else "no")
    dev = accelerator.device
    opts, peak = {}, {}
    for name, m in models.items():
        peak[name] = args.lr / 10 if specs[name].startswith("init:") else args.lr
        opts[name] = torch.optim.AdamW(m.parameters(), lr=peak[name], weight_decay=args.weight_decay)
        models[name], opts[name] = accelerator.prepare(m, opts[name])
        models[name].train()

    # One thread per worker: numpy's BLAS would otherwise start one per core in every worker. On the
    # 16-core GPU machine that thrashing made 80 examples/s instead of 3,200 (docs/drums.md).
    for var in THREAD_VARS:
        os.environ[var] = "1"  # read by the spawned workers when they load numpy
    ctx = mp.get_context("spawn")  # torch and fork do not mix
    pool = ctx.Pool(args.workers, initializer=_init_worker, initargs=(args.bank, args.seed, args.val_bank))
    cap = args.buffer or (200_000 if torch.cuda.is_available() else 20_000)
    xbuf = torch.empty((cap, 198, 128), dtype=torch.float16, device=dev)
    ybuf = torch.empty(cap, dtype=torch.long, device=dev)
    made = steps = 0
    val = None
    if args.val_bank:
        parts = pool.map(_block, [(lo, min(args.block, args.val_examples - lo), True)
                                  for lo in range(0, args.val_examples, args.block)])
        val = (torch.from_numpy(np.concatenate([x for x, _ in parts])).to(dev),
               torch.from_numpy(np.concatenate([y for _, y in parts])).to(dev))
        print(json.dumps({"validation_examples": len(val[1]), "after_s": round(time.perf_counter() - t_launch, 1)}), flush=True)
    best = {name: (-1.0, None) for name in models}

    def score(tag) -> None:
        if val is None:
            return
        row = {"s": tag}
        for name, m in models.items():
            m.eval()
            with torch.no_grad():
                pred = torch.cat([m(input_values=(val[0][lo:lo + 512].float() - mean) / (2 * std)).logits.argmax(-1)
                                  for lo in range(0, len(val[1]), 512)])
            m.train()
            acc = float((pred == val[1]).float().mean())
            row[f"val/{name}"] = round(acc, 4)
            if acc > best[name][0]:
                best[name] = (acc, {k: v.detach().to("cpu", copy=True) for k, v in accelerator.unwrap_model(m).state_dict().items()})
        print(json.dumps(row), flush=True)

    score("start")
    pending = [pool.apply_async(_block, ((i * args.block, args.block, False),)) for i in range(2 * args.workers)]
    next_block = len(pending)
    budget = args.minutes * 60
    snaps = sorted(float(s) for s in args.snapshots.split(",") if s)
    t_start = None
    losses = {name: [] for name in models}
    last_log = last_eval = 0.0

    def take(block_until: bool) -> None:
        nonlocal made, next_block
        while pending and (pending[0].ready() or block_until):
            x, y = pending.pop(0).get()
            n = len(y)
            at = (made + np.arange(n)) % cap
            xbuf[at] = torch.from_numpy(x).to(dev)
            ybuf[at] = torch.from_numpy(y).to(dev)
            made += n
            pending.append(pool.apply_async(_block, ((next_block * args.block, args.block, False),)))
            next_block += 1
            block_until = False

    while made < 4 * args.batch_size:
        take(True)
    t_start = time.perf_counter()
    print(json.dumps({"first_examples_after_s": round(t_start - t_launch, 1), "made": made}), flush=True)
    while True:
        elapsed = time.perf_counter() - t_start
        frac = elapsed / budget
        if frac >= 1:
            break
        take(steps * args.batch_size >= args.max_replay * made)
        lr_scale = min(1.0, frac / args.warmup) * 0.5 * (1 + math.cos(math.pi * frac))
        idx = torch.randint(0, min(made, cap), (args.batch_size,), device=dev)
        xb = ((xbuf[idx].float() - mean) / (2 * std))
        xb = spec_augment(xb, 2)
        yb = ybuf[idx]
        for name, m in models.items():
            for g in opts[name].param_groups:
                g["lr"] = peak[name] * lr_scale
            loss = m(input_values=xb, labels=yb).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(m.parameters(), 1.0)
            opts[name].step()
            opts[name].zero_grad()
            losses[name].append(loss.detach())
        steps += 1
        if snaps and frac >= snaps[0]:
            for name, m in models.items():
                save(accelerator.unwrap_model(m), fe, work / f"{name}_at{int(snaps[0] * 100)}")
            snaps.pop(0)
        if elapsed - last_log >= 30:
            last_log = elapsed
            print(json.dumps({"s": round(elapsed), "made": made, "steps": steps,
                              "clips_per_s_made": round(made / elapsed, 1), "lr_scale": round(lr_scale, 3),
                              **{f"loss/{n}": round(float(torch.stack(v).float().mean()), 4) for n, v in losses.items() if v}}),
                  flush=True)
            losses = {name: [] for name in models}
        if elapsed - last_eval >= args.eval_every:
            last_eval = elapsed
            score(round(elapsed))
    pool.terminate()
    score("end")
    for name, m in models.items():
        model = accelerator.unwrap_model(m)
        save(model, fe, work / f"{name}_final")
        if best[name][1] is not None:
            model.load_state_dict(best[name][1])
            save(model, fe, work / f"{name}_best")
        with tarfile.open(out / f"{name}.tar", "w") as tar:
            for f in sorted(work.glob(f"{name}_*")):
                if f.is_dir():
                    tar.add(f, arcname=f.name)
    summary = {"made": made, "steps": steps, "batch_size": args.batch_size, "seconds": round(time.perf_counter() - t_start),
               "epochs_equivalent_96k": round(steps * args.batch_size / 96000, 2), "examples_fresh": made,
               "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "workers": args.workers,
               "val_best": {name: round(b[0], 4) for name, b in best.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        sys.exit(main())
    except (FileNotFoundError, ValueError) as e:  # a bad bank or model folder: its own message names it
        print(f"train_drums_bank.py: error: {e}", file=sys.stderr)
        sys.exit(2)
