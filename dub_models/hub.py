"""Publishing to the Hugging Face Hub (the same folder layout ``from_pretrained`` reads)."""

from __future__ import annotations

from pathlib import Path


def push_model(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Upload a saved model folder (weights, configs, card, confusion matrix) to a model repo."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise ValueError(f"{folder}: not a saved model (no config.json)")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="dub train",
                                 ignore_patterns=["run/*", "best/*", ".*"])
    except Exception as e:
        raise RuntimeError(f"push to the Hub model repo {repo_id!r} failed: {e}") from e
    return str(getattr(info, "commit_url", info))
