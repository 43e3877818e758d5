"""Corpus runs: chunked streaming, fields passed through, Parquet and datasets, order over processes, resume."""

import json
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.formats.tables import InputRecord, InputError, arrow_chunk, read_jsonl, read_lines, write_parquet
from nerkit.inference.corpus import CorpusError, Processes, Sink, concatenate, run_corpus, spool_path
from nerkit.prediction import PredictError, predict_to

from conftest import ROOT, free_port

TEXTS = ["Anna Smith visited Paris.", "", "The Acme Corp team won in Tokyo .", "John left.", "x" * 3,
         "Berlin and Tokyo said so on Monday .", "Anna", "The prize of Acme Corp ."]


def fake_tag(texts):
    """A stand-in tagger: one entity per document, its first word, so outputs show which text they came from."""
    return [{"text": t, "entities": [{"label": "X", "start": 0, "end": len(t.split(" ")[0]), "text": t.split(" ")[0]}]}
            for t in texts]


def jsonl_sink():
    return Sink(lambda records: "".join(json.dumps(r) + "\n" for r in records).encode(), concatenate, True)


def documents(n):
    return [InputRecord({"id": i, "text": f"doc{i} words"}, f"doc{i} words") for i in range(n)]


class Rank(Processes):
    """One rank of a group simulated with threads in this process."""

    def __init__(self, rank, world, barrier):
        super().__init__(rank, world)
        self.wait = barrier.wait

    def barrier(self):
        self.wait()


def run_ranks(output, docs, world, chunk_size, resume=False, tag=fake_tag):
    barrier, errors = threading.Barrier(world), []

    def rank_run(rank):
        try:
            run_corpus(tag, docs, str(output), jsonl_sink(), {}, chunk_size, resume,
                       group=Rank(rank, world, barrier), progress=False)
        except BaseException as err:  # a failing rank stops the others, as torchrun does
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=rank_run, args=(rank,)) for rank in range(world)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)] or errors
    if first:
        raise first[0]
    return output.read_text()


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 23), chunk_size=st.integers(1, 7), world=st.integers(1, 4))
def test_any_number_of_processes_writes_the_one_process_output(tmp_path_factory, n, chunk_size, world):
    out = tmp_path_factory.mktemp("corpus")
    expected = "".join(json.dumps({**d.fields, "entities": fake_tag([d.text])[0]["entities"]}) + "\n"
                       for d in documents(n))
    assert run_ranks(out / "o.jsonl", documents(n), world, chunk_size) == expected
    assert sorted(os.listdir(out)) == ["o.jsonl"]  # spools and indexes are gone


@pytest.mark.parametrize("world", [1, 3])
def test_resume_after_a_crash_redoes_only_the_missing_chunks(tmp_path, world):
    expected = run_ranks(tmp_path / "whole.jsonl", documents(20), world, 3)
    out, calls = tmp_path / "o.jsonl", []

    def crashing(texts):
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while tagging its fourth chunk
        calls.append(texts)
        return fake_tag(texts)

    with pytest.raises(KeyboardInterrupt):
        run_ranks(out, documents(20), world, 3, tag=crashing)
    spool = next(path for path in (spool_path(str(out), r, world) for r in range(world)) if os.path.exists(path))
    with open(spool, "ab") as partial:
        partial.write(b'{"id": 99, "text": "half a chu')  # a chunk cut off mid-write ...
    with open(spool + ".index", "ab") as index:
        index.write(b"99")  # ... and an index entry cut off before its newline
    with pytest.raises(CorpusError, match="interrupted run: pass --resume"):
        run_ranks(out, documents(20), world, 3)

    redone = []
    assert run_ranks(out, documents(20), world, 3, resume=True, tag=lambda t: redone.append(t) or fake_tag(t)) \
        == expected
    assert len(calls) + len(redone) == 7  # 20 documents in chunks of 3: each chunk tagged exactly once
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "o.jsonl"
    calls = []

    def crashing(texts):  # killed while tagging the second chunk
        calls.append(texts)
        return fake_tag(texts) if len(calls) == 1 else (_ for _ in ()).throw(KeyboardInterrupt)

    with pytest.raises(KeyboardInterrupt):
        run_ranks(out, documents(9), 1, 3, tag=crashing)
    with pytest.raises(CorpusError, match=r"cannot resume .*: it was written with chunk_size 3 \(now 4\)"):
        run_ranks(out, documents(9), 1, 4, resume=True)
    with pytest.raises(CorpusError, match="another number of processes"):
        run_ranks(out, documents(9), 2, 3, resume=True)


