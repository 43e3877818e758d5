"""nerkit: fine-tune BERT-style encoders for named-entity recognition from a YAML recipe.

    import nerkit
    recipe = nerkit.load_recipe("recipes/quickstart.yaml")
    nerkit.train(recipe)                         # -> {split: metrics}
    nerkit.load("runs/quickstart").predict(["Angela Merkel visited Paris."])
    nerkit.metric(mode="strict").compute(predictions=..., references=...)   # an offline `evaluate` metric
"""

import types

__version__ = "0.1.0"
__all__ = ["load", "load_recipe", "train", "evaluate", "metric"]


class CallableModule(types.ModuleType):
    """`nerkit.train` and `nerkit.evaluate` are submodules (`python -m nerkit.train`) and public functions
    at once: importing a submodule binds its name on the package, so the module itself must be the
    function. `make_callable(__name__, "run")` at the end of such a module does it."""

    def __call__(self, *args, **kwargs):
        return getattr(self, self.__nerkit_call__)(*args, **kwargs)


def make_callable(module_name: str, function: str) -> None:
    import sys

    if module_name == "__main__":  # python -m nerkit.train: nothing imports it by name
        return
    module = sys.modules[module_name]
    module.__class__, module.__nerkit_call__ = CallableModule, function


def __getattr__(name):  # lazy, so that `import nerkit` and `nerkit --help` stay instant
    if name == "load":
        from .inference.tagger import load

        return load
    if name == "load_recipe":
        from .config import load_recipe

        return load_recipe
    if name in ("train", "evaluate"):  # the callable modules themselves, so every access gives the same
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name == "metric":
        from .seqeval_metric import metric

        return metric
    raise AttributeError(f"module 'nerkit' has no attribute {name!r}")
