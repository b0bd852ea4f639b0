"""dub_dataset: rendered, augmented instrument samples with spectrograms, as a Hugging Face dataset."""

__version__ = "0.1.0"


def _import_fluidsynth_quietly() -> None:
    """pyfluidsynth prints where it found libfluidsynth to *stdout* when ``$CI`` is set, on first import, and
    pretty_midi imports it: that line would corrupt ``dub transcribe --json`` and any piped output. Import it
    once here with stdout sent to stderr; later imports are cached and silent."""
    import contextlib
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        try:
            import fluidsynth  # noqa: F401
        except (ImportError, OSError):  # no libfluidsynth: the tinysoundfont engine still works
            pass


_import_fluidsynth_quietly()

from .sources import Spec, make_maker  # noqa: E402
from .generate import generate, iterable_dataset, load_dub_dataset, push_to_hub  # noqa: E402

__all__ = ["Spec", "make_maker", "generate", "iterable_dataset", "load_dub_dataset", "push_to_hub", "__version__"]
