"""Worker processes: forked from a warm forkserver, stopped together, killed one by one.

The forkserver imports PRELOAD before its first fork, so each worker starts with the
untrusted-input code (and the libraries under it) already imported and warm.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

import ingest
from ingest.errors import WorkerError
from ingest.workers.process import serve

# Modules by name, imported in the forkserver: what a worker runs (its loop, and the jobs
# the pipeline sends it) and the libraries under them. A constant, not a pool's argument:
# there is one forkserver per process, and the first pool to start it sets it for all.
# The warm-up comes last: it fills the extractor's lazy caches (the language model among
# them) and freezes the heap, so the workers share them.
PRELOAD = ["ingest.workers.process", "ingest.pipeline.jobs", "ingest.extract.page",
           "ingest.extract.feed", "ingest.footers.strip", "ingest.dedup.fingerprint",
           "trafilatura", "feedparser", "ingest.extract.warmup"]
STOP_WAIT = 2.0  # seconds an idle worker may take to exit once its pipe is closed


class Worker:
    """A worker process and our end of its pipe."""

    def __init__(self, process: BaseProcess, conn) -> None:
        self.process, self.conn = process, conn
        self.jobs = 0

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: a C loop (a regex backtracking) ignores the rest


def start_worker(ctx: ForkServerContext) -> Worker:
    """One more worker process; WorkerError if none can be started."""
    try:
        with _safe_path():  # the forkserver starts with the first fork
            return fork_worker(ctx)
    except (OSError, EOFError) as exc:
        raise WorkerError(
            f"workers: cannot start worker processes: {exc!r}; check the limits on "
            "processes and memory (ulimit -u, the container's pids limit)") from exc


def fork_worker(ctx: ForkServerContext) -> Worker:
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=serve, args=(theirs,), name="ingest-worker", daemon=True)
    try:
        process.start()
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the worker holds the only other end: its death is our EOF
    return Worker(process, ours)


def stop_all(workers: list[Worker]) -> None:
    """Let idle workers exit (their pipes close), together; kill those that do not."""
    for worker in workers:
        worker.conn.close()
    ends = time.monotonic() + STOP_WAIT
    for worker in workers:
        worker.process.join(max(0.0, ends - time.monotonic()))
        if worker.process.exitcode is None:
            worker.kill()
            worker.process.join()


def exit_reason(exitcode: int | None) -> str:
    if exitcode == -signal.SIGKILL:
        return "killed by SIGKILL: out of memory, or killed from outside"
    if exitcode is not None and exitcode < 0:
        return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


@contextlib.contextmanager
def _safe_path() -> Iterator[None]:
    """Child interpreters started meanwhile leave the current folder off sys.path.

    The forkserver is started as ``python -c ...``, which puts the current folder first
    on sys.path (Python 3.11 ignores the parent's path it is given), so an ``ingest/``
    there (another checkout) would be what the workers import. PYTHONSAFEPATH leaves it
    out, unless this process's own ingest comes from that folder (run from a checkout).
    """
    try:
        from_cwd = Path(ingest.__file__).resolve().parents[1] == Path.cwd().resolve()
    except OSError:  # a current folder that is gone is no source
        from_cwd = False
    if from_cwd:
        yield
        return
    before = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONSAFEPATH"]
        else:
            os.environ["PYTHONSAFEPATH"] = before
