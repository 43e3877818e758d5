"""The old home of the evaluation library, now nerkit/evaluation.py; `nerkit.evaluate(...)` is
`nerkit.evaluation.evaluate`. Old code's `import nerkit.evaluate` leaves that function in its place, and
`from nerkit.evaluate import error_breakdown` (any old name) still works, with a DeprecationWarning."""

from .deprecated import function_in_place

function_in_place(__name__, "nerkit.evaluation", "evaluate")
