"""dub as a Hugging Face Space: upload an mp3, get MIDI, see it and hear it.

Locally: `dub app` (or `python spaces/app.py`) serves it on http://127.0.0.1:7860.
On a Space, this folder is deployed as built by `python scripts/build_space.py`, which adds
the dub packages (with their shipped weights) and the bundled examples next to this file.
"""

import os
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
for root in (here, here.parent):  # the Space folder, or the repository when run from a checkout
    if (root / "dub_models").is_dir():
        sys.path.insert(0, str(root))
        break

from dub_models.space import build_demo, launch  # noqa: E402

demo = build_demo()  # what `gradio app.py` and Spaces pick up

if __name__ == "__main__":
    on_space = bool(os.environ.get("SPACE_ID"))
    launch(host="0.0.0.0" if on_space else "127.0.0.1", port=int(os.environ.get("PORT", 7860)))
