"""Corpus runs: documents tagged and written in chunks, in input order, shared by processes, resumable.

The input is cut into chunks of `chunk_size` documents; chunk i is tagged by process i % N (each process
reads the input and skips the others' chunks). A process appends its chunks to its own spool file,
`OUT.partial` (one process) or `OUT.partial-R-of-N`, and after each chunk, once the data is on disk
(fsync), appends the chunk's end offset to `SPOOL.index`, whose first line records the run's settings.
So the index always says how much of the spool is whole chunks: after a kill, `--resume` cuts a partly
written chunk off the spool and goes on with the next chunk; nothing is tagged twice or left out.
At the end process 0 puts the chunks together in input order into OUT through a temporary file and a
rename (a single process writing text just renames its spool), so OUT is either whole or absent.
Peak memory is one chunk, whatever the input size.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from ..formats.tables import InputRecord
from ..writing import atomic_write
from ..errors import CorpusError

logger = logging.getLogger(__name__)


@dataclass
class Sink:
    """How a chunk's output records become bytes in a spool, and how spooled chunks become the output."""
    encode: Callable[[list[dict[str, Any]]], bytes]
    merge: Callable[[Callable[[], Iterator[bytes]], str], None]
    concatenated: bool  # merging is plain concatenation (a single spool can be renamed into place)


def concatenate(chunks: Callable[[], Iterator[bytes]], path: str) -> None:
    with open(path, "wb") as out:
        for blob in chunks():
            out.write(blob)


def chunked(documents: Iterable[InputRecord], size: int) -> Iterator[list[InputRecord]]:
    documents = iter(documents)
    while chunk := list(islice(documents, size)):
        yield chunk


def tag_chunk(tag: Callable[[list[str]], list[dict]], chunk: list[InputRecord]) -> list[dict[str, Any]]:
    """Input records with `entities` added; error records (no text) stay as they are, in their place."""
    results = iter(tag([d.text for d in chunk if d.text is not None]))
    return [{**d.fields, "entities": next(results)["entities"]} if d.text is not None else d.fields for d in chunk]


class Spool:
    """One process's chunks appended to a file, and the index of its complete chunks."""

    def __init__(self, path: str, settings: dict[str, Any] | None = None, resume: bool = False):
        self.path, self.index = path, path + ".index"
        if settings is None:  # reading a finished spool
            self.offsets = self._complete(None)
            return
        if resume and os.path.exists(self.index):
            self.offsets = self._complete(settings)
            with open(self.path, "r+b") as data:
                data.truncate(self.offsets[-1] if self.offsets else 0)  # a partly written chunk is dropped
            atomic_write(self.index, "".join([json.dumps(settings) + "\n"] + [f"{o}\n" for o in self.offsets]))
            if self.offsets:
                logger.info("resuming %s after %d complete chunks", self.path, len(self.offsets))
        else:
            self.offsets = []
            atomic_write(self.index, json.dumps(settings) + "\n")
            open(self.path, "wb").close()
        self._data, self._index = open(self.path, "ab"), open(self.index, "ab")

    def _complete(self, settings: dict[str, Any] | None) -> list[int]:
        with open(self.index, "rb") as handle:
            lines = handle.read().split(b"\n")
        if settings is not None:
            check_same_settings(self.path, json.loads(lines[0]), settings)
        offsets = [int(line) for line in lines[1:-1]]  # what follows the last newline is an unfinished entry
        size = os.path.getsize(self.path) if os.path.exists(self.path) else -1
        if offsets and size < offsets[-1] or size < 0:
            raise CorpusError(f"{self.path} is shorter than its index says; delete it and {self.index} to start over")
        return offsets

    def append(self, blob: bytes) -> None:
        self._data.write(blob)
        self._data.flush()
        os.fsync(self._data.fileno())
        self.offsets.append((self.offsets[-1] if self.offsets else 0) + len(blob))
        self._index.write(b"%d\n" % self.offsets[-1])
        self._index.flush()
        os.fsync(self._index.fileno())

    def close(self) -> None:
        self._data.close()
        self._index.close()

    def chunk(self, k: int, handle) -> bytes:
        start = self.offsets[k - 1] if k else 0
        handle.seek(start)
        return handle.read(self.offsets[k] - start)

    def remove(self) -> None:
        for path in (self.path, self.index):
            if os.path.exists(path):
                os.remove(path)


