"""Engines at equal precision, timed as whole processes: the transformers pipeline, nerkit on PyTorch and
nerkit on ONNX Runtime (fp32 and dynamic int8), on the CoNLL-2003 test sentences as raw text.

    python benchmarks/engines_speed.py /work/models/minilm-400 --threads 2     # prints a markdown table
    python benchmarks/engines_speed.py /work/models/minilm-400 --threads 2 --rounds 3   # medians of 3

The run folder is exported first (`nerkit export`, into --work; int8 checked on --check-data). Every row is
one fresh process that reads the texts, loads the model and tags them all: reported are sentences/s over
the whole process and over tagging alone, start-up (the process's wall time minus tagging), peak RSS and
the raw-text entity F1 (character spans against gold, as in benchmarks/predict_speed.py). A separate
column times a one-sentence `nerkit predict MODEL "..."` (median of --repeat runs): the start-up a user
waits for. bf16 rows are added only where the CPU computes bf16 natively.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "conll2003"
ONE_SENTENCE = "George Washington went to Washington to meet the Acme Corp team."


def worker(kind: str, model: str, precision: str, texts_path: str, batch_size: int) -> dict:
    """One measured process: load, tag every text, report timings and predicted spans."""
    texts = Path(texts_path).read_text(encoding="utf-8").split("\n")
    if kind == "pipeline":
        import torch
        from transformers import pipeline

        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        tagger = pipeline("token-classification", model=model, aggregation_strategy="first", device="cpu", dtype=dtype)
        started = time.perf_counter()
        results = tagger(texts, batch_size=32)
        pred = [[(e["entity_group"], e["start"], e["end"]) for e in r] for r in results]
    else:
        import nerkit

        tagger = nerkit.load(model, precision=precision, batch_size=batch_size)
        started = time.perf_counter()
        pred = [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in tagger.predict(texts)]
    return {"tagging_seconds": time.perf_counter() - started, "pred": pred, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM; ru_maxrss would carry over the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, model: str, precision: str, texts_path: Path, batch_size: int, env: dict) -> dict:
    command = [sys.executable, __file__, "--worker", kind, model, "--precision", precision,
               "--texts", str(texts_path), *(["--batch-size", str(batch_size)] if batch_size else [])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{kind} {precision} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_seconds": wall, "startup_seconds": wall - result["tagging_seconds"]}


def median_run(runs: list[dict]) -> dict:
    """The run with the median whole-process time (its own tagging and start-up figures go with it)."""
    return sorted(runs, key=lambda r: r["wall_seconds"])[(len(runs) - 1) // 2]


def one_sentence_seconds(model: str, repeat: int, env: dict) -> float:
    """Median wall time of `nerkit predict MODEL "one sentence"` as a user runs it."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nerkit.cli", "predict", model, ONE_SENTENCE, "--format", "jsonl"],
                       capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def exported(model: str, work: Path, name: str, check_data: Path, **options) -> str:
    from nerkit.export import export

    target = work / name
    if not (target / "nerkit.json").is_file():
        export(model, target, check_data=str(check_data), **options)
    return str(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a full-model run folder (nerkit train output)")
    parser.add_argument("--data", type=Path, default=DATA / "test.txt")
    parser.add_argument("--check-data", type=Path, default=DATA / "valid.txt", help="for the int8 check")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-engines")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch-size", type=int, help="nerkit rows (default: nerkit's own, per engine)")
    parser.add_argument("--limit", type=int, help="only the first N test sentences")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the one-sentence start-up timing")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every row this many times, interleaved; medians are reported (min-max beside)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.precision, args.texts, args.batch_size)))
        return
    if not args.data.is_file():
        raise SystemExit(f"skipped: CoNLL-2003 test file not found at {args.data}")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from predict_speed import prf, raw_text

    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.inference.engines import native_bf16

    sentences = load_corpus(DataConfig(test=str(args.data))).splits["test"][:args.limit]
    texts, gold = raw_text(sentences)
    args.work.mkdir(parents=True, exist_ok=True)
    texts_path = args.work / "texts.txt"
    texts_path.write_text("\n".join(texts), encoding="utf-8")
    onnx = exported(args.model, args.work, "onnx-fp32", args.check_data)
    int8 = exported(args.model, args.work, "onnx-int8", args.check_data, quantize="int8", force=True)
    int8_tensor = exported(args.model, args.work, "onnx-int8-per-tensor", args.check_data, quantize="int8",
                           per_channel=False, force=True)
    rows = [("pipeline fp32", "pipeline", args.model, "fp32"), ("nerkit PyTorch fp32", "nerkit", args.model, "fp32"),
            ("nerkit ONNX fp32", "nerkit", onnx, "fp32"), ("nerkit ONNX int8 (per channel)", "nerkit", int8, "auto"),
            ("nerkit ONNX int8 (per tensor)", "nerkit", int8_tensor, "auto")]
    if native_bf16("cpu"):
        rows[2:2] = [("pipeline bf16", "pipeline", args.model, "bf16"), ("nerkit PyTorch bf16", "nerkit", args.model, "bf16")]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    load = os.getloadavg()
    print(f"{len(texts)} sentences, {args.threads} threads, native bf16: {native_bf16('cpu')}, "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| engine | sentences/s (whole process) | sentences/s (tagging) | vs pipeline fp32 (whole process) "
          "| start-up s | one-sentence `nerkit predict` s | peak RSS MB | raw-text F1 |\n|---|---|---|---|---|---|---|---|")
    runs: dict[str, list[dict]] = {name: [] for name, *_ in rows}
    for _ in range(args.rounds):  # rows interleaved, so that a slow spell of the machine hits every row
        for name, kind, model, precision in rows:
            runs[name].append(measure(kind, model, precision, texts_path, args.batch_size, env))
    base = None
    for name, kind, model, precision in rows:
        speeds = sorted(len(texts) / r["wall_seconds"] for r in runs[name])
        r = median_run(runs[name])
        f1 = prf(gold, [set(map(tuple, p)) for p in r["pred"]])["f1"]
        speed = statistics.median(speeds)
        base = base or speed
        one = one_sentence_seconds(model, args.repeat, env) if kind == "nerkit" else None
        spread = f" ({speeds[0]:.0f}-{speeds[-1]:.0f})" if len(speeds) > 1 else ""
        print(f"| {name} | {speed:.1f}{spread} | {len(texts) / r['tagging_seconds']:.1f} | {speed / base:.2f}x "
              f"| {r['startup_seconds']:.2f} | {f'{one:.2f}' if one else '-'} | {r['peak_rss_mb']:.0f} | {f1:.4f} |",
              flush=True)
    for path in (int8, int8_tensor):
        q = json.loads(Path(path, "nerkit.json").read_text())["quantization"]
        print(f"\nint8 check ({'per channel' if q['per_channel'] else 'per tensor'}) on {q['check_data']}: "
              f"F1 fp32 {q['f1_fp32']:.4f}, int8 {q['f1_int8']:.4f}, drop {q['f1_drop']:.4f}"
              + (" (over the limit: written with force)" if q["forced"] else ""))
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
