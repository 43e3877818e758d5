"""nerkit's entity scorer as an `evaluate` metric: the one scorer behind training's evaluation,
`nerkit evaluate` (both through `metrics.score`) and users' own `evaluate` code. Offline by construction:
an `evaluate.Metric` subclass instantiated directly, never `evaluate.load` (which fetches a script).

    metric = nerkit.metric(mode="strict", scheme="IOB1")
    metric.compute(predictions=[["I-PER", "I-PER", "O"]], references=[["I-PER", "I-PER", "O"]])
    # {"PER": {"precision", "recall", "f1", "number"}, "overall_precision", "overall_recall",
    #  "overall_f1", "overall_accuracy"}: the keys and types of the Hub's `seqeval` metric

`scheme` is the tag scheme of the inputs: IOB1 tags are converted to IOB2 first, as nerkit's readers
convert IOB1 files. Then seqeval scores them: `default` counts entities as conlleval does (a stray I-
opens one), `strict` is seqeval's strict IOB2 mode.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import datasets
import evaluate

from .deprecated import moved_names
from .errors import MetricError
from .schemes import SchemeError, split_tag, to_iob2

SEQEVAL_SCHEMES = ("IOB2", "IOB1")
__getattr__ = moved_names(__name__, {"SCHEMES": "nerkit.seqeval_metric:SEQEVAL_SCHEMES"})
MODES = ("default", "strict")

_DESCRIPTION = """nerkit's entity-level scores: seqeval (conlleval-compatible by default, or strict IOB2),
overall and per entity type, with IOB1 inputs converted to IOB2 first. The results have the keys of
the Hub's `seqeval` metric."""
_INPUTS = """
Args:
    predictions: one list of predicted tags per sentence (`B-PER`, `I-PER`, `O`, ...).
    references: one list of gold tags per sentence, one tag per predicted tag.
    mode: `default` (conlleval: a stray I- opens an entity) or `strict` (strict IOB2); default: the metric's.
    scheme: `IOB2` or `IOB1`, the scheme of both inputs (IOB1 is converted to IOB2); default: the metric's.
    zero_division: 0 or 1, the value of a score whose denominator is 0 (default 0), or `warn` (0, with a warning).
    sample_weight: per-sentence weights, passed to seqeval.
Returns:
    one dict per entity type {precision, recall, f1, number} and overall_precision, overall_recall,
    overall_f1, overall_accuracy (token accuracy).
"""


class Seqeval(evaluate.Metric):
    """Named `Seqeval` so that `metric.name` is "seqeval", as for the Hub's metric (evaluate.combine, evaluators)."""

    def __init__(self, mode: str = "default", scheme: str = "IOB2", keep_in_memory: bool = True, **kwargs):
        self.mode, self.scheme = check_mode(mode), check_scheme(scheme)
        super().__init__(keep_in_memory=keep_in_memory, **kwargs)

    def _info(self) -> evaluate.MetricInfo:
        tags = datasets.Sequence(datasets.Value("string", id="label"), id="sequence")
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
                                   features=datasets.Features({"predictions": tags, "references": tags}),
                                   codebase_urls=["https://github.com/chakki-works/seqeval"])

    def _build_data_dir(self) -> str:
        # evaluate creates <HF_HOME>/metrics/<name>/<config> for its Arrow cache files and locks even when
        # every prediction stays in memory; in memory nothing is written, so a read-only HF_HOME works.
        if self.keep_in_memory:
            return str(self._data_dir_root)
        return super()._build_data_dir()

    def _compute(self, predictions, references, mode: str | None = None, scheme: str | None = None,
                 suffix: bool = False, sample_weight=None, zero_division=0) -> dict[str, Any]:
        if suffix:
            raise MetricError("suffix tags (PER-B) are not supported; nerkit reads prefix tags (B-PER)")
        return entity_scores(references, predictions, mode or self.mode, scheme or self.scheme,
                             zero_division=zero_division, sample_weight=sample_weight)


def metric(mode: str = "default", scheme: str = "IOB2", **kwargs) -> Seqeval:
    """`nerkit.metric()`: the entity metric as an `evaluate.EvaluationModule`. Predictions and references
    stay in memory unless `keep_in_memory=False` (evaluate's distributed mode, `num_process` > 1)."""
    return Seqeval(mode=mode, scheme=scheme, **kwargs)


def entity_scores(references: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]], mode: str = "default",
                  scheme: str = "IOB2", zero_division=0, sample_weight=None) -> dict[str, Any]:
    """What `Seqeval.compute` returns: the Hub seqeval metric's dict, with its numpy number types."""
    from seqeval.metrics import accuracy_score, classification_report
    from seqeval.scheme import IOB2

    mode, scheme = check_mode(mode), check_scheme(scheme)
    references, predictions = [list(r) for r in references], [list(p) for p in predictions]
    check_lengths(references, predictions)
    if not any(references):
        raise MetricError("nothing to score: no tagged words")
    references = as_iob2(references, scheme, "references")
    predictions = as_iob2(predictions, scheme, "predictions")
    strict = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    with warnings.catch_warnings():  # with no entity at all, seqeval's macro average is a mean of nothing
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="numpy")
        report = classification_report(references, predictions, output_dict=True, zero_division=zero_division,
                                       sample_weight=sample_weight, **strict)
    overall = report.pop("micro avg")
    report.pop("macro avg")
    report.pop("weighted avg")
    scores: dict[str, Any] = {kind: {"precision": values["precision"], "recall": values["recall"],
                                     "f1": values["f1-score"], "number": values["support"]}
                              for kind, values in report.items()}
    scores["overall_precision"] = overall["precision"]
    scores["overall_recall"] = overall["recall"]
    scores["overall_f1"] = overall["f1-score"]
    scores["overall_accuracy"] = accuracy_score(references, predictions)  # over the IOB2 tags
    return scores


def check_mode(mode: str | None) -> str:
    mode = "default" if mode is None else mode
    if mode not in MODES:
        raise MetricError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def check_scheme(scheme: str) -> str:
    if not isinstance(scheme, str) or scheme.upper() not in SEQEVAL_SCHEMES:
        raise MetricError(f"unknown scheme {scheme!r}; expected IOB2 or IOB1 (the scheme of the tags; IOB1 is "
                          "converted to IOB2; convert other schemes with nerkit.schemes.to_iob2 first)")
    return scheme.upper()


def check_lengths(references: list[list[str]], predictions: list[list[str]]) -> None:
    if len(references) != len(predictions):
        raise MetricError(f"gold and predicted tags must have one tag per word: {len(references)} reference "
                          f"sentences but {len(predictions)} predicted")
    for i, (r, p) in enumerate(zip(references, predictions)):
        if len(r) != len(p):
            raise MetricError(f"gold and predicted tags must have one tag per word: sentence {i} has "
                              f"{len(r)} reference tags but {len(p)} predicted")


def as_iob2(sequences: list[list[str]], scheme: str, side: str) -> list[list[str]]:
    """Check every tag is O, B-TYPE or I-TYPE; convert IOB1 to IOB2."""
    for i, tags in enumerate(sequences):
        for j, tag in enumerate(tags):
            try:
                prefix, _ = split_tag(tag)
            except SchemeError as err:
                raise MetricError(f"{side} sentence {i}, word {j}: {err}") from None
            if prefix not in ("O", "B", "I"):
                raise MetricError(f"{side} sentence {i}, word {j}: tag {tag!r} is not {scheme} "
                                  "(only B-, I- and O)")
    if scheme == "IOB1":
        return [to_iob2(tags, "iob1") for tags in sequences]
    return sequences
