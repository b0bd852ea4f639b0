#!/usr/bin/env python
"""Copy a trained run's artefact into dub_models/weights/<task>/ as a shipped default.

Keeps what from_pretrained, pipeline and a reader need (safetensors weights, config.json,
preprocessor_config.json, README.md card, confusion_matrix.png, train_results.json), not the
checkpoints. Usage: python scripts/ship_model.py RUN_DIR TASK
"""

import shutil
import sys
from pathlib import Path

KEEP = ("model.safetensors", "config.json", "preprocessor_config.json", "README.md", "confusion_matrix.png",
        "train_results.json")


def main() -> None:
    run, task = Path(sys.argv[1]), sys.argv[2]
    dest = Path(__file__).resolve().parent.parent / "dub_models" / "weights" / task
    tmp = dest.with_name(f".{task}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in KEEP:
        if (run / name).exists():
            shutil.copy2(run / name, tmp / name)
    if not (tmp / "model.safetensors").exists():
        raise SystemExit(f"{run}: no model.safetensors")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    size = sum(f.stat().st_size for f in dest.iterdir())
    print(f"shipped {run} as {dest} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
