"""Corpus-scale `nerkit predict`: peak memory against input size, processes against threads, whole-process
time against transformers' pipeline, and a kill -9 followed by --resume.

    python benchmarks/corpus_predict.py [--model /work/models/minilm-400] [--sizes 20000 200000] [--skip pipeline]

Inputs are the CoNLL-2003 test sentences (../shared/data/conll2003/test.txt) as raw text lines (words joined
by spaces), repeated to the sizes asked for. Every figure is a whole command in its own process (model
loading and start-up included), timed by wall clock; peak RSS is the child's maximum resident memory
(wait4). The memory and resume runs use a tiny random BERT (2 layers, 32 wide) with MiniLM's tokenizer, so
that 200,000 documents stay quick; the speed runs use `--model` (a fine-tuned MiniLM; without one, the
offline MiniLM with a random 9-label head: the same network, so the same speed). The load average is
printed with every figure: on a shared machine, compare figures taken at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"
TINY = ["--device", "cpu", "--precision", "fp32"]  # the tiny model, one thread: quick and steady on a shared machine
LABELS = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def sentences() -> list[str]:
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus

    return [" ".join(s["tokens"]) for s in load_corpus(DataConfig(test=str(TEST))).splits["test"]]


def write_lines(path: Path, texts: list[str], n: int) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            out.write(texts[i % len(texts)] + "\n")
    return path


def save_model(directory: Path, tiny: bool) -> Path:
    """MiniLM's tokenizer with a random 9-label head: on MiniLM itself, or on a tiny 2-layer BERT."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, BertConfig, BertForTokenClassification

    from nerkit.modeling import resolve_model_path

    base = resolve_model_path("minilm")
    labels = dict(enumerate(LABELS))
    if tiny:
        config = BertConfig(vocab_size=AutoTokenizer.from_pretrained(base).vocab_size, hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=9,
                            id2label=labels, label2id={v: k for k, v in labels.items()})
        model = BertForTokenClassification(config)
    else:
        model = AutoModelForTokenClassification.from_pretrained(base, num_labels=9, id2label=labels,
                                                                label2id={v: k for k, v in labels.items()})
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(base).save_pretrained(directory)
    (directory / "nerkit.json").write_text(json.dumps({"labels": LABELS, "kind": "full", "max_length": 256}))
    return directory


def env(threads: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}


def timed(command: list[str], threads: int) -> dict:
    """Wall time and peak RSS of one command in its own process."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "load": round(load, 1)}


def nerkit(model, *args) -> list[str]:
    return [sys.executable, "-m", "nerkit.predict", str(model), *map(str, args)]


def memory(work: Path, texts, sizes, tiny: Path) -> dict:
    results = {}
    for n in sizes:
        lines = write_lines(work / f"docs-{n}.txt", texts, n)
        results[n] = timed(nerkit(tiny, "--input", lines, "--output", work / f"tagged-{n}.jsonl", *TINY), 1)
        results[n]["docs_per_second"] = round(n / results[n]["seconds"])
        print(f"{n} documents: {results[n]}", flush=True)
    return results


def processes(work: Path, texts, model: Path, precision: str) -> dict:
    lines = write_lines(work / "test.txt", texts, len(texts))
    common = ["--input", lines, "--device", "cpu", "--precision", precision]
    runs = {
        "1 process x 2 threads": (nerkit(model, *common, "--output", work / "p1t2.jsonl"), 2),
        "1 process x 1 thread": (nerkit(model, *common, "--output", work / "p1t1.jsonl"), 1),
        "2 processes x 1 thread": ([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
                                    "--main_process_port", "29733", *nerkit(model, *common,
                                                                             "--output", work / "p2t1.jsonl")[1:]], 1),
    }
    results = {}
    for name, (command, threads) in runs.items():
        results[name] = timed(command, threads)
        results[name]["sentences_per_second"] = round(len(texts) / results[name]["seconds"], 1)
        print(f"{precision} {name}: {results[name]}", flush=True)
    same = (work / "p1t2.jsonl").read_bytes() == (work / "p2t1.jsonl").read_bytes()
    print(f"2-process output equals 1-process output: {same}", flush=True)
    return results


PIPELINE = """
import json, sys, torch
from transformers import pipeline
texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
tagger = pipeline("token-classification", model=sys.argv[1], aggregation_strategy="first", device="cpu")
with open(sys.argv[3], "w") as out:
    for result in tagger(texts, batch_size=32):
        out.write(json.dumps([{k: (float(v) if k == "score" else v) for k, v in e.items()} for e in result]) + "\\n")
"""


def against_pipeline(work: Path, texts, model: Path) -> dict:
    lines = write_lines(work / "test.txt", texts, len(texts))
    results = {"transformers pipeline (fp32)": timed([sys.executable, "-c", PIPELINE, str(model), str(lines),
                                                      str(work / "pipeline.jsonl")], 2)}
    for precision in ("fp32", "auto"):
        results[f"nerkit predict ({precision})"] = timed(
            nerkit(model, "--input", lines, "--output", work / f"whole-{precision}.jsonl", "--device", "cpu",
                   "--precision", precision), 2)
    for name, figures in results.items():
        figures["sentences_per_second"] = round(len(texts) / figures["seconds"], 1)
        print(f"{name}: {figures}", flush=True)
    return results


def kill_and_resume(work: Path, texts, tiny: Path, n: int) -> dict:
    """kill -9 once half the chunks are written, then --resume; compare with an uninterrupted run."""
    lines = write_lines(work / f"docs-{n}.txt", texts, n)
    whole = work / f"tagged-{n}.jsonl"
    if not whole.exists():
        timed(nerkit(tiny, "--input", lines, "--output", whole, *TINY), 1)
    out = work / f"resumed-{n}.jsonl"
    command = nerkit(tiny, "--input", lines, "--output", out, *TINY)
    child = subprocess.Popen(command, env=env(1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    index, half = Path(f"{out}.partial.index"), n // 1000 // 2
    while not index.exists() or len(index.read_text().splitlines()) - 1 < half:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    chunks_before = len(index.read_text().splitlines()) - 1
    resumed = timed(command + ["--resume"], 1)
    same = out.read_bytes() == whole.read_bytes()
    print(f"killed after {chunks_before} of {-(-n // 1000)} chunks; resumed {resumed}; byte-identical: {same}",
          flush=True)
    return {"chunks_before_kill": chunks_before, "resume": resumed, "identical": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="/work/models/minilm-400")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000])
    parser.add_argument("--skip", nargs="*", default=[], choices=["memory", "processes", "pipeline", "resume"])
    parser.add_argument("--work", help="folder for inputs and outputs (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="nerkit-corpus-"))
    work.mkdir(parents=True, exist_ok=True)
    texts = sentences()
    tiny = work / "tiny" if (work / "tiny" / "nerkit.json").exists() else save_model(work / "tiny", tiny=True)
    model = Path(args.model)
    if not (model / "config.json").exists():
        model = work / "minilm" if (work / "minilm" / "nerkit.json").exists() else save_model(work / "minilm", False)
        print(f"{args.model} not found: speed runs use MiniLM with a random head ({model})", flush=True)
    report = {"cpus": os.cpu_count(), "test_sentences": len(texts)}
    if "memory" not in args.skip:
        report["memory"] = memory(work, texts, args.sizes, tiny)
    if "resume" not in args.skip:
        report["resume"] = kill_and_resume(work, texts, tiny, args.sizes[0])
    if "processes" not in args.skip:
        report["processes"] = processes(work, texts, model, "fp32")
    if "pipeline" not in args.skip:
        report["pipeline"] = against_pipeline(work, texts, model)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
