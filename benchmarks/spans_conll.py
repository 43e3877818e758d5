"""CoNLL-2003 as a span export: does training from text + character spans give what the CoNLL columns give?

    python benchmarks/spans_conll.py                      # convert and compare the data (seconds)
    python benchmarks/spans_conll.py --train              # also train on the spans files (same recipe and seed)
    python benchmarks/spans_conll.py --train --baseline /work/models/minilm-400   # CoNLL run already trained

Each -DOCSTART- document becomes one `spans` JSONL record: its sentences' words joined by spaces, the
sentences by blank lines, each entity a {"start", "end", "label"} span. The files are written to --out
(default /tmp/nerkit-spans-conll, never the repository). Reading them back with nerkit's splitter is
compared with the CoNLL files: label list, gold entities, sentences, words, words split at span boundaries.
With --train, `recipes/conll03-minilm.yaml training.max_steps=400` (fp32) is trained on the
spans files (and on the CoNLL files unless --baseline names that run) and both are scored on their test file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "conll2003"
SPLITS = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
OVERRIDES = ["data.validation=null", "eval.splits=[test]",
             "training.save_strategy=no", "training.eval_strategy=no"]


def to_span_records(sentences: list[dict]) -> list[dict]:
    """CoNLL sentences (IOB2) grouped by document -> {"text", "spans"} records."""
    from nerkit.schemes import spans

    documents: dict[int, list[dict]] = {}
    for sentence in sentences:
        documents.setdefault(sentence["document"], []).append(sentence)
    records = []
    for sents in documents.values():
        text, found = "", []
        for sentence in sents:
            if text:
                text += "\n\n"
            offsets = []
            for word in sentence["tokens"]:
                text += (" " if offsets else "")
                offsets.append((len(text), len(text) + len(word)))
                text += word
            for kind, first, last in spans(sentence["tags"]):
                found.append({"start": offsets[first][0], "end": offsets[last - 1][1], "label": kind})
        records.append({"text": text, "spans": found})
    return records


def convert(out: Path) -> dict[str, Path]:
    from nerkit.data import convert as to_iob2, read_conll

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, name in SPLITS.items():
        records = to_span_records(to_iob2(read_conll(DATA / name), "iob2"))
        paths[split] = out / f"{split}.jsonl"
        with open(paths[split], "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return paths


def compare(paths: dict[str, Path]) -> dict:
    """Both sources read through nerkit.data.load_corpus."""
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.formats.spans import SpanStats, to_sentences
    from nerkit.data import read_span_documents

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
    def by_document(sentences):
        found: dict[int, list] = {}
        for s in sentences:
            found.setdefault(s["document"], []).extend(zip(s["tokens"], s["tags"]))
        return found

    a, b = by_document(a), by_document(b)
    return sum(a[d] == b.get(d) for d in a)


def train(name: str, overrides: list[str], out: Path, steps: int) -> dict:
    run_dir = out / name
    command = [sys.executable, "-m", "nerkit.cli", "train", str(ROOT / "recipes" / "conll03-minilm.yaml"),
               f"training.max_steps={steps}", *OVERRIDES, f"training.output_dir={run_dir}", *overrides]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    return json.loads((run_dir / "metrics.json").read_text())["test"]


def evaluate(model: str, data: str) -> dict:
    from nerkit.evaluate import evaluate as run

    report = run(model, data)
    return {k: report[k] for k in ("precision", "recall", "f1", "entities") if k in report} | (
        {"char_spans": report["char_spans"]} if "char_spans" in report else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/nerkit-spans-conll"))
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--steps", type=int, default=400, help="training steps of each run")
    parser.add_argument("--baseline", help="a run trained on the CoNLL files with the same recipe (skips that run)")
    args = parser.parse_args()
    paths = convert(args.out)
    print(json.dumps(compare(paths), indent=2), flush=True)
    if not args.train:
        return
    spans_test = train("spans", [f"data.train={paths['train']}", f"data.test={paths['test']}"], args.out, args.steps)
    print("spans run, test:", json.dumps({k: spans_test[k] for k in ("precision", "recall", "f1", "entities")}))
    if args.baseline:
        conll_test = evaluate(args.baseline, str(DATA / "test.txt"))
    else:
        conll_test = train("conll", [], args.out, args.steps)
    print("conll run, test:", json.dumps({k: conll_test[k] for k in ("precision", "recall", "f1", "entities")}))
    print(f"test F1 difference (spans - conll): {spans_test['f1'] - conll_test['f1']:+.4f}")


if __name__ == "__main__":
    main()
