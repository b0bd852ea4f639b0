"""dub_models: classifiers and the transcriber, trained on dub datasets.

Importing it registers dub's own architectures (``dub-cnn``, ``dub-transcriber``) with transformers' Auto classes.
"""

__version__ = "0.1.0"


def _register() -> None:
    try:
        from . import cnn  # noqa: F401
        from .transcriber import register

        register()
    except ImportError:  # transformers/torch not installed: dataset-only use
        pass


_register()
