"""A warm pool of worker processes for CPU-bound stages (extraction, feed parsing).

Workers are forked from a forkserver that has already imported trafilatura and
feedparser and filled trafilatura's lazy caches (ingest.worker_warmup), so each starts
in milliseconds, none re-imports them, and all share those caches' memory. Each worker
trims its heap every TRIM_EVERY jobs. The pool is
replaced after `max_tasks` jobs per worker to keep long-running memory flat (the
old one finishes its jobs and exits before the new workers fork, or RETIRE_WAIT
passes); we do not use ProcessPoolExecutor's own
`max_tasks_per_child`, which hangs the pool on Python 3.11 once workers are
replaced while jobs are queued. Nothing is
started until the first job, or until the pipeline polls a feed it has never polled
(`start_soon`): a poll where every known feed answers 304 or sends the same bytes
never pays for the forkserver's imports, and the event loop keeps downloading while
the forkserver starts (in a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ingest.errors import IngestError

# ingest.langid is left out: its model costs ~0.7 s and ~78 MB per process and is needed
# only for pages that declare no language in feeds that declare none.
# The last one fills the extractor's lazy caches and freezes the heap, so the workers share them.
_PRELOAD = ["ingest.extract", "ingest.feeds", "trafilatura", "feedparser", "ingest.worker_warmup"]
# glibc keeps the heap that a page's lxml trees freed (~10 MB a worker) until it is
# trimmed; a trim walks the heap (~3 ms), so it runs once every few jobs.
TRIM_EVERY = 10
RETIRE_WAIT = 30.0  # seconds a spent pool may take to finish its jobs before the next starts
_jobs_done = 0  # in this worker process


class WorkerPool:
    def __init__(self, workers: int = 0, *, max_tasks: int = 1000) -> None:
        self.size = workers or os.cpu_count() or 1
        self._max_tasks = max_tasks
        self._pool: ProcessPoolExecutor | None = None
        self._starting: asyncio.Future | None = None
        self._jobs = 0  # given to the current pool
        self._closed = False
        self._lock = threading.Lock()  # a start in a thread against close()

    def start(self) -> None:
        """Fork the workers; blocks until the forkserver has imported everything."""
        with self._lock:  # a close() meanwhile waits here instead of racing the pool's setup
            if self._closed:
                raise IngestError("workers: the worker pool was closed")
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            try:
                with _safe_path():  # the forkserver starts with the first pool's first job
                    pool = ProcessPoolExecutor(self.size, mp_context=ctx)
                    for _ in range(self.size):  # fork the workers now, while feeds download
                        pool.submit(os.getpid)
            except (OSError, EOFError, BrokenProcessPool) as exc:
                raise IngestError(f"workers: cannot start worker processes: {exc!r}") from exc
            if self._closed:  # closed while starting (`start_soon`): nobody else would stop it
                pool.shutdown(wait=True, cancel_futures=True)
                raise IngestError("workers: the worker pool was closed")
            self._pool, self._jobs = pool, 0

    def start_soon(self) -> None:
        """Start the workers in the background now, as a job is sure to come (the event
        loop's thread only). A failure is raised to the first job that waits for them."""
        if self._pool is None and self._starting is None and not self._closed:
            self._begin(self.start)

    async def run(self, func, *args):
        """Run ``func(*args)`` in a worker; exceptions it raises come back as they are."""
        pool = await self._current_pool()
        self._jobs += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _job, func, *args)
        except BrokenProcessPool as exc:
            # A worker died (out of memory, killed): start a fresh pool for the next job.
            if self._pool is pool:
                self._pool, self._starting = None, None
            raise IngestError(f"workers: a worker process died ({exc})") from exc

    async def _current_pool(self) -> ProcessPoolExecutor:
        """The pool for the next job: started off the event loop, replaced when spent."""
        while True:
            if self._pool is not None and self._jobs >= self._max_tasks * self.size:
                self._retire()
            if self._pool is not None:
                return self._pool
            if self._starting is None:
                self._begin(self.start)
            try:
                await asyncio.shield(self._starting)
            except IngestError:
                self._starting = None  # the next job tries again
                raise

    def _retire(self) -> None:
        """Hand new jobs to a fresh pool, started once the old one has finished its queue."""
        old, self._pool = self._pool, None
        self._begin(self._replace, old)

    def _begin(self, start, *args) -> None:
        """Run ``start`` (it blocks) in a thread; jobs wait for it in `_current_pool`."""
        self._starting = asyncio.get_running_loop().run_in_executor(None, start, *args)
        # Retrieved here so that a failure nobody waits for is not logged as lost.
        self._starting.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _replace(self, old: ProcessPoolExecutor) -> None:
        # Forked beside the old workers, the new ones would double the pool's memory while
        # the old finish (a 20,000-article run peaked at 288 MB PSS that way). A job that
        # never ends must not stop the pool, hence the bound on the wait.
        waiting = threading.Thread(target=old.shutdown, kwargs={"wait": True}, daemon=True)
        waiting.start()
        waiting.join(RETIRE_WAIT)
        self.start()  # closed meanwhile: no workers to fork, the waiting jobs fail

    def close(self) -> None:
        self._closed = True
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _safe_path() -> Iterator[None]:
    """Child interpreters started meanwhile leave the current folder off sys.path.

    The forkserver is started as ``python -c ...``, which puts the current folder first
    on sys.path (Python 3.11 ignores the parent's path it is given), so an ``ingest/``
    there (another checkout) would be what the workers import. PYTHONSAFEPATH leaves it
    out, unless this process's own ingest comes from that folder (run from a checkout).
    """
    try:
        from_cwd = Path(__file__).resolve().parents[1] == Path.cwd().resolve()
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


def _job(func, *args):
    """One job, in a worker process; every TRIM_EVERY jobs, freed heap goes back to the OS."""
    global _jobs_done
    try:
        return func(*args)
    finally:
        _jobs_done += 1
        if _jobs_done % TRIM_EVERY == 0:
            trim_heap()


def trim_heap() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
