"""`python -m nerkit.predict MODEL ...`: the entry point `accelerate launch -m` needs, and no more.

The library is nerkit/prediction.py; its old names (`from nerkit.predict import predict_to`) still work
here, with a DeprecationWarning (nerkit/deprecated.py).
"""

import sys

if __name__ == "__main__":
    from nerkit.cli import module_main

    sys.exit(module_main("predict", sys.argv[1:]))
else:
    from .deprecated import moved_names

    __getattr__ = moved_names(__name__, "nerkit.prediction")
