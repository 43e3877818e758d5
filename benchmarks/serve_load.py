"""Load test of `nerkit serve` on loopback against in-process `Tagger.predict` on the same sentences.

    python benchmarks/serve_load.py /work/models/minilm-400 --sentences 1500 --clients 1 8 32

Sentences are the CoNLL-2003 test sentences, words joined by spaces, one sentence per request (the
hardest case for batching). The reference is `Tagger.predict` on all of them at once in this process,
as `nerkit predict --input file` runs them (start-up excluded). Then `nerkit serve` is started in its
own process and, for each client count, that many asyncio clients (one keep-alive connection each; a
minimal HTTP/1.1 client by default, `--client httpx` for httpx) send the sentences until all are tagged or `--time-limit` seconds have passed. The clients run
on the same machine and take CPU from the server: on a 2-core machine that is a real share.
Both sides use `--threads` torch threads. Prints a Markdown table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"


def read_sentences(path: Path, limit: int) -> list[str]:
    sentences, words = [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append(" ".join(words))
                words = []
        else:
            words.append(line.split()[0])
    return sentences[:limit]


def reference(model: str, sentences: list[str], args) -> dict:
    import torch
    import nerkit

    torch.set_num_threads(args.threads)
    tagger = nerkit.load(model, batch_size=args.reference_batch_size, precision=args.precision)
    tagger.predict(sentences[:64])  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    results = tagger.predict(sentences)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "sentences_per_s": len(sentences) / seconds, "cpu_s": time.process_time() - cpu,
            "entities": sum(len(r["entities"]) for r in results), "results": results}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def model_calls(port: int) -> int:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=60).json()["batches"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, args) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    command = [sys.executable, "-m", "nerkit.cli", "serve", model, "--port", str(port), "--batch-size",
               str(args.batch_size), "--batch-texts", str(args.batch_texts), "--max-wait-ms", str(args.max_wait_ms),
               "--precision", args.precision]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.5)
        if server.poll() is not None:
            raise SystemExit(f"nerkit serve exited with {server.returncode}")
    server.kill()
    raise SystemExit("nerkit serve did not start within 300 s")


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: a fraction of httpx's CPU per request, which
    on a 2-core machine is CPU the server gets back. Enough for this server's fixed-length JSON answers."""

    def __init__(self, port: int):
        self.port, self.streams = port, None

    async def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        body = json.dumps(payload).encode()
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        return status, await reader.readexactly(length)

    async def close(self):
        if self.streams is not None:
            self.streams[1].close()


async def load(port: int, sentences: list[str], clients: int, time_limit: float, kind: str = "raw") -> dict:
    import httpx

    queue = iter(enumerate(sentences))
    latencies, answers = [], {}
    deadline = time.monotonic() + time_limit

    async def client(http):
        for i, sentence in queue:
            if time.monotonic() > deadline:
                return
            sent = time.perf_counter()
            if kind == "raw":
                status, body = await http.post("/predict", {"texts": [sentence]})
            else:
                response = await http.post(f"http://127.0.0.1:{port}/predict", json={"texts": [sentence]})
                status, body = response.status_code, response.content
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
            answers[i] = json.loads(body)[0]

    start = time.perf_counter()
    if kind == "raw":
        raw = [RawClient(port) for _ in range(clients)]
        await asyncio.gather(*(client(http) for http in raw))
        for http in raw:
            await http.close()
    else:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=120) as http:
            await asyncio.gather(*(client(http) for _ in range(clients)))
    seconds = time.perf_counter() - start
    latencies.sort()
    return {"clients": clients, "requests": len(latencies), "seconds": seconds,
            "requests_per_s": len(latencies) / seconds, "sentences_per_s": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], "answers": answers}


