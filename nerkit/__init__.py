"""nerkit: fine-tune BERT-style encoders for named-entity recognition from a YAML recipe.

    import nerkit
    recipe = nerkit.load_recipe("recipes/quickstart.yaml")
    nerkit.train(recipe)                         # -> {split: metrics}
    nerkit.load("runs/quickstart").predict(["Angela Merkel visited Paris."])
    nerkit.metric(mode="strict").compute(predictions=..., references=...)   # an offline `evaluate` metric
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["load", "load_recipe", "train", "evaluate", "metric"]

if TYPE_CHECKING:  # what type checkers see; at run time the same names come lazily from __getattr__
    from .config import load_recipe
    from .evaluation import evaluate
    from .inference.tagger import load
    from .seqeval_metric import metric
    from .training import train

_HOMES = {"load": "inference.tagger", "load_recipe": "config", "train": "training", "evaluate": "evaluation",
          "metric": "seqeval_metric"}


def __getattr__(name):  # lazy, so that `import nerkit` and `nerkit --help` stay instant
    if name not in _HOMES:
        raise AttributeError(f"module 'nerkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
