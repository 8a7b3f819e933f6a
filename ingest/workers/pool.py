"""A warm pool of worker processes for the stages that work on untrusted input (feed
parsing, extraction, the footer stage), where every job has a deadline.

Each worker is a process with a pipe of its own, forked from a forkserver that has already
imported trafilatura and feedparser and filled trafilatura's lazy caches
(ingest.extract.warmup), so it starts with nothing left to import and shares those caches'
memory.

Why not ProcessPoolExecutor: it cannot stop one job. A hostile page or feed can pin a
worker for hours (a regex backtracking inside a C loop of ``re`` ignores every signal but
SIGKILL), and its shutdown waits for such a job. Here each job in flight has a thread of its
own (a dedicated thread pool, so the event loop and its default executor never block on a
pipe) that sends the call, waits for the answer until the job's deadline, and otherwise
SIGKILLs that one worker: its caller gets JobDeadline, jobs in the other workers go on. A
worker that dies under a job (out of memory, killed from outside) gives WorkerDied to that
job's caller only. A slot whose worker was killed forks a fresh one for its next job; so does
a worker that has run ``max_tasks`` jobs (to keep long-running memory flat), after the old
one has exited, so a slot never holds two workers' memory. A job whose awaiting task is
cancelled has its worker killed too: its answer would never be read.

Nothing is started until the first job, or until the pipeline polls a feed it has never
polled (`start_soon`): a poll where every known feed answers 304 or sends the same bytes
never pays for the forkserver's imports, and the event loop keeps downloading while the
forkserver starts (in a thread). `close` never waits on a stuck job: idle workers are
stopped at once, busy ones are killed after a short grace.

This module is the event loop's side. A job's thread runs in ingest.workers.slots; the
processes are forked and stopped by ingest.workers.spawn; what crosses a pipe is
ingest.workers.wire; a worker's own loop is ingest.workers.process.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from ingest.errors import WorkerError
from ingest.workers.slots import Job, Slots, closed_error


class WorkerPool:
    def __init__(self, workers: int = 0, *, max_tasks: int = 1000, timeout: float = 30.0) -> None:
        self.size = workers or os.cpu_count() or 1
        self.timeout = timeout
        self._slots = Slots(self.size, max_tasks)
        # one thread per job in flight, and one for the start
        self._threads = ThreadPoolExecutor(self.size + 1, thread_name_prefix="ingest-workers")
        self._ready = False
        self._starting: asyncio.Future | None = None

    def start(self) -> None:
        """Fork the workers; blocks until the forkserver has imported everything."""
        self._slots.fill()
        self._ready = True

    def start_soon(self) -> None:
        """Start the workers in the background now, as a job is sure to come (the event
        loop's thread only). A failure is raised to the first job that waits for them."""
        if not self._ready and self._starting is None and not self._slots.closed:
            self._begin()

    async def run(self, func, *args, timeout: float | None = None):
        """``func(*args)`` in a worker, within ``timeout`` seconds (the pool's by default).

        The result and the exceptions ``func`` raises come back as they are; JobDeadline if
        it overran, WorkerDied if its worker died, WorkerError if the pool was closed.
        """
        await self._started()
        job = Job(func, args, self.timeout if timeout is None else timeout)
        try:
            future = self._threads.submit(self._slots.run, job)
        except RuntimeError as exc:  # closed meanwhile: the thread pool is shut down
            raise closed_error() from exc
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self._slots.abandon(job)
            raise

    def close(self) -> None:
        """Stop the workers: idle ones now, busy ones killed after a short grace."""
        self._slots.close()
        self._threads.shutdown(wait=False)  # queued jobs still run: each fails as closed

    async def _started(self) -> None:
        """Wait for the workers, started off the event loop."""
        while not self._ready:
            if self._slots.closed:
                raise closed_error()
            starting = self._begin() if self._starting is None else self._starting
            try:
                await asyncio.shield(starting)
            except WorkerError:
                self._starting = None  # the next job tries again
                raise
        if self._slots.closed:
            raise closed_error()

    def _begin(self) -> asyncio.Future:
        """Run `start` (it blocks) in a thread; jobs wait for it in `_started`."""
        starting = asyncio.get_running_loop().run_in_executor(self._threads, self.start)
        # Retrieved here so that a failure nobody waits for is not logged as lost.
        starting.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._starting = starting
        return starting
