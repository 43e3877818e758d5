import pytest

from nerkit.metrics import format_table, score

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "I-MISC"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]


def test_metrics_match_conlleval_counts():
    # conlleval: gold PER, LOC, ORG and MISC (a stray I- opens an entity) = 4; predicted PER, ORG, ORG = 3;
    # correct PER and the second ORG = 2 -> precision 2/3, recall 2/4, F1 4/7; 5 of 7 tokens right.
    metrics = score(GOLD, PRED)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 4)
    assert metrics["f1"] == pytest.approx(4 / 7)
    assert metrics["accuracy"] == pytest.approx(5 / 7)
    assert metrics["entities"] == 4
    assert metrics["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["per_type"]["ORG"]["precision"] == pytest.approx(0.5)
    assert sum(v["support"] for v in metrics["per_type"].values()) == 4


def test_metrics_strict_mode_does_not_count_stray_inside_tags():
    metrics = score(GOLD, PRED, mode="strict")
    assert metrics["entities"] == 3  # the stray I-MISC is not an entity in strict IOB2
    assert metrics["recall"] == pytest.approx(2 / 3)


def test_metrics_stray_inside_prediction_counts_as_predicted_entity():
    metrics = score([["O", "B-PER"]], [["I-PER", "B-PER"]])
    assert metrics["precision"] == pytest.approx(1 / 2) and metrics["recall"] == 1.0


def test_metrics_need_one_tag_per_word():
    with pytest.raises(ValueError, match="one tag per word"):
        score([["O", "O"]], [["O"]])


def test_metrics_table_lists_every_type_and_the_micro_row():
    table = format_table({"test": score(GOLD, PRED)})
    for kind in ("LOC", "MISC", "ORG", "PER", "micro", "macro", "accuracy"):
        assert f"test         {kind}" in table


# The entity scorer as an `evaluate` metric (nerkit/seqeval_metric.py).

import json
import os
import subprocess
import sys
import warnings

import numpy as np
from hypothesis import given, settings, strategies as st

import nerkit
from nerkit.metrics import report
from nerkit.seqeval_metric import MetricError

from conftest import ROOT, SAMPLE

TYPES = ("PER", "LOC", "ORG")
TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]


def hub_seqeval(predictions, references, mode=None, scheme=None):
    """The Hub's `seqeval` metric (evaluate-metric/seqeval, `Seqeval._compute`), the reference to match."""
    import seqeval.scheme
    from seqeval.metrics import accuracy_score, classification_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(y_true=references, y_pred=predictions, suffix=False, output_dict=True,
                                       scheme=getattr(seqeval.scheme, scheme) if scheme else None, mode=mode,
                                       sample_weight=None, zero_division="warn")
    report.pop("macro avg")
    report.pop("weighted avg")
    overall = report.pop("micro avg")
    scores = {kind: {"precision": s["precision"], "recall": s["recall"], "f1": s["f1-score"], "number": s["support"]}
              for kind, s in report.items()}
    scores["overall_precision"] = overall["precision"]
    scores["overall_recall"] = overall["recall"]
    scores["overall_f1"] = overall["f1-score"]
    scores["overall_accuracy"] = accuracy_score(y_true=references, y_pred=predictions)
    return scores


def assert_same_result(ours, hub):
    """Same keys in the same order, same values, same types (numpy float64/int64 as seqeval returns them)."""
    assert list(ours) == list(hub)
    for key, value in hub.items():
        if isinstance(value, dict):
            assert list(ours[key]) == list(value)
            for name, number in value.items():
                assert ours[key][name] == number and type(ours[key][name]) is type(number), (key, name)
        else:
            assert ours[key] == value and type(ours[key]) is type(value), key


@st.composite
def any_tags(draw):
    """References of any B-/I-/O tags (stray I- included) and predictions that keep some of them."""
    references = draw(st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=10), min_size=1, max_size=6))
    predictions = [[tag if draw(st.booleans()) else draw(st.sampled_from(TAGS)) for tag in sentence]
                   for sentence in references]
    return references, predictions


