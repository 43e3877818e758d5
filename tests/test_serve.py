"""`nerkit serve`: the API against a server started on a free loopback port, the batcher, the page in a
headless browser, and the command line."""

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi", reason="nerkit serve needs FastAPI: pip install 'nerkit[serve]'")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from nerkit.inference.tagger import Tagger  # noqa: E402
from nerkit.metadata import RunMetadata  # noqa: E402
from nerkit.serve import bind  # noqa: E402
from nerkit.serve.app import Limits, create_app  # noqa: E402
from nerkit.serve.batcher import Batcher  # noqa: E402

from conftest import ROOT  # noqa: E402


def post(url, **options):
    return httpx.post(url, timeout=120, **options)  # generous: the test machine may be busy


def get(url):
    return httpx.get(url, timeout=120)


class Server:
    """uvicorn serving `app` in a thread on a free loopback port, shut down gracefully on exit."""

    def __init__(self, app):
        self.socket = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "the test server did not stop"


class FakeTagger:
    """Capitalised words are PER, `Paris` is LOC; a text containing `boom` fails; `gate` holds predict."""

    labels = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    metadata = RunMetadata(labels, base_model="fake-bert", max_length=128, context="sentence")
    device = "cpu"

    def __init__(self, gate: threading.Event | None = None):
        self.gate, self.started, self.calls = gate, threading.Event(), []

    def predict(self, texts):
        self.calls.append(list(texts))
        self.started.set()
        if self.gate is not None:
            self.gate.wait(30)
        if any("boom" in text for text in texts):
            raise RuntimeError("boom")
        return [{"text": text, "entities": [
            {"label": "LOC" if m.group() == "Paris" else "PER", "start": m.start(), "end": m.end(),
             "text": m.group(), "score": 0.875} for m in re.finditer(r"[A-Z]\w+", text)]} for text in texts]


@pytest.fixture(scope="module")
def tagger(trained_run):
    return Tagger.load(str(trained_run), precision="fp32", batch_size=8)


@pytest.fixture(scope="module")
def served(tagger, trained_run):
    limits = Limits(max_texts=4, max_chars=100, max_body_bytes=2000)
    with Server(create_app(tagger, str(trained_run), limits, batch_texts=16, max_wait_ms=20)) as server:
        yield server


@pytest.fixture(scope="module")
def fake_served():
    with Server(create_app(FakeTagger(), None, Limits(max_texts=4, max_chars=200))) as server:
        yield server


TEXTS = ["Anna Smith visited Paris.", "", "The Acme Corp team won in Tokyo .\tJohn said so.", "Berlin, Monday."]


def test_predict_returns_the_records_of_tagger_predict(served, tagger):
    response = post(f"{served.url}/predict", json={"texts": TEXTS})
    assert response.status_code == 200
    assert response.json() == tagger.predict(TEXTS)


