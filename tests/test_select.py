"""`nerkit select`: a pool read as `nerkit predict` reads it, ranked once, the budget's best written in
ranked order with their fields, pre-annotations and scores; --exclude; resume after an interruption."""

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nerkit.cli import main
from nerkit.inference.tagger import Tagger
from nerkit.informativeness import informativeness

from conftest import WORDS


@pytest.fixture(scope="module")
def pool():
    rng = random.Random(3)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 14))) for _ in range(24)]
    texts[5], texts[11] = "", "Zoë Müller visited 😀 Berlin."
    return [{"id": f"t{i}", "source": "wire", "text": text} for i, text in enumerate(texts)]


@pytest.fixture(scope="module")
def pool_file(pool, tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pool), encoding="utf-8")
    return path


def expected_ranking(run, texts, strategy):
    """The ranking straight from the Tagger and the strategy: what select must write, best first."""
    tagger = Tagger.load(str(run))
    scored = []
    for i, (_, sentences) in enumerate(tagger.predict_with_scores(texts)):
        value = informativeness(strategy, [s for s, _, _ in sentences], [c for _, c, _ in sentences])
        if value is not None:
            scored.append((-value, i))
    return [i for _, i in sorted(scored)]


def select(run, *args):
    assert main(["select", str(run), *map(str, args)]) == 0


@pytest.mark.parametrize("strategy", ["entropy", "mnlp", "least-confidence"])
def test_select_writes_the_budgets_best_as_label_studio_tasks_in_ranked_order(trained_run, pool, pool_file, tmp_path,
                                                                             strategy):
    out = tmp_path / "next.json"
    select(trained_run, "--input", pool_file, "--budget", 5, "--strategy", strategy, "--output", out, "--chunk-size", 7)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    wanted = expected_ranking(trained_run, [r["text"] for r in pool], strategy)[:5]
    assert [t["data"]["id"] for t in tasks] == [pool[i]["id"] for i in wanted]
    assert [t["meta"]["rank"] for t in tasks] == [1, 2, 3, 4, 5] and all(t["meta"]["strategy"] == strategy for t in tasks)
    scores = [t["meta"]["informativeness"] for t in tasks]
    assert scores == sorted(scores, reverse=True)
    tagger = Tagger.load(str(trained_run))
    for task in tasks:
        assert task["data"] == {**pool[int(task["data"]["id"][1:])]}  # every field passed through
        (prediction,) = task["predictions"]
        entities = tagger.predict([task["data"]["text"]])[0]["entities"]
        assert [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in prediction["result"]] == \
            [(e["start"], e["end"], e["label"]) for e in entities]


def test_select_reads_every_input_form_predict_reads(trained_run, pool, pool_file, tmp_path):
    """JSON Lines, text lines and Parquet of the same texts give the same picks."""
    lines = tmp_path / "pool.txt"
    lines.write_text("".join(r["text"] + "\n" for r in pool), encoding="utf-8")
    table = tmp_path / "pool.parquet"
    pq.write_table(pa.Table.from_pylist(pool), table)
    picked = {}
    for name, path in [("jsonl", pool_file), ("text", lines), ("parquet", table)]:
        select(trained_run, "--input", path, "--budget", 4, "--output", tmp_path / f"{name}.jsonl", "--format", "jsonl")
        picked[name] = [json.loads(line)["text"] for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    assert picked["jsonl"] == picked["text"] == picked["parquet"] and len(picked["jsonl"]) == 4


def test_select_leaves_out_empty_texts_and_picks_each_text_once(trained_run, pool, pool_file, tmp_path):
    out = tmp_path / "all.jsonl"
    select(trained_run, "--input", pool_file, "--budget", 100, "--output", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in pool if r["text"])  # t5 is empty
    assert all(set(r) == {"id", "source", "text", "entities", "meta"} for r in records)


@pytest.mark.parametrize("fmt, keys", [("doccano", {"id", "source", "text", "label", "meta"}),
                                       ("spans", {"id", "source", "text", "spans", "meta"})])
def test_select_writes_doccano_and_spans_with_fields_and_meta(trained_run, pool_file, tmp_path, fmt, keys):
    out = tmp_path / f"picks-{fmt}.jsonl"
    select(trained_run, "--input", pool_file, "--budget", 3, "--output", out, "--format", fmt)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(set(r) == keys for r in records)
    assert [r["meta"]["rank"] for r in records] == [1, 2, 3]


def test_exclude_skips_texts_already_labelled_by_text_or_by_id(trained_run, pool, pool_file, tmp_path):
    first = tmp_path / "first.json"
    select(trained_run, "--input", pool_file, "--budget", 4, "--output", first)
    labelled = json.loads(first.read_text())  # as Label Studio exports them: its own task ids, our data
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 900 + i, "data": t["data"], "annotations": [{"result": []}]}
                                  for i, t in enumerate(labelled)]))
    second = tmp_path / "second.json"
    select(trained_run, "--input", pool_file, "--budget", 4, "--output", second, "--exclude", export)
    again = {t["data"]["id"] for t in json.loads(second.read_text())}
    assert len(again) == 4 and not again & {t["data"]["id"] for t in labelled}

    by_id = tmp_path / "labelled.jsonl"  # doccano lines whose text was edited since: matched by id only
    by_id.write_text("".join(json.dumps({"id": t["data"]["id"], "text": t["data"]["text"] + " (fixed)", "label": []})
                             + "\n" for t in labelled))
    third = tmp_path / "third.json"
    select(trained_run, "--input", pool_file, "--budget", 4, "--output", third, "--exclude", by_id, "--id-field", "id")
    assert {t["data"]["id"] for t in json.loads(third.read_text())} == again