def test_text_lines_that_are_json_objects_and_json_lines_that_are_text_are_errors_naming_the_line():
    with pytest.raises(InputError, match=r"d\.txt:2: a JSON object where a text line was expected"):
        list(read_lines(iter([b"plain\n", b'{"text": "a"}\n']), "d.txt"))
    assert [d.text for d in read_lines(iter([b"{not json}\n", b"{}x\n"]), "d.txt")] == ["{not json}", "{}x"]
    with pytest.raises(InputError, match=r"d\.jsonl:2: invalid JSON .*a text line where JSON Lines was expected"):
        list(read_jsonl(iter([b'{"text": "a"}\n', b"just text\n"]), "d.jsonl"))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.fixed_dictionaries({"text": st.text()}, optional={
    "id": st.integers(), "tags": st.lists(st.text(max_size=3), max_size=2), "note": st.none() | st.text()}),
    max_size=8))
def test_json_lines_records_come_back_whole(records):
    lines = [(json.dumps(r, ensure_ascii=False) + "\n").encode() for r in records]
    assert [(d.fields, d.text) for d in read_jsonl(iter(lines), "d.jsonl")] == [(r, r["text"]) for r in records]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)))
                .filter(lambda t: not t.startswith("{")), max_size=8))
def test_text_lines_come_back_as_documents(texts):
    lines = [(t + "\n").encode() for t in texts]
    assert [(d.fields, d.text) for d in read_lines(iter(lines), "d.txt")] == [({"text": t}, t) for t in texts]


def test_skip_invalid_keeps_an_error_record_in_place_of_each_bad_line():
    lines = [b'{"text": "a", "id": 7}\n', b"\xff\n", b'{"body": "b"}\n', b'{"text": "\\ud800"}\n', b"\n"]
    docs = list(read_jsonl(iter(lines), "d.jsonl", skip_invalid=True))
    assert [d.text for d in docs] == ["a", None, None, None, ""]
    assert docs[0].fields == {"text": "a", "id": 7}
    assert [d.fields["line"] for d in docs[1:4]] == [2, 3, 4]
    assert "not valid UTF-8" in docs[1].fields["error"] and "lone surrogate" in docs[3].fields["error"]
    with pytest.raises(InputError, match="d.jsonl:1: a lone surrogate"):
        list(read_jsonl(iter(lines[3:4]), "d.jsonl"))


def test_parquet_chunks_merge_into_one_table_with_unified_types(tmp_path):
    import pyarrow.parquet as pq

    chunks = [arrow_chunk([{"id": 1, "note": None, "entities": []}]),
              arrow_chunk([{"id": 2, "note": "late", "entities": [{"label": "X", "start": 0, "end": 1, "text": "a",
                                                                   "score": 0.5}]},
                           {"line": 3, "error": "bad"}])]
    write_parquet(lambda: iter(chunks), str(tmp_path / "o.parquet"))
    table = pq.read_table(tmp_path / "o.parquet")
    assert str(table.schema.field("note").type) == "string"
    assert table.to_pylist()[1:] == [
        {"id": 2, "note": "late", "entities": [{"label": "X", "start": 0, "end": 1, "text": "a", "score": 0.5}],
         "line": None, "error": None},
        {"id": None, "note": None, "entities": None, "line": 3, "error": "bad"}]


# The command on a trained tiny model.

@pytest.fixture(scope="module")
def expected(trained_run):
    from nerkit.inference.tagger import Tagger

    return Tagger.load(str(trained_run), precision="fp32").predict(TEXTS)


def predict(run, **options):
    return predict_to(str(run), precision="fp32", device="cpu", progress=False, **options)


