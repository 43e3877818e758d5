"""nerkit: fine-tune BERT-style encoders for named-entity recognition from a YAML recipe.

    import nerkit
    recipe = nerkit.load_recipe("recipes/quickstart.yaml")
    nerkit.train(recipe)                         # -> {split: metrics}
    nerkit.load("runs/quickstart").predict(["Angela Merkel visited Paris."])
    nerkit.metric(mode="strict").compute(predictions=..., references=...)   # an offline `evaluate` metric
"""

__version__ = "0.1.0"
__all__ = ["load", "load_recipe", "train", "evaluate", "metric"]


def __getattr__(name):  # lazy, so that `import nerkit` and `nerkit --help` stay instant
    if name == "load":
        from .inference.tagger import load

        return load
    if name == "load_recipe":
        from .config import load_recipe

        return load_recipe
    if name == "train":
        from .train import run

        return run
    if name == "evaluate":
        from .evaluate import evaluate

        return evaluate
    if name == "metric":
        from .seqeval_metric import metric

        return metric
    raise AttributeError(f"module 'nerkit' has no attribute {name!r}")