def test_predict_accepts_json_without_a_json_content_type(served, tagger):
    """What `curl -d '{"texts": [...]}'` sends (application/x-www-form-urlencoded)."""
    response = post(f"{served.url}/predict", content=json.dumps({"texts": TEXTS[:1]}),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json() == tagger.predict(TEXTS[:1])


def test_concurrent_requests_each_get_their_own_answer(served, tagger):
    texts = [[f"{name} visited {place} on Monday ."] for name in ("Anna", "John", "Smith", "Acme")
             for place in ("Paris", "Berlin", "Tokyo")]
    barrier = threading.Barrier(len(texts))
    answers = [None] * len(texts)

    def client(i):
        barrier.wait()
        answers[i] = post(f"{served.url}/predict", json={"texts": texts[i]}).json()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [tagger.predict(t) for t in texts]


BAD_REQUESTS = [
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe\x00", 400, "not valid JSON"),
    (b"", 400, "not valid JSON"),
    (b'["Anna"]', 422, "expected a JSON object"),
    (b'{"text": ["Anna"]}', 422, "missing field `texts` (a list of strings); got keys: text"),
    (b'{}', 422, "missing field `texts` (a list of strings); got keys: none"),
    (b'{"texts": "Anna"}', 422, '"texts" must be an array of strings, got a string'),
    (b'{"texts": ["Anna", 3]}', 422, "texts[1] must be a string, got a number"),
    (b'{"texts": [null]}', 422, "texts[0] must be a string, got null"),
    (b'{"texts": ["Anna"], "model": "x"}', 422, "unknown fields ['model']"),
    (b'{"texts": ["\\ud800"]}', 422, "texts[0] is not valid Unicode"),
    (json.dumps({"texts": ["a"] * 5}).encode(), 413, "5 texts in one request; the limit is 4"),
    (json.dumps({"texts": ["ok", "x" * 101]}).encode(), 413, "texts[1] has 101 characters; the limit is 100"),
    (json.dumps({"texts": [" " * 2000]}).encode(), 413, "exceeds the limit of 2000 bytes"),
]


@pytest.mark.parametrize("body, status, message", BAD_REQUESTS, ids=[m for _, _, m in BAD_REQUESTS])
def test_every_bad_request_gets_its_4xx_with_a_json_message(served, body, status, message):
    response = post(f"{served.url}/predict", content=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_a_body_over_the_cap_is_refused_also_when_sent_in_chunks(served):
    """No content-length: the body is counted as it arrives."""
    response = post(f"{served.url}/predict", content=iter([b'{"texts": ["', b" " * 1500, b" " * 1500, b'"]}']))
    assert response.status_code == 413 and "exceeds the limit of 2000 bytes" in response.json()["error"]


def test_requests_at_the_limits_are_served(served):
    response = post(f"{served.url}/predict", json={"texts": ["Anna " * 20] * 4})
    assert response.status_code == 200 and len(response.json()) == 4
    assert post(f"{served.url}/predict", json={"texts": []}).json() == []


def test_unknown_routes_and_methods_answer_json(served):
    assert get(f"{served.url}/nope").json() == {"error": "Not Found"}
    response = get(f"{served.url}/predict")
    assert response.status_code == 405 and "error" in response.json()


def test_health_and_info_describe_the_model_and_limits(served, tagger):
    assert get(f"{served.url}/health").json()["status"] == "ok"
    info = get(f"{served.url}/info").json()
    assert info["labels"] == tagger.labels and info["entity_types"] == ["LOC", "MISC", "ORG", "PER"]
    assert info["base_model"] == tagger.metadata.base_model and info["max_length"] == 64
    assert info["context"] == "sentence" and info["limits"]["max_texts"] == 4
    assert info["head"] == "softmax" and info["decoding"] == "viterbi"  # the stored choice (nerkit.json)
    assert set(info["metrics"]) >= {"validation", "test"}  # the run's metrics.json


def test_the_page_is_self_contained_with_a_legend_of_the_model_types(served):
    page = get(f"{served.url}/").text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # no external assets
    assert re.findall(r'<span class="swatch" data-label="(\w+)">', page) == ["LOC", "MISC", "ORG", "PER"]
    assert '[data-label="PER"] { --c: #f9b4b4; }' in page and 'data-max-chars="100"' in page


def test_a_failing_request_gets_a_500_and_the_server_carries_on(fake_served):
    failed = post(f"{fake_served.url}/predict", json={"texts": ["boom"]})
    assert failed.status_code == 500 and "tagging failed (RuntimeError)" in failed.json()["error"]
    assert post(f"{fake_served.url}/predict", json={"texts": ["Anna"]}).json()[0]["entities"][0]["text"] == "Anna"


def test_graceful_shutdown_finishes_requests_in_flight():
    gate = threading.Event()
    fake = FakeTagger(gate)
    answer = {}
    with Server(create_app(fake, None)) as server:
        client = threading.Thread(target=lambda: answer.update(
            response=post(f"{server.url}/predict", json={"texts": ["Anna left."]})))
        client.start()
        assert fake.started.wait(30)  # the request is in the model now
        server.server.should_exit = True
        time.sleep(0.3)  # uvicorn starts closing; the request is still held
        gate.set()
        client.join(60)
    assert answer["response"].status_code == 200
    assert answer["response"].json()[0]["entities"][0]["text"] == "Anna"


# The batcher, without HTTP.

def run(coroutine):
    return asyncio.run(coroutine)


def test_batcher_gathers_concurrent_requests_into_one_model_call():
    fake = FakeTagger()

    async def scenario():
        batcher = Batcher(fake.predict, max_texts=64, max_wait_ms=50)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit([f"Text {i}", "x"]) for i in range(10)))
        await batcher.stop()
        return results

    results = run(scenario())
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 20
    assert [r[0]["text"] for r in results] == [f"Text {i}" for i in range(10)]
    assert [r[0]["entities"][0]["text"] for r in results] == ["Text"] * 10