@st.composite
def entity_sentence(draw, length):
    """One sentence of entities written both in IOB1 and in IOB2 (by this test, not by nerkit.schemes)."""
    iob1, iob2, previous = [], [], None
    while len(iob2) < length:
        if draw(st.booleans()):
            iob1.append("O"), iob2.append("O")
            previous = None
            continue
        kind, size = draw(st.sampled_from(TYPES)), draw(st.integers(1, length - len(iob2)))
        for k in range(size):
            iob2.append(("B-" if k == 0 else "I-") + kind)
            iob1.append(("B-" if k == 0 and previous == kind else "I-") + kind)  # IOB1: B- only between twins
        previous = kind
    return iob1, iob2


@st.composite
def iob1_and_iob2_copies(draw):
    lengths = draw(st.lists(st.integers(1, 10), min_size=1, max_size=5))
    gold = [draw(entity_sentence(n)) for n in lengths]
    pred = [draw(entity_sentence(n)) for n in lengths]
    return ([g[0] for g in gold], [p[0] for p in pred]), ([g[1] for g in gold], [p[1] for p in pred])


@pytest.mark.parametrize("mode", ["default", "strict"])
@settings(max_examples=60, deadline=None)
@given(tags=any_tags())
def test_metric_equals_hub_seqeval_on_any_iob2_tags(mode, tags):
    references, predictions = tags
    ours = nerkit.metric(mode=mode).compute(predictions=predictions, references=references)
    hub = hub_seqeval(predictions, references, **({"mode": "strict", "scheme": "IOB2"} if mode == "strict" else {}))
    assert_same_result(ours, hub)


@pytest.mark.parametrize("mode", ["default", "strict"])
@settings(max_examples=60, deadline=None)
@given(copies=iob1_and_iob2_copies())
def test_metric_scores_iob1_tags_as_their_iob2_copy(mode, copies):
    (gold1, pred1), (gold2, pred2) = copies
    ours = nerkit.metric(mode=mode, scheme="IOB1").compute(predictions=pred1, references=gold1)
    strict = {"mode": "strict", "scheme": "IOB2"} if mode == "strict" else {}
    assert_same_result(ours, hub_seqeval(pred2, gold2, **strict))
    # seqeval's own strict IOB1 reading agrees on valid IOB1
    strict1 = {"mode": "strict", "scheme": "IOB1"} if mode == "strict" else {}
    assert ours["overall_f1"] == hub_seqeval(pred1, gold1, **strict1)["overall_f1"]


@settings(max_examples=60, deadline=None)
@given(tags=any_tags())
def test_metric_default_mode_reads_any_iob1_tags_as_conlleval_does(tags):
    references, predictions = tags  # any B-/I- sequence is IOB1 for conlleval, which reads it as it is
    ours = nerkit.metric(scheme="iob1").compute(predictions=predictions, references=references)
    hub = hub_seqeval(predictions, references)
    ours.pop("overall_accuracy"), hub.pop("overall_accuracy")  # token accuracy is over the IOB2 tags
    assert_same_result(ours, hub)


def test_metric_results_have_the_hub_seqeval_keys_and_types():
    # the example of the Hub metric's card
    predictions = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    references = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    metric = nerkit.metric()
    results = metric.compute(predictions=predictions, references=references)
    assert list(results) == ["MISC", "PER", "overall_precision", "overall_recall", "overall_f1", "overall_accuracy"]
    assert results["overall_f1"] == 0.5 and results["PER"]["f1"] == 1.0
    assert set(results["PER"]) == {"precision", "recall", "f1", "number"}
    assert type(results["PER"]["number"]) is np.int64 and type(results["overall_f1"]) is np.float64
    assert type(results["overall_accuracy"]) is float
    assert metric.name == "seqeval"


def test_metric_takes_the_hub_metric_compute_options():
    references, predictions = [["B-PER", "O"], ["I-LOC", "O"]], [["B-PER", "O"], ["I-LOC", "O"]]
    metric = nerkit.metric()
    assert metric.compute(predictions=predictions, references=references)["overall_f1"] == 1.0
    strict = metric.compute(predictions=predictions, references=references, mode="strict", scheme="IOB2")
    assert strict["overall_f1"] == 1.0 and set(strict) == {"PER", "overall_precision", "overall_recall",
                                                             "overall_f1", "overall_accuracy"}
    empty = metric.compute(predictions=[["O"]], references=[["B-PER"]], zero_division=1)
    assert empty["overall_precision"] == 1.0 and empty["overall_recall"] == 0.0


def test_metric_accumulates_batches_in_memory():
    metric = nerkit.metric(mode="strict")
    metric.add_batch(predictions=PRED[:1], references=GOLD[:1])
    metric.add_batch(predictions=PRED[1:], references=GOLD[1:])
    assert_same_result(metric.compute(), nerkit.metric(mode="strict").compute(predictions=PRED, references=GOLD))


