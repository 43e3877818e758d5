"""Training speed: the standard transformers recipe against nerkit, same model, data, seed and steps.

    python benchmarks/train_speed.py                       # MiniLM on ../shared/data/conll2003, 400 steps
    python benchmarks/train_speed.py --steps 100 --only nerkit-bf16

(a) `standard`: what transformers' run_ner example does, written here with plain transformers calls:
    tokenize with truncation, first-sub-token labels, DataCollatorForTokenClassification, Trainer with
    random batches, fp32. (b) `nerkit-fp32` and (c) `nerkit-bf16`: `nerkit.train` with its defaults
    (length-grouped batches in shuffled order, length-sorted evaluation), without and with bf16 autocast.
Each configuration runs in its own process so that peak memory (max RSS) is its own. Padding is
measured by replaying each run's sampler over its features for the same number of batches.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "conll2003"
CONFIGS = ("standard", "nerkit-fp32", "nerkit-bf16")


def padding_stats(lengths: list[int], sampler, batch_size: int, steps: int) -> dict[str, float]:
    order = list(iter(sampler))
    real = padded = 0
    for step in range(steps):
        batch = [lengths[i] for i in order[(step * batch_size) % len(order):][:batch_size]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return {"real_tokens": real, "padded_tokens": padded, "padding_fraction": 1 - real / padded}


def run_standard(args) -> dict:
    """transformers' run_ner recipe, condensed: nothing nerkit-specific."""
    import numpy as np
    import torch
    from datasets import Dataset
    from seqeval.metrics import f1_score
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments, set_seed)

    from nerkit.data import read_conll
    from nerkit.modeling import resolve_model_path
    from nerkit.schemes import label_list

    set_seed(args.seed)
    path = resolve_model_path(args.model)
    train, dev = read_conll(args.data / "train.txt"), read_conll(args.data / "valid.txt")
    labels = label_list([s["tags"] for s in train])
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(path)

    def tokenize_and_align_labels(examples):
        enc = tokenizer(examples["tokens"], truncation=True, max_length=args.max_length, is_split_into_words=True)
        all_labels = []
        for i, tags in enumerate(examples["tags"]):
            previous, ids = None, []
            for word in enc.word_ids(i):
                ids.append(-100 if word is None or word == previous else label2id[tags[word]])
                previous = word
            all_labels.append(ids)
        enc["labels"] = all_labels
        return enc

    def to_features(sentences):
        ds = Dataset.from_dict({"tokens": [s["tokens"] for s in sentences], "tags": [s["tags"] for s in sentences]})
        return ds.map(tokenize_and_align_labels, batched=True, remove_columns=ds.column_names)

    train_features, dev_features = to_features(train), to_features(dev)
    model = AutoModelForTokenClassification.from_pretrained(path, num_labels=len(labels),
                                                            id2label=dict(enumerate(labels)), label2id=label2id)

    def compute_metrics(p):
        preds = np.argmax(p.predictions, axis=2)
        gold = [[labels[l] for l in row if l != -100] for row in p.label_ids]
        pred = [[labels[q] for q, l in zip(prow, row) if l != -100] for prow, row in zip(preds, p.label_ids)]
        return {"f1": f1_score(gold, pred)}

    training_args = TrainingArguments(output_dir=str(args.out / "standard"), max_steps=args.steps,
                                      per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
                                      learning_rate=args.lr, warmup_steps=0.1, weight_decay=0.01, seed=args.seed,
                                      save_strategy="no", eval_strategy="no", report_to="none", logging_steps=50,
                                      dataloader_pin_memory=False)
    trainer = Trainer(model=model, args=training_args, train_dataset=train_features, eval_dataset=dev_features,
                      data_collator=DataCollatorForTokenClassification(tokenizer), processing_class=tokenizer,
                      compute_metrics=compute_metrics)
    started = time.perf_counter()
    train_metrics = trainer.train().metrics
    train_seconds = time.perf_counter() - started
    dev_f1 = trainer.evaluate()["eval_f1"]
    lengths = [len(x) for x in train_features["input_ids"]]
    sampler = torch.utils.data.RandomSampler(range(len(lengths)), generator=torch.Generator().manual_seed(args.seed))
    return {"train_seconds": train_seconds, "train_runtime": train_metrics["train_runtime"], "dev_f1": dev_f1,
            **padding_stats(lengths, sampler, args.batch_size, args.steps)}