def test_batcher_takes_whole_requests_up_to_max_texts():
    fake = FakeTagger()

    async def scenario():
        batcher = Batcher(fake.predict, max_texts=5, max_wait_ms=50)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit([str(i)] * size) for i, size in enumerate([2, 2, 2, 7, 1])))
        await batcher.stop()
        return results

    results = run(scenario())
    assert [len(call) for call in fake.calls] == [4, 2, 7, 1]
    assert [[r["text"] for r in result] for result in results] == [[str(i)] * n for i, n in enumerate([2, 2, 2, 7, 1])]


def test_batcher_failure_fails_only_the_failing_request():
    fake = FakeTagger()

    async def scenario():
        batcher = Batcher(fake.predict, max_texts=64, max_wait_ms=50)
        await batcher.start()
        results = await asyncio.gather(batcher.submit(["Anna"]), batcher.submit(["boom"]), batcher.submit(["Paris"]),
                                       return_exceptions=True)
        after = await batcher.submit(["John"])
        await batcher.stop()
        return results, after

    (anna, boom, paris), after = run(scenario())
    assert isinstance(boom, RuntimeError)
    assert anna[0]["entities"][0]["label"] == "PER" and paris[0]["entities"][0]["label"] == "LOC"
    assert after[0]["text"] == "John"
    assert fake.calls[0] == ["Anna", "boom", "Paris"]  # one batch failed, then each request alone


def test_batcher_stop_finishes_what_was_queued():
    fake = FakeTagger()

    async def scenario():
        batcher = Batcher(fake.predict, max_texts=1, max_wait_ms=0)
        await batcher.start()
        pending = [asyncio.ensure_future(batcher.submit([f"T{i}"])) for i in range(3)]
        await asyncio.sleep(0)
        await batcher.stop()
        return [p.result() for p in pending]

    assert [r[0]["text"] for r in run(scenario())] == ["T0", "T1", "T2"]


# The page in a real browser.

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium(*args, user_data_dir):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={user_data_dir}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (Debian: apt-get install chromium)")
def test_page_in_headless_chromium_highlights_entities_in_place(fake_served, tmp_path):
    """The page tags `?text=` on load; after its script ran, the DOM has one <mark> per entity at the right
    place (offsets in code points: an emoji comes first), and markup in the text stays text."""
    text = '😀 <img src=x onerror="document.title=1"> Anna met John in Paris &amp; left.'
    result = chromium("--dump-dom", "--virtual-time-budget=10000", f"{fake_served.url}/?text={quote(text)}",
                      user_data_dir=tmp_path / "profile")
    dom = result.stdout
    assert '<div id="result" class="doc">' in dom, result.stderr[-2000:]
    marks = re.findall(r'<mark class="ent" data-label="(\w+)" title="([^"]*)">([^<]*)</mark>', dom)
    assert marks == [("PER", "PER 0.88", "Anna"), ("PER", "PER 0.88", "John"), ("LOC", "LOC 0.88", "Paris")]
    shown = re.search(r'<div id="result" class="doc">(.*?)</div>', dom, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", shown) == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert "<img" not in dom and "3 entities" in dom


# The command line.

def test_cli_serve_answers_and_stops_on_sigint(trained_run, tagger):
    port = bind("127.0.0.1", 0)
    number = port.getsockname()[1]
    port.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "nerkit.cli", "serve", str(trained_run), "--port", str(number),
                                "--precision", "fp32"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url, deadline = f"http://127.0.0.1:{number}", time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if get(f"{url}/health").status_code == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()[-3000:]
            time.sleep(0.2)
        assert post(f"{url}/predict", json={"texts": TEXTS}).json() == tagger.predict(TEXTS)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = process.stdout.read().decode()
    assert "Application shutdown complete" in log and "Traceback" not in log


def test_cli_serve_a_port_in_use_is_a_one_line_error(trained_run, capsys):
    from nerkit.cli import main

    taken = bind("127.0.0.1", 0)
    try:
        assert main(["serve", str(trained_run), "--port", str(taken.getsockname()[1])]) == 2
    finally:
        taken.close()
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