def check_same_settings(path: str, before: dict[str, Any], settings: dict[str, Any]) -> None:
    """A run is resumed only with the settings it was started with."""
    if before != settings:
        changed = ", ".join(f"{key} {before.get(key)!r} (now {settings.get(key)!r})"
                            for key in sorted(set(before) | set(settings)) if before.get(key) != settings.get(key))
        raise CorpusError(f"cannot resume {path}: it was written with {changed}; run with the same "
                          "settings, or delete it to start over")


def spool_path(output: str, rank: int, world: int) -> str:
    return f"{output}.partial" if world == 1 else f"{output}.partial-{rank}-of-{world}"


def check_leftovers(output: str, world: int, resume: bool) -> None:
    """Partial output of an earlier run is never overwritten silently nor mixed with another layout."""
    found = {p for p in glob.glob(glob.escape(output) + ".partial*") if not p.endswith((".index", ".tmp"))}
    ours = {spool_path(output, rank, world) for rank in range(world)}
    if found and not resume and not any(_complete_chunks(path) for path in found):
        for path in found:  # killed before its first chunk: nothing to resume
            for name in (path, path + ".index"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(name)
        found = set()
    if found and not resume:
        raise CorpusError(f"{sorted(found)[0]} holds an interrupted run: pass --resume to continue it, "
                          "or delete it to start over")
    if found - ours:
        raise CorpusError(f"{sorted(found - ours)[0]} was written by a run with another number of processes; "
                          f"resume with that number (this run has {world}), or delete the partial files")


def _complete_chunks(spool: str) -> int:
    try:
        with open(spool + ".index", "rb") as handle:
            return max(handle.read().count(b"\n") - 1, 0)  # the settings line, then one line per chunk
    except FileNotFoundError:
        return 1  # a spool without its index: not ours to judge, so never removed


@dataclass
class Processes:
    rank: int = 0
    world: int = 1

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def processes() -> Processes:
    """This process's rank among those started by `accelerate launch` / torchrun (gloo for the barriers)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes()
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(days=7))  # a barrier waits for the slowest share
    return Processes(dist.get_rank(), dist.get_world_size())


def run_corpus(tag: Callable[[list[str]], list[dict]], documents: Iterable[InputRecord], output: str, sink: Sink,
               settings: dict[str, Any], chunk_size: int = 1000, resume: bool = False, total: int | None = None,
               group: Processes | None = None, progress: bool = True) -> None:
    """Tag this process's chunks into its spool; process 0 then writes OUT from all spools in order."""
    from tqdm.auto import tqdm

    group = group or Processes()
    check_leftovers(output, group.world, resume)
    group.barrier()  # every process has looked for leftovers before any creates its spool
    settings = {**settings, "chunk_size": chunk_size, "processes": group.world}
    spool = Spool(spool_path(output, group.rank, group.world), settings, resume)
    done = len(spool.offsets)
    try:
        with tqdm(total=total, unit="doc", desc="tagging", disable=not progress or group.rank != 0) as bar:
            for i, chunk in enumerate(chunked(documents, chunk_size)):
                if i % group.world == group.rank and i // group.world >= done:
                    spool.append(sink.encode(tag_chunk(tag, chunk)))
                bar.update(len(chunk))
    except BaseException:
        spool.close()
        if not spool.offsets:  # not one chunk to resume from: the same command simply starts again
            spool.remove()
            logger.warning("stopped before the first chunk of %s was written: nothing to resume, %s removed",
                           output, spool.path)
        raise
    spool.close()
    group.barrier()
    if group.rank == 0:
        merge(output, group.world, sink)


def merge(output: str, world: int, sink: Sink) -> None:
    spools = [Spool(spool_path(output, rank, world)) for rank in range(world)]
    order = []
    while len(order) < sum(len(s.offsets) for s in spools):
        rank, k = len(order) % world, len(order) // world
        if k >= len(spools[rank].offsets):
            raise CorpusError(f"{spools[rank].path} lacks chunk {len(order)}; resume the run to redo it")
        order.append((rank, k))
    if world == 1 and sink.concatenated:
        os.replace(spools[0].path, output)
    else:
        handles = [open(s.path, "rb") for s in spools]
        try:
            sink.merge(lambda: (spools[rank].chunk(k, handles[rank]) for rank, k in order), output + ".tmp")
        finally:
            for handle in handles:
                handle.close()
        os.replace(output + ".tmp", output)
    for spool in spools:
        spool.remove()