def test_exclude_file_without_texts_or_ids_is_a_one_line_error(trained_run, pool_file, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"body": "x"}\n')
    assert main(["select", str(trained_run), "--input", str(pool_file), "--output", str(tmp_path / "o.json"),
                 "--exclude", str(bad)]) == 2
    assert f"{bad}:1: no text field 'text' to match pool records by" in capsys.readouterr().err


def test_random_is_reproducible_with_its_seed_whatever_the_chunks(trained_run, pool_file, tmp_path):
    runs = {}
    for name, chunk, seed in [("a", 5, 1), ("b", 1000, 1), ("c", 5, 2)]:
        out = tmp_path / f"{name}.jsonl"
        select(trained_run, "--input", pool_file, "--budget", 5, "--strategy", "random", "--seed", seed,
               "--chunk-size", chunk, "--output", out)
        runs[name] = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert runs["a"] == runs["b"] != runs["c"]


def test_an_interrupted_select_resumes_after_its_last_whole_chunk(trained_run, pool, pool_file, tmp_path,
                                                                   monkeypatch, capsys):
    whole = tmp_path / "whole.json"
    select(trained_run, "--input", pool_file, "--budget", 3, "--chunk-size", 5, "--output", whole)

    out = tmp_path / "next.json"
    calls = []
    real = Tagger.predict_with_scores

    def failing(self, texts, *args, **kwargs):
        calls.append(list(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(Tagger, "predict_with_scores", failing)
    with pytest.raises(KeyboardInterrupt):
        main(["select", str(trained_run), "--input", str(pool_file), "--budget", "3", "--chunk-size", "5",
              "--output", str(out)])
    partial = json.loads((tmp_path / "next.json.partial").read_text())
    assert partial["chunks"] == 2 and len(partial["picks"]) <= 3 and not out.exists()  # memory: the budget only

    assert main(["select", str(trained_run), "--input", str(pool_file), "--budget", "3", "--chunk-size", "5",
                 "--output", str(out)]) == 2
    assert "holds an interrupted run: pass --resume" in capsys.readouterr().err
    assert main(["select", str(trained_run), "--input", str(pool_file), "--budget", "4", "--chunk-size", "5",
                 "--output", str(out), "--resume"]) == 2
    assert "budget 3 (now 4)" in capsys.readouterr().err

    calls.clear()
    monkeypatch.setattr(Tagger, "predict_with_scores", lambda self, texts, *a, **k: calls.append(1) or real(self, texts))
    select(trained_run, "--input", pool_file, "--budget", 3, "--chunk-size", 5, "--output", out, "--resume")
    assert len(calls) == 3  # chunks 3-5 of 5; the first two are not tagged again
    assert out.read_text() == whole.read_text() and not (tmp_path / "next.json.partial").exists()