def read_jsonl_file(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_streaming_in_small_chunks_passes_every_field_through(trained_run, expected, tmp_path):
    docs = tmp_path / "news.jsonl"
    docs.write_text("".join(json.dumps({"id": f"n{i}", "body": t, "meta": {"rank": i}}) + "\n"
                            for i, t in enumerate(TEXTS)))
    predict(trained_run, input=str(docs), text_field="body", output=str(tmp_path / "o.jsonl"), chunk_size=3)
    assert read_jsonl_file(tmp_path / "o.jsonl") == [
        {"id": f"n{i}", "body": t, "meta": {"rank": i}, "entities": e["entities"]}
        for i, (t, e) in enumerate(zip(TEXTS, expected))]


def test_json_lines_are_read_from_field_text_by_default(trained_run, expected, tmp_path):
    docs = tmp_path / "news.jsonl"
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    predict(trained_run, input=str(docs), output=str(tmp_path / "o.jsonl"))
    assert read_jsonl_file(tmp_path / "o.jsonl") == expected


def test_gzipped_json_lines_are_read_as_the_plain_file_is(trained_run, expected, tmp_path):
    import gzip

    docs = tmp_path / "news.jsonl.gz"
    with gzip.open(docs, "wt", encoding="utf-8") as out:
        out.write("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    predict(trained_run, input=str(docs), output=str(tmp_path / "o.jsonl"))
    assert read_jsonl_file(tmp_path / "o.jsonl") == expected
    predict(trained_run, dataset=str(docs), output=str(tmp_path / "d.jsonl"))
    assert read_jsonl_file(tmp_path / "d.jsonl") == expected


def test_a_gzipped_output_name_is_refused_before_any_work(trained_run, tmp_path):
    with pytest.raises(PredictError, match="o.jsonl.gz: compressed output is not written"):
        predict(trained_run, texts=["Anna"], output=str(tmp_path / "o.jsonl.gz"))
    assert not (tmp_path / "o.jsonl.gz").exists()


def test_parquet_in_and_out_keeps_the_input_column_types(trained_run, expected, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"doc_id": pa.array(range(len(TEXTS)), pa.int32()), "body": TEXTS}), tmp_path / "in.parquet",
                   row_group_size=3)
    predict(trained_run, input=str(tmp_path / "in.parquet"), text_field="body", output=str(tmp_path / "o.parquet"),
            chunk_size=2)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.schema.field("doc_id").type == pa.int32()
    assert table.to_pylist() == [{"doc_id": i, "body": t, "entities": e["entities"]}
                                 for i, (t, e) in enumerate(zip(TEXTS, expected))]


def test_a_local_dataset_folder_is_streamed(trained_run, expected, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "news" / "data").mkdir(parents=True)
    pq.write_table(pa.table({"text": TEXTS, "n": list(range(len(TEXTS)))}), tmp_path / "news" / "data" / "train.parquet")
    predict(trained_run, dataset=str(tmp_path / "news"), split="train", output=str(tmp_path / "o.jsonl"), chunk_size=3)
    assert read_jsonl_file(tmp_path / "o.jsonl") == [{"text": t, "n": i, "entities": e["entities"]}
                                                     for i, (t, e) in enumerate(zip(TEXTS, expected))]


def test_a_local_data_file_is_a_dataset_too(trained_run, expected, tmp_path, monkeypatch):
    docs = tmp_path / "news.jsonl"
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    monkeypatch.chdir(tmp_path)
    predict(trained_run, dataset="news.jsonl", output=str(tmp_path / "o.jsonl"))
    assert read_jsonl_file(tmp_path / "o.jsonl") == expected
    with pytest.raises(InputError, match="missing.jsonl: no such file or folder"):
        predict(trained_run, dataset="missing.jsonl", output=str(tmp_path / "p.jsonl"))


def test_resume_of_a_killed_run_gives_the_uninterrupted_output(trained_run, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(TEXTS * 3) + "\n")
    predict(trained_run, input=str(docs), output=str(tmp_path / "whole.jsonl"), chunk_size=4)
    whole = (tmp_path / "whole.jsonl").read_bytes()
    ends = [i + 1 for i, byte in enumerate(whole) if byte == ord("\n")]
    out = tmp_path / "o.jsonl"
    with open(f"{out}.partial", "wb") as spool:  # what a kill leaves: 2 chunks indexed, a third half written
        spool.write(whole[:ends[7] + 40])
    settings = {"model": str(trained_run), "input": str(docs), "text_field": "text", "format": "jsonl",
                "precision": "fp32", "chunk_size": 4, "processes": 1}
    with open(f"{out}.partial.index", "w") as index:
        index.write(json.dumps(settings) + f"\n{ends[3]}\n{ends[7]}\n")
    predict(trained_run, input=str(docs), output=str(out), chunk_size=4, resume=True)
    assert out.read_bytes() == whole
    assert sorted(os.listdir(tmp_path)) == ["docs.txt", "o.jsonl", "whole.jsonl"]