def test_metric_can_keep_its_inputs_in_evaluate_cache_files(tmp_path):
    metric = nerkit.metric(keep_in_memory=False, cache_dir=str(tmp_path))  # what evaluate's multi-process mode needs
    assert_same_result(metric.compute(predictions=PRED, references=GOLD),
                       nerkit.metric().compute(predictions=PRED, references=GOLD))
    assert (tmp_path / "seqeval" / "default").is_dir()


@pytest.mark.parametrize("options, inputs, message", [
    ({"mode": "lenient"}, None, "unknown mode 'lenient'"),
    ({"scheme": "BIOES"}, None, "unknown scheme 'BIOES'"),
    ({}, ([["B-PER", "PER"]], [["B-PER", "O"]]), r"predictions sentence 0, word 1: malformed tag 'PER'"),
    ({}, ([["O"]], [["S-PER"]]), r"references sentence 0, word 0: tag 'S-PER' is not IOB2"),
    ({}, ([["O", "O"]], [["O"]]), "one tag per word: sentence 0 has 1 reference tags but 2 predicted"),
])
def test_metric_names_what_it_cannot_score(options, inputs, message):
    with pytest.raises(MetricError, match=message):
        metric = nerkit.metric(**options)
        predictions, references = inputs
        metric.compute(predictions=predictions, references=references)


def test_score_is_the_metric_result_in_the_report_shape():
    result = nerkit.metric(mode="strict").compute(predictions=PRED, references=GOLD)
    metrics = score(GOLD, PRED, mode="strict")
    assert metrics == report(result)
    assert set(metrics) == {"precision", "recall", "f1", "accuracy", "macro_f1", "entities", "per_type"}
    assert metrics["f1"] == result["overall_f1"] and metrics["entities"] == 3
    assert metrics["per_type"]["ORG"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    json.dumps(metrics)  # plain numbers: metrics.json keeps its format


EVALUATOR_SCRIPT = """
import json, sys
import evaluate, nerkit
from datasets import Dataset

rows = json.loads(sys.argv[2])
data = Dataset.from_dict({"tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]})
result = evaluate.evaluator("token-classification").compute(model_or_pipeline=sys.argv[1], data=data,
                                                              metric=nerkit.metric())
print(json.dumps({k: float(v) for k, v in result.items() if k.startswith("overall_")}))
"""


def test_evaluator_with_nerkit_metric_gives_the_same_scores_as_nerkit_evaluate(trained_run, tmp_path):
    """`evaluate.evaluator("token-classification")` runs the run directory as a transformers pipeline on the words
    joined by spaces and labels each word by its first sub-token, as nerkit does; the pipeline never windows,
    so the sentences are those that fit in one of nerkit's windows (data.max_length of the run). Offline, with
    an empty HF_HOME that stays empty."""
    from transformers import AutoTokenizer

    from nerkit.data import read_conll
    from nerkit.evaluation import evaluate

    max_length = json.loads((trained_run / "nerkit.json").read_text())["max_length"]
    tokenizer = AutoTokenizer.from_pretrained(str(trained_run))
    sentences = [s for s in read_conll(SAMPLE / "test.conll")
                 if len(tokenizer(s["tokens"], is_split_into_words=True)["input_ids"]) <= max_length]
    assert len(sentences) >= 50
    data = tmp_path / "test.conll"
    data.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in zip(s["tokens"], s["tags"])) for s in sentences))
    expected = evaluate(str(trained_run), str(data), decoding="argmax")  # the pipeline takes each word's best label
    assert 0 < expected["f1"] < 1  # a score that could differ

    home = tmp_path / "hf-home"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_HOME": str(home),
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    rows = json.dumps([[s["tokens"], s["tags"]] for s in sentences])
    done = subprocess.run([sys.executable, "-c", EVALUATOR_SCRIPT, str(trained_run), rows], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["overall_f1"] == pytest.approx(expected["f1"])
    assert result["overall_precision"] == pytest.approx(expected["precision"])
    assert result["overall_recall"] == pytest.approx(expected["recall"])
    assert result["overall_accuracy"] == pytest.approx(expected["accuracy"])
    assert [str(p.relative_to(home)) for p in home.rglob("*")] == []
