"""dub_dataset: rendered, augmented instrument samples with spectrograms, as a Hugging Face dataset."""

__version__ = "0.1.0"

from .sources import Spec, make_maker  # noqa: E402
from .generate import generate, iterable_dataset, push_to_hub  # noqa: E402

__all__ = ["Spec", "make_maker", "generate", "iterable_dataset", "push_to_hub", "__version__"]