def test_resume_with_another_decoding_is_refused(trained_run, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "o.jsonl"
    settings = {"model": str(trained_run), "input": str(docs), "text_field": "text", "format": "jsonl",
                "precision": "fp32", "decoding": "argmax", "chunk_size": 4, "processes": 1}
    (tmp_path / "o.jsonl.partial").write_bytes(b"")  # what a kill before the first chunk's end leaves
    (tmp_path / "o.jsonl.partial.index").write_text(json.dumps(settings) + "\n")
    with pytest.raises(CorpusError, match=r"decoding 'argmax' \(now 'viterbi'\)"):
        predict(trained_run, input=str(docs), output=str(out), chunk_size=4, resume=True, decoding="viterbi")
    settings["decoding"] = "viterbi"
    (tmp_path / "o.jsonl.partial.index").write_text(json.dumps(settings) + "\n")
    predict(trained_run, input=str(docs), output=str(out), chunk_size=4, resume=True, decoding="viterbi",
            batch_size=2)  # the batch size may change on resume: it does not change the entities
    assert len(read_jsonl_file(out)) == len(TEXTS)


def test_pretty_output_to_a_file_is_an_error_that_leaves_the_file_alone(trained_run, tmp_path, capsys):
    from nerkit.cli import main

    keep = tmp_path / "keep.txt"
    keep.write_text("precious\n")
    assert main(["predict", str(trained_run), "Anna", "--output", str(keep), "--format", "pretty"]) == 2
    assert "--format pretty is a terminal view" in capsys.readouterr().err
    assert keep.read_text() == "precious\n"
    with pytest.raises(PredictError, match="is a directory"):
        predict(trained_run, texts=["Anna"], output=str(tmp_path))


def test_an_input_directory_is_a_one_line_error(trained_run, tmp_path, capsys):
    from nerkit.cli import main

    assert main(["predict", str(trained_run), "--input", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nerkit predict: error: {tmp_path} is a directory; --input takes one file "
                   "(use --dataset for a dataset folder)"]


def test_an_interrupted_output_is_never_left_under_the_final_name(trained_run, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "Anna"}\n{"oops": 1}\n')
    with pytest.raises(InputError, match="docs.jsonl:2"):
        predict(trained_run, input=str(docs), output=str(tmp_path / "o.jsonl"), chunk_size=1)
    assert not (tmp_path / "o.jsonl").exists() and (tmp_path / "o.jsonl.partial").exists()


def test_two_cpu_processes_write_the_one_process_output(trained_run, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(TEXTS * 2) + "\n")
    common = [str(trained_run), "--input", str(docs), "--chunk-size", "3", "--precision", "fp32", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    one = subprocess.run([sys.executable, "-m", "nerkit.predict", *common, "--output", str(tmp_path / "one.jsonl")],
                         env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
                          "--main_process_port", str(free_port()), "-m", "nerkit.predict", *common,
                          "--output", str(tmp_path / "two.jsonl")], env=env, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "starting 2 CPU processes" in two.stderr
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert len((tmp_path / "two.jsonl").read_text().splitlines()) == 2 * len(TEXTS)


def test_a_run_stopped_before_its_first_chunk_starts_again_without_resume(tmp_path, caplog):
    out = tmp_path / "o.jsonl"
    def bad_third_line():
        yield from documents(2)
        raise InputError("o.txt:3: not valid UTF-8")

    with pytest.raises(InputError):
        run_corpus(fake_tag, bad_third_line(), str(out), jsonl_sink(), {}, 10, progress=False)
    assert os.listdir(tmp_path) == []  # no .partial to resume: nothing was written
    assert "nothing to resume" in caplog.text
    run_corpus(fake_tag, documents(2), str(out), jsonl_sink(), {}, 10, progress=False)  # no --resume needed
    assert len(out.read_text().splitlines()) == 2


def test_partial_files_of_a_run_killed_before_its_first_chunk_do_not_block_the_next(tmp_path):
    out = tmp_path / "o.jsonl"
    (tmp_path / "o.jsonl.partial").write_bytes(b"")
    (tmp_path / "o.jsonl.partial.index").write_text('{"chunk_size": 10, "processes": 1}\n')
    run_corpus(fake_tag, documents(3), str(out), jsonl_sink(), {}, 10, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["o.jsonl"]
