"""Dynamic batching: texts from concurrent requests are tagged together in one model call.

    batcher = Batcher(tagger.predict, max_texts=64, max_wait_ms=5)
    await batcher.start()
    results = await batcher.submit(["George Washington went to Washington."])   # from any request handler
    await batcher.stop()                                                        # finishes what was queued

A request puts its texts in the queue and awaits a future. One loop on the event loop takes the first
waiting request, waits up to `max_wait_ms` for more to arrive (or until `max_texts` texts are queued),
and runs the model on all of them in one worker thread, off the event loop; while it runs, the next
requests queue up. The Tagger sorts the sentences of the call by length and cuts them into forward
passes of its own batch size, so each pass pads only to its longest sentence. Requests are taken whole
and in arrival order, so a request of more than `max_texts` texts is a call of its own. When a batch fails, each of its requests is retried alone, so only the request that
fails gets the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from . import Batching

logger = logging.getLogger(__name__)

Predict = Callable[[list[str]], list[dict[str, Any]]]


@dataclass
class _Request:
    texts: list[str]
    future: asyncio.Future = field(repr=False)


class Batcher:
    def __init__(self, predict: Predict, max_texts: int = Batching.batch_texts, max_wait_ms: float = Batching.max_wait_ms):
        if max_texts < 1 or max_wait_ms < 0:
            raise ValueError(f"max_texts must be >= 1 and max_wait_ms >= 0, got {max_texts}, {max_wait_ms}")
        self.predict, self.max_texts, self.max_wait = predict, max_texts, max_wait_ms / 1000
        self.model_calls = 0  # batches run, for /health and tests
        self._pending: deque[_Request] = deque()
        self._arrived: asyncio.Event | None = None
        self._closing = False
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def queued(self) -> int:
        return sum(len(r.texts) for r in self._pending)

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nerkit-model")
        self._task = asyncio.create_task(self._loop(), name="nerkit-batcher")

    async def stop(self) -> None:
        """Tag everything already queued, then stop the loop and the worker thread."""
        self._closing = True
        if self._task is not None:
            self._arrived.set()
            await self._task
            self._executor.shutdown(wait=True)
            self._task = None

    async def submit(self, texts: list[str]) -> list[dict[str, Any]]:
        if self._task is None or self._closing:
            raise RuntimeError("the batcher is not running")
        if not texts:
            return []
        request = _Request(list(texts), asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._arrived.set()
        return await request.future

    async def _loop(self) -> None:
        while True:
            while not self._pending:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
            await self._wait_for_more()
            await self._run(self._take())

    async def _wait_for_more(self) -> None:
        """Until `max_texts` texts are queued or `max_wait` has passed since the first one was taken up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while self.queued < self.max_texts and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Request]:
        """Whole requests in arrival order, up to `max_texts` texts (at least one request)."""
        batch, size = [], 0
        while self._pending and (not batch or size + len(self._pending[0].texts) <= self.max_texts):
            request = self._pending.popleft()
            if not request.future.done():  # a cancelled request (client gone) is not tagged
                batch.append(request)
                size += len(request.texts)
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        if not batch:
            return
        texts = [text for request in batch for text in request.texts]
        loop = asyncio.get_running_loop()
        self.model_calls += 1
        try:
            results = await loop.run_in_executor(self._executor, self.predict, texts)
            if len(results) != len(texts):
                raise RuntimeError(f"the model returned {len(results)} results for {len(texts)} texts")
        except Exception as err:
            if len(batch) > 1:  # find the request that fails: each alone
                for request in batch:
                    await self._run([request])
                return
            logger.exception("tagging a request of %d texts failed", len(texts))
            _settle(batch[0].future, error=err)
            return
        start = 0
        for request in batch:
            _settle(request.future, result=results[start:start + len(request.texts)])
            start += len(request.texts)


def _settle(future: asyncio.Future, result=None, error: BaseException | None = None) -> None:
    if future.done():  # cancelled while the batch ran
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
