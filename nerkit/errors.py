"""Every error nerkit raises on purpose, in one family.

The CLI prints any `NerkitError` (and any `OSError`: a file that cannot be read or written, a model folder
transformers cannot load) as one line, `nerkit <command>: error: <message>`, and exits with status 2;
anything else is a bug and keeps its traceback. So a message names the file and line (or the key) and the
fix, and every class here is a user's mistake, never nerkit's.

One subclass per area; each keeps the builtin base it had before the family existed (`except ValueError`
in a user's code still catches a RecipeError). The modules that raise them re-export them under their old
names (`from nerkit.config import RecipeError` keeps working).
"""


class NerkitError(Exception):
    """A user's mistake that nerkit can name in one line: bad recipe, data, model, arguments or run folder."""


# --- one per area ---------------------------------------------------------------------------------------------

class RecipeError(NerkitError, ValueError):
    """A recipe that cannot be used: unknown key, wrong type, missing value."""


class DataError(NerkitError, ValueError):
    """Input data that cannot be used as it is; the message names the file and line."""


class ModelError(NerkitError, ValueError):
    """A model that cannot be used with this data or setting, or cannot be found."""


class RunError(NerkitError, ValueError):
    """An output directory that would mix two runs, or a run folder that is not finished."""


class UsageError(NerkitError, ValueError):
    """Arguments or options that cannot work (together)."""


class ExportError(NerkitError, RuntimeError):
    """An export that cannot be written, or a quantized model that fails its accuracy check."""


class HubError(NerkitError, RuntimeError):
    """No token, or an upload that failed; the local run is left as it was."""


class ServeError(NerkitError, RuntimeError):
    """The server cannot start: a missing dependency or a bad setting."""


class MissingExtraError(NerkitError, ImportError):
    """An optional part of nerkit whose package is not installed; the message names the extra that installs it."""


# --- narrower kinds, inside their area --------------------------------------------------------------------------

class SchemeError(DataError):
    """A tag that is malformed or not valid in the declared scheme."""


class SpanError(DataError):
    """A span file that cannot be used as it is; the message names the file and record."""


class InputError(DataError):
    """An input record that cannot be read (encoding, JSON, a missing text field); names the line or row."""


class MetricError(DataError):
    """Inputs or options the entity metric cannot score."""


class TokenizerError(ModelError):
    """A model folder whose tokenizer cannot be read without transformers."""


class CorpusError(RunError, RuntimeError):
    """A corpus run that cannot start or resume as asked (leftover or mismatched partial output)."""


class PredictError(UsageError):
    """Arguments of `nerkit predict` that cannot work together."""


class OutputError(UsageError):
    """A report path that cannot be used."""


class TaggingError(UsageError):
    """A Ray or Spark dataset that cannot be tagged as asked: no such text column, an output name taken."""


def not_utf8(where: str, err: UnicodeDecodeError, line_start: int = 0) -> str:
    """The one wording of a UTF-8 decoding error; `where` is `file:line`, the byte counted from `line_start`."""
    return f"{where}: not valid UTF-8 ({err.reason} at byte {err.start - line_start})"
