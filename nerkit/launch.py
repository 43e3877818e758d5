"""Multi-process CPU training under `accelerate launch --cpu --num_processes N`.

accelerate's CPU launcher starts N processes only through MPI (`mpirun` and a host file); without MPI it
starts one process and the other N-1 never run. The same happens to `--num_processes N` without `--cpu` on
a machine without GPUs. When nerkit sees that situation (accelerate's launcher, a master address given, no
process group yet, and `--cpu` or no accelerator) it reads N from the launcher's command line and starts
the N processes itself with torch.distributed's launcher, which gives real data parallelism over gloo.
A failed process's own one-line error is the whole report: torch.distributed's summary is left out.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def requested_cpu_processes(environ=os.environ, parent_cmdline: list[str] | None = None,
                            accelerator: bool | None = None) -> int:
    """N from `accelerate launch --cpu --num_processes N` when accelerate itself started only one process, and
    from `--num_processes N` without `--cpu` on a machine without GPUs (accelerate then starts one process
    too, silently): both run as N CPU processes."""
    if "ACCELERATE_USE_CPU" not in environ or "WORLD_SIZE" in environ:
        return 1
    if environ["ACCELERATE_USE_CPU"].lower() not in ("true", "1") and (
            _has_accelerator() if accelerator is None else accelerator):
        return 1
    if "MASTER_ADDR" not in environ:  # accelerate sets it only when more than one process was asked for
        return 1
    args = parent_cmdline if parent_cmdline is not None else _parent_cmdline()
    for i, arg in enumerate(args):
        for flag in ("--num_processes", "--num-processes"):
            if arg == flag and i + 1 < len(args):
                return int(args[i + 1])
            if arg.startswith(flag + "="):
                return int(arg.split("=", 1)[1])
    return 1


def _has_accelerator() -> bool:
    import torch

    return torch.accelerator.is_available()


def _parent_cmdline() -> list[str]:
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def relaunch(module: str, argv: list[str], processes: int, environ=os.environ) -> int:
    """Run `python -m module argv` in `processes` processes with torch.distributed (gloo on CPU)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logger.info("starting %d CPU processes with torch.distributed (accelerate starts one without MPI)", processes)
    environ["ACCELERATE_USE_CPU"] = "true"  # also under `--num_processes N` without --cpu on a machine without GPUs
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the processes said what failed
    try:
        run(parse_args(["--nproc_per_node", str(processes), "--master_addr", environ["MASTER_ADDR"],
                        "--master_port", environ.get("MASTER_PORT", "29500"), "-m", module, *argv]))
    except ChildFailedError as err:
        return max(failure.exitcode for failure in err.failures.values()) or 1
    return 0