def _spans(result: dict) -> list[tuple]:
    return [(e["label"], e["start"], e["end"]) for e in result["entities"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sentences", type=int, default=1500, help="the first N test sentences")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--time-limit", type=float, default=60, help="seconds per client count")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, reference and server alike")
    parser.add_argument("--reference-batch-size", type=int, default=64, help="as `nerkit predict` (its default)")
    parser.add_argument("--batch-size", type=int, default=8, help="server: sentences per forward pass")
    parser.add_argument("--batch-texts", type=int, default=64, help="server: texts gathered per model call")
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="raw: a minimal asyncio HTTP/1.1 client (least CPU taken from the server); httpx")
    parser.add_argument("--output", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    sentences = read_sentences(args.data, args.sentences)
    figures = {"load_before": os.getloadavg(), "sentences": len(sentences), "settings": vars(args) | {
        "data": str(args.data), "output": str(args.output)}}
    ref = reference(args.model, sentences, args)
    expected = ref.pop("results")
    figures["reference"] = ref
    print(f"reference: Tagger.predict on {len(sentences)} sentences: {ref['sentences_per_s']:.1f} sentences/s, "
          f"{ref['cpu_s']:.1f} CPU s in {ref['seconds']:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)

    port = free_port()
    server = start_server(args.model, port, args)
    try:
        asyncio.run(load(port, sentences[:64], 8, 60, args.client))  # warm-up
        figures["runs"] = []
        for clients in args.clients:
            client_cpu, server_cpu, calls = time.process_time(), cpu_seconds(server.pid), model_calls(port)
            run = asyncio.run(load(port, sentences, clients, args.time_limit, args.client))
            run["client_cpu_s"] = time.process_time() - client_cpu
            run["server_cpu_s"] = cpu_seconds(server.pid) - server_cpu
            run["texts_per_model_call"] = run["requests"] / (model_calls(port) - calls)
            answers = run.pop("answers")
            run["identical_to_reference"] = sum(answers[i] == expected[i] for i in answers) / len(answers)
            run["same_entities_as_reference"] = sum(_spans(answers[i]) == _spans(expected[i]) for i in answers) / len(answers)
            run["share_of_reference"] = run["sentences_per_s"] / ref["sentences_per_s"]
            run["load"] = os.getloadavg()
            figures["runs"].append(run)
            print(f"{clients} clients: {run['requests']} requests in {run['seconds']:.1f} s, "
                  f"{run['requests_per_s']:.1f} requests/s, p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms, "
                  f"{100 * run['share_of_reference']:.0f}% of the reference, same entities for "
                  f"{100 * run['same_entities_as_reference']:.1f}%; {run['texts_per_model_call']:.1f} texts per model call; CPU s client {run['client_cpu_s']:.1f}, server "
                  f"{run['server_cpu_s']:.1f} (load {run['load'][0]:.2f})", flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    after = reference(args.model, sentences, args)  # again: the machine's load may have changed meanwhile
    after.pop("results")
    figures["reference_after"] = after
    figures["load_after"] = os.getloadavg()
    print(f"reference again: {after['sentences_per_s']:.1f} sentences/s (load {os.getloadavg()[0]:.2f})")

    print("\n| clients | requests | requests/s = sentences/s | p50 latency | p99 latency | of Tagger.predict "
          "| CPU s: client / server / wall |")
    print("|---|---|---|---|---|---|---|")
    for run in figures["runs"]:
        print(f"| {run['clients']} | {run['requests']} | {run['requests_per_s']:.1f} | {run['p50_ms']:.0f} ms | "
              f"{run['p99_ms']:.0f} ms | {100 * run['share_of_reference']:.0f}% | {run['client_cpu_s']:.1f} / "
              f"{run['server_cpu_s']:.1f} / {run['seconds']:.1f} |")
    print(f"| Tagger.predict, one list (before / after) | {len(sentences)} | {ref['sentences_per_s']:.1f} / "
          f"{after['sentences_per_s']:.1f} | | | 100% | |")
    print(f"load average before {figures['load_before'][0]:.2f}, after {figures['load_after'][0]:.2f}")
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
