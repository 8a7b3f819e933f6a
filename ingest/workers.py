"""A warm pool of worker processes for CPU-bound stages (extraction, feed parsing).

Workers are forked from a forkserver that has already imported trafilatura and
feedparser, so each starts in milliseconds and none re-imports them; they are
recycled after `max_tasks` jobs to keep long-running memory flat. Nothing is
started until the first job: a poll where every feed answers 304 or sends the
same bytes never pays for the forkserver's imports, and the event loop keeps
downloading while the forkserver starts (in a thread).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ingest.errors import IngestError

# ingest.langid is left out: its model costs ~0.7 s and ~78 MB per process and is needed
# only for pages that declare no language in feeds that declare none.
_PRELOAD = ["ingest.extract", "ingest.feeds", "trafilatura", "feedparser"]


class WorkerPool:
    def __init__(self, workers: int = 0, *, max_tasks: int = 1000) -> None:
        self.size = workers or os.cpu_count() or 1
        self._max_tasks = max_tasks
        self._pool: ProcessPoolExecutor | None = None
        self._starting: asyncio.Future | None = None

    def start(self) -> None:
        """Fork the workers; blocks until the forkserver has imported everything."""
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        try:
            self._pool = ProcessPoolExecutor(self.size, mp_context=ctx,
                                             max_tasks_per_child=self._max_tasks)
            for _ in range(self.size):  # fork the workers now, while feeds download
                self._pool.submit(os.getpid)
        except (OSError, EOFError, BrokenProcessPool) as exc:
            self._pool = None
            raise IngestError(f"workers: cannot start worker processes: {exc!r}") from exc

    async def run(self, func, *args):
        """Run ``func(*args)`` in a worker; exceptions it raises come back as they are."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            if self._starting is None:  # the first job starts the pool, off the event loop
                self._starting = loop.run_in_executor(None, self.start)
            try:
                await asyncio.shield(self._starting)
            except IngestError:
                self._starting = None  # the next job tries again
                raise
        try:
            return await loop.run_in_executor(self._pool, func, *args)
        except BrokenProcessPool as exc:
            # A worker died (out of memory, killed): start a fresh pool for the next job.
            self._pool = None
            self._starting = None
            raise IngestError(f"workers: a worker process died ({exc})") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
