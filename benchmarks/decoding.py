"""Decoding: test F1 and invalid transitions per arm, and whole-process `nerkit predict` speed of Viterbi
against argmax.

    python benchmarks/decoding.py quality --arm softmax=/work/models/softmax-{42,43,44} --arm crf=/work/models/crf-{42,43,44}
    python benchmarks/decoding.py speed /work/models/softmax-42 --onnx runs/softmax-42-onnx --rounds 3
    python benchmarks/decoding.py train-step --steps 40
    python benchmarks/decoding.py crf-loss --steps 100

`quality`: each model tags the CoNLL-2003 test words once (PyTorch fp32); the same word scores are then
decoded by argmax and by Viterbi and scored with nerkit's scorer (as `nerkit evaluate`). Printed: F1 per
model and decoding, mean ± sd per arm, the number of IOB2-invalid transitions (`I-X` after neither
`B-X` nor `I-X`) in each arm's predictions, and the CPU seconds of each decoding step alone (word scores
to label ids and probabilities, all test sentences).

`speed`: the 3,453 test sentences as raw text (words joined by spaces) in a file; every row is one fresh
`nerkit predict MODEL --input FILE --output OUT --decoding D` process, timed whole; rounds alternate the
decodings, medians are reported.

`train-step`: the CRF head's training cost, in one process: MiniLM (the recipe's model) on batches of 32
CoNLL-2003 training sentences (max_length 128), forward + loss + backward + AdamW step, with nerkit's
softmax loss and with the CRF's likelihood, alternating batch by batch so that both see the same load.

`crf-loss`: the CRF's own share of a training step, robust to a busy machine: CPU seconds (one thread) of
the loss alone, forward and backward down to the logits, cross-entropy against the CRF's likelihood, on
the label layout of random batches of 32 CoNLL-2003 training sentences (MiniLM's sub-tokens, 9 labels).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"


def quality(arms: list[str], data: Path) -> None:
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.decoding import Decoder, invalid_transitions
    from nerkit.inference.tagger import Tagger
    from nerkit.metrics import score

    sentences = load_corpus(DataConfig(test=str(data))).splits["test"]
    gold = [s["tags"] for s in sentences]
    table: dict[tuple[str, str], list[tuple[str, float, int]]] = {}
    for arm in arms:
        name, _, folders = arm.partition("=")
        for folder in folders.split(","):
            tagger = Tagger.load(folder, precision="fp32")
            scores = tagger.word_scores([s["tokens"] for s in sentences])
            for decoding in ("argmax", "viterbi"):
                started = time.process_time()
                ids, _ = Decoder(tagger.labels, decoding, tagger.crf)(scores)
                cpu = time.process_time() - started
                pred = [[tagger.labels[i] for i in row] for row in ids]
                f1 = score(gold, pred)["f1"]
                invalid = sum(invalid_transitions(tags) for tags in pred)
                table.setdefault((name, decoding), []).append((folder, f1, invalid))
                print(f"{name} {decoding} {folder}: f1 {f1:.4f} invalid transitions {invalid} "
                      f"decoding CPU {cpu:.3f} s", flush=True)
    print("\n| arm | decoding | test F1 per model | mean ± sd | invalid transitions per model |\n|---|---|---|---|---|")
    for (name, decoding), rows in table.items():
        f1s = [f for _, f, _ in rows]
        sd = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
        print(f"| {name} | {decoding} | {', '.join(f'{f:.4f}' for f in f1s)} | {statistics.mean(f1s):.4f} ± {sd:.4f} "
              f"| {', '.join(str(i) for _, _, i in rows)} |")


def speed(model: str, onnx: str | None, rounds: int, data: Path, threads: int) -> None:
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus

    sentences = load_corpus(DataConfig(test=str(data))).splits["test"]
    work = Path(tempfile.mkdtemp(prefix="bench-decoding-"))
    texts = work / "test.txt"
    texts.write_text("\n".join(" ".join(s["tokens"]) for s in sentences) + "\n", encoding="utf-8")
    engines = {"PyTorch fp32": [model, "--precision", "fp32"]}
    if onnx:
        engines["ONNX fp32"] = [onnx]
    env = {"OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    seconds: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        for engine, args in engines.items():
            for decoding in (("argmax", "viterbi") if r % 2 == 0 else ("viterbi", "argmax")):
                out = work / f"out-{decoding}.jsonl"
                out.unlink(missing_ok=True)
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "nerkit.cli", "predict", *args, "--input", str(texts),
                                "--output", str(out), "--decoding", decoding], check=True, cwd=ROOT,
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                seconds.setdefault((engine, decoding), []).append(time.perf_counter() - started)
                print(f"round {r + 1} {engine} {decoding}: {seconds[(engine, decoding)][-1]:.2f} s", flush=True)
    print(f"\n{len(sentences)} sentences, OMP_NUM_THREADS={threads}, median of {rounds} rounds (range)")
    print("| engine | argmax s | viterbi s | viterbi vs argmax |\n|---|---|---|---|")
    for engine in engines:
        a, v = seconds[(engine, "argmax")], seconds[(engine, "viterbi")]
        print(f"| {engine} | {statistics.median(a):.2f} ({min(a):.2f}-{max(a):.2f}) | {statistics.median(v):.2f} "
              f"({min(v):.2f}-{max(v):.2f}) | {100 * (statistics.median(v) / statistics.median(a) - 1):+.1f}% |")


def train_step(steps: int, data: Path) -> None:
    import random

    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.features import Encoder
    from nerkit.heads import CRF
    from nerkit.inference.tagger import padded
    from nerkit.run import local_path
    from nerkit.trainer import TokenWeightedLoss

    corpus = load_corpus(DataConfig(train=str(data.parent / "train.txt")))
    labels, sentences = corpus.labels, corpus.splits["train"]
    path = local_path("minilm")
    encoder = Encoder(AutoTokenizer.from_pretrained(path), {label: i for i, label in enumerate(labels)}, 128)
    random.seed(0)
    batches = []
    for _ in range(steps):
        chosen = random.sample(sentences, 32)
        features = encoder({"tokens": [s["tokens"] for s in chosen], "tags": [s["tags"] for s in chosen]},
                           list(range(32)))
        ids, mask = padded(features["input_ids"], 0)
        gold = padded(features["labels"], -100)[0]
        batches.append(tuple(torch.from_numpy(a) for a in (ids, mask, gold)))
    arms = {}
    for head in ("softmax", "crf"):
        torch.manual_seed(0)
        model = AutoModelForTokenClassification.from_pretrained(path, num_labels=len(labels))
        crf = CRF(labels) if head == "crf" else None
        params = list(model.parameters()) + (list(crf.parameters()) if crf else [])
        arms[head] = (model, TokenWeightedLoss(600.0, 1, crf), torch.optim.AdamW(params, lr=1e-4))
    seconds: dict[str, list[float]] = {head: [] for head in arms}
    for step, (ids, mask, gold) in enumerate(batches):
        for head in (("softmax", "crf") if step % 2 == 0 else ("crf", "softmax")):
            model, loss_fn, optimizer = arms[head]
            started = time.perf_counter()
            loss = loss_fn(model(input_ids=ids, attention_mask=mask), gold)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            seconds[head].append(time.perf_counter() - started)
    a, c = (statistics.median(seconds[h][2:]) for h in ("softmax", "crf"))  # the first steps warm up
    print(f"{steps} steps of 32 sentences, torch threads {torch.get_num_threads()}: median step softmax {a:.3f} s, "
          f"CRF {c:.3f} s ({100 * (c / a - 1):+.1f}%)")


def crf_loss(steps: int, data: Path) -> None:
    import random

    import torch
    from transformers import AutoTokenizer

    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.features import Encoder
    from nerkit.heads import CRF
    from nerkit.inference.tagger import padded
    from nerkit.run import local_path
    from nerkit.trainer import TokenWeightedLoss

    torch.set_num_threads(1)
    corpus = load_corpus(DataConfig(train=str(data.parent / "train.txt")))
    labels, sentences = corpus.labels, corpus.splits["train"]
    encoder = Encoder(AutoTokenizer.from_pretrained(local_path("minilm")),
                      {label: i for i, label in enumerate(labels)}, 128)
    random.seed(0)
    losses = {"cross-entropy": TokenWeightedLoss(600.0), "crf": TokenWeightedLoss(600.0, 1, CRF(labels))}
    cpu = {name: 0.0 for name in losses}
    for _ in range(steps):
        chosen = random.sample(sentences, 32)
        features = encoder({"tokens": [s["tokens"] for s in chosen], "tags": [s["tags"] for s in chosen]},
                           list(range(32)))
        gold = torch.from_numpy(padded(features["labels"], -100)[0])
        for name, loss_fn in losses.items():
            logits = torch.randn(*gold.shape, len(labels), requires_grad=True)
            started = time.process_time()
            loss_fn({"logits": logits}, gold).backward()
            cpu[name] += time.process_time() - started
    print(f"{steps} random batches of 32 sentences, one thread: CPU s per step, loss forward + backward: "
          + ", ".join(f"{name} {seconds / steps * 1000:.1f} ms" for name, seconds in cpu.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    q = commands.add_parser("quality")
    q.add_argument("--arm", action="append", required=True, help="NAME=FOLDER[,FOLDER...]")
    q.add_argument("--data", type=Path, default=TEST)
    s = commands.add_parser("speed")
    s.add_argument("model", help="a run folder (PyTorch)")
    s.add_argument("--onnx", help="its `nerkit export` folder")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--data", type=Path, default=TEST)
    t = commands.add_parser("train-step")
    t.add_argument("--steps", type=int, default=40)
    t.add_argument("--data", type=Path, default=TEST)
    c = commands.add_parser("crf-loss")
    c.add_argument("--steps", type=int, default=100)
    c.add_argument("--data", type=Path, default=TEST)
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"skipped: CoNLL-2003 test file not found at {args.data}")
    if args.command == "quality":
        quality(args.arm, args.data)
    elif args.command == "crf-loss":
        crf_loss(args.steps, args.data)
    elif args.command == "train-step":
        train_step(args.steps, args.data)
    else:
        speed(args.model, args.onnx, args.rounds, args.data, args.threads)


if __name__ == "__main__":
    main()
