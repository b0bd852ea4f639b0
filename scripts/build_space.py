#!/usr/bin/env python
"""Assemble the Hugging Face Space folder (and optionally push it).

The folder holds spaces/ (app.py, README.md with the Space metadata, requirements.txt,
packages.txt for apt), the dub_dataset and dub_models packages with their shipped weights, and
the bundled examples: app.py runs unchanged there and in a checkout.

    python scripts/build_space.py --out build/space [--push ORG/NAME]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp")


def build(out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(ROOT / "spaces", out, ignore=IGNORE)
    for pkg in ("dub_dataset", "dub_models", "examples"):
        shutil.copytree(ROOT / pkg, out / pkg, ignore=IGNORE)
    return out


def push(folder: Path, repo_id: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
        return api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="space",
                                 commit_message="dub Space").commit_url
    except Exception as e:  # offline, no token, no rights: say which repo and why
        raise SystemExit(f"build_space: cannot push to the Space {repo_id!r}: {type(e).__name__}: {e}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="build/space")
    ap.add_argument("--push", metavar="ORG/NAME")
    a = ap.parse_args()
    folder = build(Path(a.out))
    print(f"built {folder}")
    if a.push:
        print("pushed:", push(folder, a.push))


if __name__ == "__main__":
    main()
