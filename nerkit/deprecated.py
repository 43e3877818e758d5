"""Old import paths that still work, with a DeprecationWarning naming the new one.

Until 0.2 the library lived in nerkit/train.py, evaluate.py and predict.py, and a module-class swap made
`nerkit.train` both a submodule and a function. Now the library is training.py, evaluation.py and
prediction.py; train.py and predict.py are only the `python -m` entry points (`accelerate launch -m` needs
them), and evaluate.py only this compatibility. `nerkit.train` and `nerkit.evaluate` are plain functions.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from typing import Any, Callable


def moved_names(old: str, new: str, renamed: dict[str, str] | None = None) -> Callable[[str], Any]:
    """A module `__getattr__` for module `old`: its names now live in module `new` (some renamed)."""
    renamed = renamed or {}

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        target = renamed.get(name, name)
        try:
            value = getattr(importlib.import_module(new), target)
        except AttributeError:
            raise AttributeError(f"module {old!r} has no attribute {name!r}") from None
        warnings.warn(f"{old}.{name} moved to {new}.{target}", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__


class FunctionInPlace:
    """What `import nerkit.train` (or `nerkit.evaluate`) leaves under that name, so that importing the old
    module does not hide the package's function: calling it calls the function, reading a name from it
    reads the library module's (with a DeprecationWarning)."""

    def __init__(self, old: str, new: str, function: str, renamed: dict[str, str] | None = None):
        self._function = getattr(importlib.import_module(new), function)
        self._moved = moved_names(old, new, renamed)
        functools.update_wrapper(self, self._function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # its own attributes, before __init__ has set them (copy, pickle)
            raise AttributeError(name)
        return self._moved(name)


def function_in_place(old: str, new: str, function: str, renamed: dict[str, str] | None = None) -> None:
    """Called by module `old` as it is imported by name: the import binds what sys.modules holds then."""
    sys.modules[old] = FunctionInPlace(old, new, function, renamed)  # type: ignore[assignment]
