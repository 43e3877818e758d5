"""Scale-out on one machine: `nerkit predict` in one process against Ray Data (1 and 2 actors) and Spark
(local[1] and local[2]), every worker one thread; throughput, start-up, peak memory, records compared.

    python benchmarks/scale_out.py /work/models/softmax-42 /work/models/scale/softmax-42-int8 [--texts 20000]

Inputs: the CoNLL-2003 test sentences as raw text (words joined by spaces), repeated to --texts, as Parquet
files of --chunk rows each ({id, text}; Ray reads them as blocks, Spark as one partition per file) and as one
JSON Lines file for `nerkit predict --chunk-size CHUNK`. So every arm hands the Tagger the same texts per
call: dynamic int8 quantizes each forward pass by its own activations, and bf16 rounds by batch width, so
outputs equal each other only when the calls hold the same texts (fp32 PyTorch differs at most in noise).
Every arm is a whole process of its own (engine start-up, worker start-up and model loading included) writing
its output (JSON Lines or a Parquet folder), run twice: on --small texts and on --texts. The difference gives
the marginal throughput (texts/s once running), and start-up is the small run's time less its texts at that
rate (wall time, and CPU time of all the arm's processes). Per-worker efficiency also comes from the CPU
time of the processes that tag (the `nerkit predict` process, Ray's actors, Spark's Python workers), which a
busy machine disturbs less than wall time (a worker waiting for a core spends wall time, not CPU time). Peak
memory is the sum of the proportional set size (Pss) over those processes (driver, Ray's raylet and actors, Spark's
JVM and Python workers), sampled every 0.2 s. The load average is printed with every figure: the machine's 2
cores are shared, so compare figures taken at similar load. Ray gets 3 logical CPUs: 2 actors holding 2 would
leave none for Ray Data's read and write tasks, and the job would wait for ever (on a cluster too: leave CPUs
beside the actors).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
ARMS = {"predict": ("nerkit predict, 1 process", 1), "ray-1": ("Ray Data, 1 actor", 1),
        "ray-2": ("Ray Data, 2 actors", 2), "spark-1": ("Spark local[1]", 1), "spark-2": ("Spark local[2]", 2)}


def write_inputs(work: Path, texts: list[str], n: int, chunk: int) -> Path:
    """work/input-N/part-XXXXX.parquet (one file per chunk) and work/input-N.jsonl, ids 0..N-1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = work / f"input-{n}"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        rows = [{"id": i, "text": texts[i % len(texts)]} for i in range(n)]
        for start in range(0, n, chunk):
            pq.write_table(pa.Table.from_pylist(rows[start:start + chunk]), folder / f"part-{start // chunk:05d}.parquet")
        with open(f"{folder}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return folder


def tagger_options(model: str) -> dict:
    return {} if (Path(model) / "model.onnx").is_file() else {"device": "cpu", "precision": "fp32"}


def run_arm(arm: str, model: str, folder: Path, out: Path, chunk: int) -> None:
    """One arm, in this process: what a user runs."""
    options, workers = tagger_options(model), ARMS[arm][1]
    if arm == "predict":
        from nerkit.prediction import predict_to

        flags = {"device": options.get("device", "auto"), "precision": options.get("precision", "auto")}
        predict_to(model, input=f"{folder}.jsonl", output=str(out), chunk_size=chunk, progress=False, **flags)
    elif arm.startswith("ray"):
        import ray

        import nerkit.integrations.ray as nr

        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)  # a slot beyond the actors for reads/writes
        ray.data.DataContext.get_current().enable_progress_bars = False
        dataset = ray.data.read_parquet(str(folder))
        nr.tag(dataset, model, concurrency=workers, num_cpus=1, batch_size=chunk, **options).write_parquet(str(out))
        ray.shutdown()
    else:
        from pyspark.sql import SparkSession

        import nerkit.integrations.spark as ns

        spark = (SparkSession.builder.master(f"local[{workers}]").config("spark.ui.enabled", "false")
                 .config("spark.pyspark.python", sys.executable).getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        ns.tag(spark.read.parquet(str(folder)), model, batch_size=chunk, **options).write.parquet(str(out))
        spark.stop()


class ArmProcesses:
    """The processes of one arm: every process whose environment carries the arm's mark, so that Ray workers
    that a double fork hands to init still count."""

    def __init__(self, mark: str):
        self.mark, self.members, self.checked = f"NERKIT_SCALE_ARM={mark}".encode(), set(), set()

    def stats(self) -> dict[int, list[str]]:
        """pid -> /proc/pid/stat fields after the command name, for the arm's live processes."""
        for pid in {int(e) for e in os.listdir("/proc") if e.isdigit()} - self.checked:
            self.checked.add(pid)
            try:
                with open(f"/proc/{pid}/environ", "rb") as environ:
                    if self.mark in environ.read().split(b"\0"):
                        self.members.add(pid)
            except OSError:
                pass
        stats = {}
        for pid in self.members:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    stats[pid] = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                pass
        return stats


def is_worker(pid: int, arm_pid: int, arm: str) -> bool:
    """The processes that tag: the arm itself for `nerkit predict`, Ray's actors, Spark's Python workers."""
    if arm == "predict":
        return pid == arm_pid
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().decode(errors="replace")
    except OSError:
        return False
    return "MapWorker(MapBatches(TagBatch))" in command or "pyspark.daemon" in command or "pyspark.worker" in command


def pss_mb(pids) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except OSError:
            pass
    return total / 1024


def timed(arm: str, model: str, folder: Path, out: Path, chunk: int) -> dict:
    """Wall time, CPU time and peak Pss of all of one arm's processes, one thread per worker."""
    mark = f"{arm}-{time.time_ns()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "RAY_USAGE_STATS_ENABLED": "0", "PYSPARK_PYTHON": sys.executable, "NERKIT_SCALE_ARM": mark}
    load = os.getloadavg()[0]
    command = [sys.executable, __file__, "--arm", arm, model, "--input", str(folder), "--output", str(out),
               "--chunk", str(chunk)]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    peak, ticks, done = [0.0], {}, threading.Event()

    workers, processes = set(), ArmProcesses(mark)

    def sample():  # CPU ticks (utime + stime) last seen per process: a process that ends keeps its last figure
        while not done.wait(0.2):
            tree = processes.stats()
            ticks.update({pid: int(fields[11]) + int(fields[12]) for pid, fields in tree.items()})
            workers.update(pid for pid in tree if pid not in workers and is_worker(pid, child.pid, arm))
            peak[0] = max(peak[0], pss_mb(tree))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = child.stderr.read()
    child.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode:
        raise RuntimeError(f"{arm} failed:\n{stderr.decode()[-3000:]}")
    tick = os.sysconf("SC_CLK_TCK")
    return {"seconds": round(seconds, 1), "cpu_seconds": round(sum(ticks.values()) / tick, 1),
            "worker_cpu_seconds": round(sum(ticks.get(pid, 0) for pid in workers) / tick, 1),
            "peak_pss_mb": round(peak[0]), "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1)}


def records(path: Path) -> dict[int, list]:
    """id -> entities, from a JSON Lines file or a Parquet folder."""
    if path.is_dir():
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["id", "entities", "error"])
        assert not any(table.column("error").to_pylist()), f"{path}: error rows"
        return dict(zip(table.column("id").to_pylist(), table.column("entities").to_pylist()))
    with open(path, encoding="utf-8") as lines:
        return {row["id"]: row["entities"] for row in map(json.loads, lines)}


def compare(reference: dict, other: dict) -> dict:
    """Records that differ, and how many of those differ in more than their scores."""
    assert reference.keys() == other.keys(), "different rows"
    differ = [i for i in reference if reference[i] != other[i]]
    spans = [i for i in differ if [{k: e[k] for k in ("label", "start", "end")} for e in reference[i]]
             != [{k: e[k] for k in ("label", "start", "end")} for e in other[i]]]
    return {"records_differing": len(differ), "records_with_other_spans": len(spans)}


def measure(model: str, work: Path, texts: list[str], sizes: tuple[int, int], chunk: int, arms: list[str]) -> dict:
    name = Path(model).name
    results = {}
    for arm in arms:
        runs = {}
        for n in sizes:
            folder = write_inputs(work, texts, n, chunk)
            out = work / f"{name}-{arm}-{n}" if arm != "predict" else work / f"{name}-{arm}-{n}.jsonl"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            runs[n] = timed(arm, model, folder, out, chunk)
            print(f"{name} {ARMS[arm][0]}, {n} texts: {runs[n]}", flush=True)
        small, large = sizes
        rate = (large - small) / max(runs[large]["seconds"] - runs[small]["seconds"], 1e-9)
        cpu_rate = (large - small) / max(runs[large]["cpu_seconds"] - runs[small]["cpu_seconds"], 1e-9)
        worker_rate = (large - small) / max(runs[large]["worker_cpu_seconds"] - runs[small]["worker_cpu_seconds"], 1e-9)
        results[arm] = {"runs": runs, "texts_per_second": round(rate, 1),
                        "texts_per_worker_cpu_second": round(worker_rate, 1),
                        "startup_seconds": round(runs[small]["seconds"] - small / rate, 1),
                        "texts_per_cpu_second": round(cpu_rate, 1),
                        "startup_cpu_seconds": round(runs[small]["cpu_seconds"] - small / cpu_rate, 1),
                        "whole_process_texts_per_second": round(large / runs[large]["seconds"], 1),
                        "peak_pss_mb": max(r["peak_pss_mb"] for r in runs.values())}
    reference = records(work / f"{name}-predict-{sizes[1]}.jsonl") if "predict" in arms else None
    for arm in arms:
        if reference is not None and arm != "predict":
            out = work / f"{name}-{arm}-{sizes[1]}"
            results[arm]["against_predict"] = compare(reference, records(out))
        print(f"{name} {ARMS[arm][0]}: {json.dumps({k: v for k, v in results[arm].items() if k != 'runs'})}",
              flush=True)
    return results


def table(name: str, results: dict) -> str:
    base = results.get("predict")
    lines = [f"{name}:", "| arm | texts/s running | per worker vs `nerkit predict` (wall / worker CPU) | texts per "
             "worker CPU-s | start-up s (wall / CPU) | texts/s whole process | peak Pss MB | records "
             "differing | load before-after (small / large run) |", "|---|---|---|---|---|---|---|---|---|"]
    for arm, f in results.items():
        per_worker = f"{f['texts_per_second'] / ARMS[arm][1] / base['texts_per_second']:.2f}x / " \
            f"{f['texts_per_worker_cpu_second'] / base['texts_per_worker_cpu_second']:.2f}x" if base else "-"
        same = f.get("against_predict", {}).get("records_differing", "-")
        loads = " / ".join(f"{r['load_before']}-{r['load_after']}" for r in f["runs"].values())
        lines.append(f"| {ARMS[arm][0]} | {f['texts_per_second']} | {per_worker} | {f['texts_per_worker_cpu_second']} | "
                     f"{f['startup_seconds']} / {f['startup_cpu_seconds']} | {f['whole_process_texts_per_second']} | "
                     f"{f['peak_pss_mb']} | {same} | {loads} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="run folders or ONNX export folders")
    parser.add_argument("--texts", type=int, default=20000)
    parser.add_argument("--small", type=int, default=2000, help="texts of the run that measures start-up")
    parser.add_argument("--chunk", type=int, default=1000, help="texts per Tagger call in every arm")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--work", default="/tmp/nerkit-scale-out")
    parser.add_argument("--arm", choices=list(ARMS), help=argparse.SUPPRESS)  # internal: run one arm here
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        return run_arm(args.arm, args.models[0], Path(args.input), Path(args.output), args.chunk)
    from corpus_predict import sentences

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    texts, report = sentences(), {}
    print(f"{len(texts)} test sentences, {args.texts} texts, chunks of {args.chunk}, {os.cpu_count()} CPUs", flush=True)
    for model in args.models:
        report[model] = measure(model, work, texts, (args.small, args.texts), args.chunk, args.arms)
        print(table(model, report[model]), flush=True)
    (work / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
