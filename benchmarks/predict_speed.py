"""Prediction speed and quality on raw text: nerkit against transformers' token-classification pipeline.

    python benchmarks/predict_speed.py runs/conll03-minilm      # a full (not adapter) model directory

The CoNLL-2003 test sentences (../shared/data/conll2003/test.txt) become raw text by joining their
words with spaces; gold entities become character spans. Both tools get the same texts and the same
fine-tuned model, in one process, on the same machine. Reported: sentences/s, and entity-level
precision/recall/F1 of the predicted character spans against gold (exact type, start and end).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"


def raw_text(sentences) -> tuple[list[str], list[set]]:
    from nerkit.schemes import spans

    texts, gold = [], []
    for sentence in sentences:
        starts, position = [], 0
        for word in sentence["tokens"]:
            starts.append(position)
            position += len(word) + 1
        texts.append(" ".join(sentence["tokens"]))
        gold.append({(kind, starts[a], starts[b - 1] + len(sentence["tokens"][b - 1]))
                     for kind, a, b in spans(sentence["tags"])})
    return texts, gold


def prf(gold: list[set], pred: list[set]) -> dict[str, float]:
    correct = sum(len(g & p) for g, p in zip(gold, pred))
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, pred))
    precision, recall = correct / max(n_pred, 1), correct / max(n_gold, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1, "predicted": n_pred, "gold": n_gold}


def timed(fn, texts):
    started = time.perf_counter()
    out = fn(texts)
    seconds = time.perf_counter() - started
    return out, {"seconds": seconds, "sentences_per_second": len(texts) / seconds}


def main() -> None:
    import torch
    from transformers import pipeline

    import nerkit
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.evaluation import evaluate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a full model run directory")
    parser.add_argument("--data", type=Path, default=TEST)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, default=Path("runs/bench-predict.json"))
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"skipped: CoNLL-2003 test file not found at {args.data}")
    sentences = load_corpus(DataConfig(test=str(args.data))).splits["test"]
    texts, gold = raw_text(sentences)
    rows = {}

    word_level = evaluate(args.model, str(args.data))["f1"]
    for precision in ("fp32", "auto"):
        tagger = nerkit.load(args.model, precision=precision, batch_size=args.batch_size)
        results, timing = timed(tagger.predict, texts)
        pred = [{(e["label"], e["start"], e["end"]) for e in r["entities"]} for r in results]
        rows[f"nerkit ({'bf16' if tagger.engine.bf16 else 'fp32'})"] = {**timing, **prf(gold, pred)}

    for strategy, batch_size in (("simple", 1), ("first", 1), ("first", args.batch_size)):
        tagger = pipeline("token-classification", model=args.model, aggregation_strategy=strategy, device="cpu")
        results, timing = timed(lambda t: tagger(t, batch_size=batch_size), texts)
        pred = [{(e["entity_group"], e["start"], e["end"]) for e in r} for r in results]
        rows[f"pipeline ({strategy}{f', batch {batch_size}' if batch_size > 1 else ''})"] = {**timing, **prf(gold, pred)}

    base = rows["pipeline (simple)"]["sentences_per_second"]
    print(f"word-level test F1 (nerkit evaluate on gold words): {word_level:.4f}  torch threads: {torch.get_num_threads()}")
    print("| tool | sentences/s | vs pipeline (simple) | entities | precision | recall | F1 |\n|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['sentences_per_second']:.1f} | {r['sentences_per_second'] / base:.2f}x | {r['predicted']} "
              f"| {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"word_level_f1": word_level, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
