"""`python -m nerkit.train RECIPE [overrides]`: the entry point `accelerate launch -m` needs, and no more.

The library is nerkit/training.py; from Python, `nerkit.train(recipe)` is `nerkit.training.train`.
Old code's `import nerkit.train` leaves that function in its place (nerkit/deprecated.py).
"""

import sys

if __name__ == "__main__":
    from nerkit.cli import module_main

    sys.exit(module_main("train", sys.argv[1:]))
else:
    from .deprecated import function_in_place

    function_in_place(__name__, "nerkit.training", "train", renamed={"run": "train"})
