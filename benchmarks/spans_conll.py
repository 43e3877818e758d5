"""CoNLL-2003 as a span export: does training from text + character spans give what the CoNLL columns give?

    python benchmarks/spans_conll.py                      # convert and compare the data (seconds)
    python benchmarks/spans_conll.py --train              # also train on the spans files (same recipe and seed)
    python benchmarks/spans_conll.py --train --baseline /work/models/minilm-400   # CoNLL run already trained

Each -DOCSTART- document becomes one `spans` JSONL record: its sentences' words joined by spaces, the
sentences by blank lines, each entity a {"start", "end", "label"} span. The files are written to --out
(default /tmp/nerkit-spans-conll, never the repository). Reading them back with nerkit's splitter is
compared with the CoNLL files: label list, gold entities, sentences, words, words split at span boundaries.
With --train, `recipes/conll03-minilm.yaml training.max_steps=400` (fp32) is trained on the
spans files and on the CoNLL files (unless --baseline names that run), once per --seeds value, and every run
is scored on both test files: the CoNLL test file (the words as CoNLL gives them) and the spans test file
(the words nerkit's splitter makes of the raw text).

    python benchmarks/spans_conll.py --train --seeds 42 43 44 --aligned   # the figures in docs/benchmarks.md

--join says how a document's sentences are joined: `blank` (blank lines, the default), `line` (one line per
CoNLL sentence, as line-structured news is written), `wrap72` (the document as one paragraph hard-wrapped at
72 columns). --newlines prints the sentences nerkit's splitter makes of the test documents under each
`text.newlines` rule; --evaluate RUN scores a trained run on the CoNLL test words and on the spans test
file read with each rule (issue 25).

    python benchmarks/spans_conll.py --join line --newlines --evaluate /work/models/softmax-42

--aligned adds a third run per seed on the CoNLL words and tags cut into the same sentences as the spans
file (the splitter puts one sentence break inside a CoNLL train sentence): with the same number of
sentences, the same seed shuffles both into the same batches, so what differs is only the words.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "conll2003"
SPLITS = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
OVERRIDES = ["data.validation=null", "eval.splits=[test]",
             "training.save_strategy=no", "training.eval_strategy=no"]


def by_document(sentences: list[dict]) -> list[list[dict]]:
    documents: dict[int, list[dict]] = {}
    for sentence in sentences:
        documents.setdefault(sentence["document"], []).append(sentence)
    return list(documents.values())


JOINS = {"blank": "\n\n", "line": "\n", "wrap72": " "}


def joined(sentences: list[dict], join: str = "blank") -> tuple[str, list[list[tuple[int, int]]]]:
    """A document's text (words joined by spaces, sentences as `join` says) and each word's offsets."""
    text, offsets = "", []
    for sentence in sentences:
        if text:
            text += JOINS[join]
        offsets.append([])
        for word in sentence["tokens"]:
            text += (" " if offsets[-1] else "")
            offsets[-1].append((len(text), len(text) + len(word)))
            text += word
    if join == "wrap72":  # spaces become newlines where the line is full: the offsets stay the same
        wrapped = textwrap.fill(text, 72, break_long_words=False, break_on_hyphens=False)
        assert len(wrapped) == len(text)
        text = wrapped
    return text, offsets


def to_span_records(sentences: list[dict], join: str = "blank") -> list[dict]:
    """CoNLL sentences (IOB2) grouped by document -> {"text", "spans"} records."""
    from nerkit.schemes import spans

    records = []
    for sents in by_document(sentences):
        text, offsets = joined(sents, join)
        found = [{"start": where[first][0], "end": where[last - 1][1], "label": kind}
                 for sentence, where in zip(sents, offsets) for kind, first, last in spans(sentence["tags"])]
        records.append({"text": text, "spans": found})
    return records


def write_aligned_conll(sentences: list[dict], path: Path) -> int:
    """The CoNLL words and tags, with a sentence break wherever nerkit's splitter puts one in the joined
    text and CoNLL does not: the same sentences as the spans file, so the same seed gives both runs the
    same batches. Returns the number of sentences written."""
    from nerkit.formats.spans import _merge_inside_spans, words_and_tags
    from nerkit.text import split_sentences

    lines, count = [], 0
    for sents, record in zip(by_document(sentences), to_span_records(sentences)):
        text, offsets = joined(sents)
        words, tags, _ = words_and_tags(text, [(s["start"], s["end"], s["label"]) for s in record["spans"]])
        starts = {s[0].start for s in _merge_inside_spans(split_sentences(words, text), tags)}
        lines += ["-DOCSTART- O", ""]
        for sentence, where in zip(sents, offsets):
            for i, (word, tag) in enumerate(zip(sentence["tokens"], sentence["tags"])):
                if i and where[i][0] in starts:
                    lines.append("")
                    count += 1
                lines.append(f"{word} {tag}")
            lines.append("")
            count += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count


def convert(out: Path, join: str = "blank") -> dict[str, Path]:
    from nerkit.data import convert as to_iob2
    from nerkit.data import read_conll

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, name in SPLITS.items():
        records = to_span_records(to_iob2(read_conll(DATA / name), "iob2"), join)
        paths[split] = out / f"{split}.jsonl"
        with open(paths[split], "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return paths


def compare(paths: dict[str, Path]) -> dict:
    """Both sources read through nerkit.data.load_corpus."""
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus, read_span_documents
    from nerkit.formats.spans import to_sentences

    def summary(cfg):
        corpus = load_corpus(cfg)
        return corpus, {split: {"sentences": len(s), "words": sum(len(x["tokens"]) for x in s),
                                "entities": sum(t.startswith("B-") for x in s for t in x["tags"])}
                        for split, s in corpus.splits.items()}

    conll, conll_counts = summary(DataConfig(**{k: str(DATA / v) for k, v in SPLITS.items()}))
    spans, span_counts = summary(DataConfig(**{k: str(v) for k, v in paths.items()}))
    split_words, same_documents = {}, {}
    for split, path in paths.items():
        documents = read_span_documents(path, "spans", DataConfig())
        split_words[split] = sum(to_sentences(d, i)[1] for i, d in enumerate(documents))
        same_documents[split] = f"{_same_documents(conll.splits[split], spans.splits[split])} of {len(documents)}"
    return {"labels_equal": conll.labels == spans.labels, "labels": spans.labels,
            "conll": conll_counts, "spans": span_counts, "words_split_at_span_boundaries": split_words,
            "documents_with_identical_words_and_tags": same_documents}


def _same_documents(a: list[dict], b: list[dict]) -> int:
    def words(document: list[dict]) -> list[tuple[str, str]]:
        return [pair for sentence in document for pair in zip(sentence["tokens"], sentence["tags"])]

    in_b = {document[0]["document"]: words(document) for document in by_document(b)}
    return sum(words(document) == in_b.get(document[0]["document"]) for document in by_document(a))


def train(name: str, overrides: list[str], out: Path, steps: int, seed: int) -> Path:
    run_dir = out / f"{name}-seed{seed}"
    if (run_dir / "metrics.json").exists() and not (run_dir / "INCOMPLETE").exists():
        print(f"{run_dir} already trained; reused", flush=True)
        return run_dir
    command = [sys.executable, "-m", "nerkit.cli", "train", "--overwrite", str(ROOT / "recipes" / "conll03-minilm.yaml"),
               f"training.max_steps={steps}", f"training.seed={seed}", *OVERRIDES,
               f"training.output_dir={run_dir}", *overrides]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    return run_dir


def evaluate(model: str | Path, data: str | Path) -> dict:
    from nerkit.evaluation import evaluate as run

    report = run(str(model), str(data))
    return {k: report[k] for k in ("precision", "recall", "f1", "entities") if k in report}


def compare_training(paths: dict[str, Path], out: Path, steps: int, seeds: list[int], baseline: str | None,
                     aligned: bool) -> list:
    """Per seed: one run on the spans files, one on the CoNLL files (and with --aligned one on the CoNLL
    words cut into the spans file's sentences), each scored on both test files."""
    from nerkit.data import convert as to_iob2
    from nerkit.data import read_conll

    tests = {"conll test": DATA / "test.txt", "spans test": paths["test"]}
    arms = {"spans": [f"data.train={paths['train']}", f"data.test={paths['test']}"], "conll": []}
    if aligned:
        train_file = out / "train.aligned.conll"
        count = write_aligned_conll(to_iob2(read_conll(DATA / SPLITS["train"]), "iob2"), train_file)
        print(f"{train_file}: {count} sentences", flush=True)
        arms["conll-aligned"] = [f"data.train={train_file}"]
    rows = []
    for seed in seeds:
        for name, overrides in arms.items():
            run_dir = Path(baseline) if baseline and name == "conll" else train(name, overrides, out, steps, seed)
            scores = scores_of(run_dir, tests, keep=run_dir.is_relative_to(out))
            rows.append({"seed": seed, "trained on": name} | scores)
            print(json.dumps(rows[-1]), flush=True)
    return rows


def scores_of(run_dir: Path, tests: dict[str, Path], keep: bool) -> dict[str, float]:
    """Test F1 of a run on each test file; with `keep`, kept beside the run (bench-scores.json) for reruns."""
    kept = run_dir / "bench-scores.json"
    scores = json.loads(kept.read_text()) if keep and kept.is_file() else {}
    for test, path in tests.items():
        if test not in scores:
            scores[test] = evaluate(run_dir, path)["f1"]
    if keep:
        kept.write_text(json.dumps(scores))
    return scores


def newline_sentences(path: Path) -> dict:
    """Sentences (and the longest, in words) that each text.newlines rule makes of a spans file's documents."""
    from nerkit.config import DataConfig
    from nerkit.data import read_span_documents
    from nerkit.text import split_sentences, split_words

    documents = read_span_documents(path, "spans", DataConfig())
    found = {}
    for mode in ("auto", "sentence", "space"):
        per_document = [[[w.start for w in s] for s in split_sentences(split_words(d.text), d.text, mode)]
                        for d in documents]
        found[mode] = per_document
    summary = {mode: {"sentences": sum(map(len, docs)), "longest": max(len(s) for d in docs for s in d)}
               for mode, docs in found.items()}
    summary["documents where auto == space"] = sum(a == b for a, b in zip(found["auto"], found["space"]))
    summary["documents where auto == sentence"] = sum(a == b for a, b in zip(found["auto"], found["sentence"]))
    return summary


def evaluate_newlines(run: str, path: Path) -> dict:
    """F1 of `run` on the CoNLL test words and on the spans test file read with each newlines rule."""
    from nerkit.evaluation import evaluate as run_evaluate
    from nerkit.inference.tagger import Tagger

    tagger = Tagger.load(run, precision="fp32")
    scores = {"conll words": run_evaluate(tagger, str(DATA / "test.txt"))["f1"]}
    for mode in ("auto", "sentence", "space"):
        report = run_evaluate(tagger, str(path), newlines=mode)
        scores[f"spans, {mode}"] = {"f1": report["f1"], "char span f1": report["char_spans"]["f1"]}
        print(json.dumps({mode: scores[f"spans, {mode}"]}), flush=True)
    return scores


def summarise(rows: list[dict]) -> None:
    import statistics

    print("\n| trained on | seed | F1 on CoNLL test | F1 on spans test |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['trained on']} | {row['seed']} | {row['conll test']:.4f} | {row['spans test']:.4f} |")
    f1 = {(r["trained on"], r["seed"], test): r[test] for r in rows for test in ("conll test", "spans test")}
    seeds = sorted({r["seed"] for r in rows})
    for test in ("conll test", "spans test"):
        for name in dict.fromkeys(r["trained on"] for r in rows):
            values = [f1[name, s, test] for s in seeds]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(f"{test}: trained on {name}: mean F1 {statistics.mean(values):.4f} (sd {spread:.4f}, n={len(values)})")
            if name != "spans":
                gaps = [f1["spans", s, test] - f1[name, s, test] for s in seeds]
                print(f"{test}: spans - {name}, per seed: {', '.join(f'{g:+.4f}' for g in gaps)}; "
                      f"mean {statistics.mean(gaps):+.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/nerkit-spans-conll"))
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--steps", type=int, default=400, help="training steps of each run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="one pair of runs per seed")
    parser.add_argument("--aligned", action="store_true",
                        help="also train on the CoNLL words cut into the spans file's sentences (same batches)")
    parser.add_argument("--baseline", help="a run trained on the CoNLL files with the same recipe (one seed only)")
    parser.add_argument("--join", choices=list(JOINS), default="blank", help="how a document's sentences are joined")
    parser.add_argument("--newlines", action="store_true", help="sentences of the test documents under each rule")
    parser.add_argument("--evaluate", help="a trained run: F1 on the CoNLL test words and on the spans test file")
    args = parser.parse_args()
    if args.baseline and len(args.seeds) > 1:
        parser.error("--baseline stands for one CoNLL run: give one seed with it")
    paths = convert(args.out, args.join)
    if args.newlines or args.evaluate:
        if args.newlines:
            print(json.dumps(newline_sentences(paths["test"]), indent=2), flush=True)
        if args.evaluate:
            print(json.dumps(evaluate_newlines(args.evaluate, paths["test"]), indent=2), flush=True)
        return
    print(json.dumps(compare(paths), indent=2), flush=True)
    if args.train:
        summarise(compare_training(paths, args.out, args.steps, args.seeds, args.baseline, args.aligned))


if __name__ == "__main__":
    main()
