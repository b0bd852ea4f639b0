"""dub_models: classifiers and the transcriber, trained on dub datasets."""

__version__ = "0.1.0"