def run_nerkit(args, bf16: bool) -> dict:
    import torch
    from nerkit.config import recipe_from_dict
    from nerkit.training import train as run
    from nerkit.trainer import ShuffledLengthGroupedSampler

    out = args.out / ("nerkit-bf16" if bf16 else "nerkit-fp32")
    recipe = recipe_from_dict({
        "model": {"name_or_path": args.model},
        "data": {"train": str(args.data / "train.txt"), "validation": str(args.data / "valid.txt"),
                 "max_length": args.max_length},
        "eval": {"splits": ["validation"]},
        "training": {"output_dir": str(out), "max_steps": args.steps, "per_device_train_batch_size": args.batch_size,
                     "per_device_eval_batch_size": 64, "learning_rate": args.lr, "warmup_steps": 0.1,
                     "weight_decay": 0.01, "seed": args.seed, "save_strategy": "no", "eval_strategy": "no",
                     "logging_steps": 50, "bf16": bf16, "dataloader_pin_memory": False},
    })
    lengths = nerkit_train_lengths(args, recipe)  # before training, so it does not add to the peak memory
    started = time.perf_counter()
    results = run(recipe)
    total = time.perf_counter() - started
    train_metrics = json.loads((out / "train_results.json").read_text())
    sampler = ShuffledLengthGroupedSampler(lengths, args.batch_size, generator=torch.Generator().manual_seed(args.seed))
    stats = padding_stats(lengths, sampler, args.batch_size, args.steps)
    return {"train_seconds": train_metrics["train_runtime"], "train_runtime": train_metrics["train_runtime"],
            "run_seconds": total, "dev_f1": results["validation"]["f1"], **stats}


def nerkit_train_lengths(args, recipe) -> list[int]:
    """The lengths of nerkit's training features, from the same reader and encoder the run used."""
    from nerkit.data import load_corpus
    from nerkit.modeling import load_tokenizer, resolve_model_path
    from nerkit.training import make_encoder

    corpus = load_corpus(recipe.data)
    tokenizer = load_tokenizer(resolve_model_path(args.model))
    encoder = make_encoder(recipe, tokenizer, {l: i for i, l in enumerate(corpus.labels)}, corpus)
    train = corpus.splits["train"]
    return encoder({"tokens": [s["tokens"] for s in train]}, list(range(len(train))))["length"]


def child(args) -> None:
    result = run_standard(args) if args.only == "standard" else run_nerkit(args, bf16=args.only == "nerkit-bf16")
    samples = args.steps * args.batch_size
    result.update(config=args.only, steps=args.steps, batch_size=args.batch_size, samples=samples,
                  samples_per_second=samples / result["train_runtime"],
                  peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2)
    if "real_tokens" in result:
        result["tokens_per_second"] = result["real_tokens"] / result["train_runtime"]
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-train"))
    parser.add_argument("--only", choices=CONFIGS)
    parser.add_argument("--json", type=Path, default=Path("runs/bench-train/results.json"))
    args = parser.parse_args()
    if not (args.data / "train.txt").is_file():
        sys.exit(f"skipped: CoNLL-2003 not found at {args.data} (expected ../shared/data/conll2003)")
    if args.only:
        return child(args)
    results = []
    for config in CONFIGS:
        command = [sys.executable, __file__, "--only", config] + sys.argv[1:]
        output = subprocess.run(command, capture_output=True, text=True, cwd=Path.cwd())
        line = [l for l in output.stdout.splitlines() if l.startswith("RESULT ")]
        if not line:
            sys.exit(f"{config} failed:\n{output.stderr[-3000:]}")
        results.append(json.loads(line[0][7:]))
        print(json.dumps(results[-1]), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    base = results[0]
    print("\n| config | samples/s | real tokens/s | padding | peak RSS GB | dev F1 | speed-up |\n|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['config']} | {r['samples_per_second']:.1f} | {r.get('tokens_per_second', 0):.0f} | "
              f"{r.get('padding_fraction', 0):.1%} | {r['peak_rss_gb']:.2f} | {r['dev_f1']:.4f} | "
              f"{r['samples_per_second'] / base['samples_per_second']:.2f}x |")


if __name__ == "__main__":
    main()
