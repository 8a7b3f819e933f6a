"""A warm pool of worker processes for the stages that work on untrusted input (feed
parsing, extraction, the footer stage), where every job has a deadline.

Each worker is a process with a pipe of its own, forked from a forkserver that has already
imported trafilatura and feedparser and filled trafilatura's lazy caches
(ingest.extract.warmup), so it starts in milliseconds and shares those caches' memory.

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
stopped at once, busy ones are killed after CLOSE_GRACE.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from queue import SimpleQueue

import ingest
from ingest.errors import JobDeadline, WorkerDied, WorkerError
from ingest.workers.process import job_name, serve

# ingest.extract.langid is left out: its model costs ~0.7 s and ~78 MB per process and is needed
# only for pages that declare no language in feeds that declare none.
# The last one fills the extractor's lazy caches and freezes the heap, so the workers share them.
_PRELOAD = ["ingest.workers.pool", "ingest.pipeline.jobs", "ingest.extract.page", "ingest.extract.feed", "ingest.footers.strip",
            "trafilatura", "feedparser", "ingest.extract.warmup"]
CLOSE_GRACE = 1.0  # seconds close() lets running jobs finish before it kills their workers
STOP_WAIT = 2.0  # seconds an idle worker may take to exit once its pipe is closed


class WorkerPool:
    def __init__(self, workers: int = 0, *, max_tasks: int = 1000, timeout: float = 30.0) -> None:
        self.size = workers or os.cpu_count() or 1
        self.timeout = timeout
        self._max_tasks = max_tasks
        self._slots: list[_Slot] = []
        self._idle: SimpleQueue[_Slot] = SimpleQueue()
        # one thread per job in flight, and one for the start
        self._threads = ThreadPoolExecutor(self.size + 1, thread_name_prefix="ingest-workers")
        self._ctx = multiprocessing.get_context("forkserver")
        self._ready = False
        self._starting: asyncio.Future | None = None
        self._closed = False
        self._lock = threading.Lock()  # slots, forks and close() against each other
        self._released = threading.Condition(self._lock)  # a busy slot became idle

    # -- the event loop's side ---------------------------------------------------------
    def start(self) -> None:
        """Fork the workers; blocks until the forkserver has imported everything."""
        with self._lock:  # a close() meanwhile waits here instead of racing the setup
            if self._closed:
                raise _closed_error()
            self._ctx.set_forkserver_preload(_PRELOAD)
            slots: list[_Slot] = []
            try:
                for _ in range(self.size):  # fork the workers now, while feeds download
                    slots.append(_Slot(self._fork()))
                    if self._closed:  # closed meanwhile (`start_soon`): nobody else would stop them
                        raise _closed_error()
            except BaseException:
                _stop_all([slot.worker for slot in slots])
                raise
            self._slots = slots
            for slot in slots:
                self._idle.put(slot)
            self._ready = True

    def start_soon(self) -> None:
        """Start the workers in the background now, as a job is sure to come (the event
        loop's thread only). A failure is raised to the first job that waits for them."""
        if not self._ready and self._starting is None and not self._closed:
            self._begin()

    async def run(self, func, *args, timeout: float | None = None):
        """``func(*args)`` in a worker, within ``timeout`` seconds (the pool's by default).

        The result and the exceptions ``func`` raises come back as they are; JobDeadline if
        it overran, WorkerDied if its worker died, WorkerError if the pool was closed.
        """
        await self._started()
        job = _Job(func, args, self.timeout if timeout is None else timeout)
        try:
            future = self._threads.submit(self._run_job, job)
        except RuntimeError as exc:  # closed meanwhile: the thread pool is shut down
            raise _closed_error() from exc
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self._abandon(job)
            raise

    async def _started(self) -> None:
        """Wait for the workers, started off the event loop."""
        while not self._ready:
            if self._closed:
                raise _closed_error()
            if self._starting is None:
                self._begin()
            try:
                await asyncio.shield(self._starting)
            except WorkerError:
                self._starting = None  # the next job tries again
                raise
        if self._closed:
            raise _closed_error()

    def _begin(self) -> None:
        """Run `start` (it blocks) in a thread; jobs wait for it in `_started`."""
        self._starting = asyncio.get_running_loop().run_in_executor(self._threads, self.start)
        # Retrieved here so that a failure nobody waits for is not logged as lost.
        self._starting.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _abandon(self, job: _Job) -> None:
        """The job's caller is gone: kill its worker, if it has one, so its thread ends now."""
        with self._lock:
            job.abandoned = True
            slot = job.slot
            if slot is not None and slot.job is job and slot.worker is not None:
                slot.killed_for = "cancelled"
                slot.worker.kill()

    def close(self) -> None:
        """Stop the workers: idle ones now, busy ones killed after CLOSE_GRACE."""
        self._closed = True
        with self._lock:  # waits for a start in progress, which then stops what it made
            self._stop_idle()
            if not self._released.wait_for(self._all_idle, CLOSE_GRACE):
                for slot in self._slots:
                    if slot.job is not None and slot.worker is not None:
                        slot.killed_for = "closed"
                        slot.worker.kill()
                self._released.wait_for(self._all_idle, STOP_WAIT)
            self._stop_idle()
        self._threads.shutdown(wait=False)  # queued jobs still run: each fails as closed

    def _all_idle(self) -> bool:
        return all(slot.job is None for slot in self._slots)

    def _stop_idle(self) -> None:
        """Stop the workers of idle slots (with the lock held)."""
        idle = [slot for slot in self._slots if slot.job is None and slot.worker is not None]
        _stop_all([slot.worker for slot in idle])
        for slot in idle:
            slot.worker = None

    # -- a job's thread ----------------------------------------------------------------
    def _run_job(self, job: _Job):
        slot = self._take_slot(job)
        try:
            return self._exchange(slot, job)
        finally:
            with self._lock:
                slot.job, slot.killed_for = None, None
                self._released.notify_all()
            self._idle.put(slot)

    def _take_slot(self, job: _Job) -> _Slot:
        slot = self._idle.get()  # there are as many slots as threads that run jobs
        with self._lock:
            if self._closed or job.abandoned:
                self._idle.put(slot)
                raise _closed_error() if self._closed else _cancelled_error(job)
            slot.job, job.slot = job, slot
        return slot

    def _exchange(self, slot: _Slot, job: _Job):
        """Send the call, wait for the answer until the deadline."""
        call = _pack_call(job)
        worker = self._worker_for(slot)
        with self._lock:  # `_abandon` and close() kill `slot.worker` from now on
            if self._closed or job.abandoned:
                raise _closed_error() if self._closed else _cancelled_error(job)
            worker.jobs += 1
        deadline = time.monotonic() + job.timeout
        try:
            worker.conn.send_bytes(call)
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                self._drop_worker(slot)
                raise JobDeadline(
                    f"workers: {job.name} ran past its deadline of {job.timeout:g} s; its "
                    "worker was killed and a fresh one takes the next job (raise "
                    "extract.timeout in the config if such input is legitimate)")
            answer = worker.conn.recv_bytes()
        except (OSError, EOFError) as exc:  # the worker is gone: killed, or died
            raise self._lost(slot, job) from exc
        return _unpack_answer(answer, job)

    def _worker_for(self, slot: _Slot) -> _Worker:
        """The slot's worker, or a fresh one if it is gone or has run `max_tasks` jobs."""
        worker = slot.worker
        if worker is not None and worker.jobs < self._max_tasks and worker.process.is_alive():
            return worker
        if worker is not None:  # exits before its successor forks: one worker's memory a slot
            slot.worker = None
            _stop_all([worker])
        with self._lock:
            if self._closed:
                raise _closed_error()
            slot.worker = self._fork()
            return slot.worker

    def _fork(self) -> _Worker:
        """One more worker process (with the lock held, so close() never misses it)."""
        try:
            with _safe_path():  # the forkserver starts with the first fork
                return _fork_worker(self._ctx)
        except (OSError, EOFError) as exc:
            raise WorkerError(
                f"workers: cannot start worker processes: {exc!r}; check the limits on "
                "processes and memory (ulimit -u, the container's pids limit)") from exc

    def _drop_worker(self, slot: _Slot) -> _Worker:
        """Kill the slot's worker and reap it; the slot forks a fresh one for its next job."""
        with self._lock:
            worker, slot.worker = slot.worker, None
        worker.kill()
        worker.process.join()
        worker.conn.close()
        return worker

    def _lost(self, slot: _Slot, job: _Job) -> WorkerError:
        """The error for a job whose worker went away under it."""
        why = slot.killed_for
        worker = self._drop_worker(slot)
        if why == "closed":
            return WorkerError(f"workers: {job.name} was stopped: the worker pool was closed")
        if why == "cancelled":
            return _cancelled_error(job)
        return WorkerDied(f"workers: the worker process running {job.name} died "
                          f"({_exit_reason(worker.process.exitcode)}); a fresh one takes "
                          "the next job")


class _Job:
    def __init__(self, func, args: tuple, timeout: float) -> None:
        self.func, self.args, self.timeout = func, args, timeout
        self.name = job_name(func)
        self.slot: _Slot | None = None  # while it runs
        self.abandoned = False  # its caller was cancelled


class _Worker:
    """A worker process and our end of its pipe."""

    def __init__(self, process: multiprocessing.Process, conn) -> None:
        self.process, self.conn = process, conn
        self.jobs = 0

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: a C loop (a regex backtracking) ignores the rest


class _Slot:
    """A place for one worker; the job it runs makes it busy."""

    def __init__(self, worker: _Worker) -> None:
        self.worker: _Worker | None = worker  # None: forked again for the next job
        self.job: _Job | None = None
        self.killed_for: str | None = None  # "closed", "cancelled": why we killed its worker


def _fork_worker(ctx) -> _Worker:
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=serve, args=(theirs,), name="ingest-worker", daemon=True)
    try:
        process.start()
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the worker holds the only other end: its death is our EOF
    return _Worker(process, ours)


def _stop_all(workers: list[_Worker]) -> None:
    """Let idle workers exit (their pipes close), together; kill those that do not."""
    for worker in workers:
        worker.conn.close()
    ends = time.monotonic() + STOP_WAIT
    for worker in workers:
        worker.process.join(max(0.0, ends - time.monotonic()))
        if worker.process.exitcode is None:
            worker.kill()
            worker.process.join()


def _closed_error() -> WorkerError:
    return WorkerError("workers: the worker pool was closed")


def _cancelled_error(job: _Job) -> WorkerError:
    return WorkerError(f"workers: {job.name} was cancelled; its worker was killed")


def _exit_reason(exitcode: int | None) -> str:
    if exitcode == -signal.SIGKILL:
        return "killed by SIGKILL: out of memory, or killed from outside"
    if exitcode is not None and exitcode < 0:
        return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _pack_call(job: _Job) -> memoryview:
    try:
        return ForkingPickler.dumps((job.func, job.args))
    except Exception as exc:  # a lambda, an open file...: nothing a worker can receive
        raise WorkerError(f"workers: the call of {job.name} cannot be sent to a worker "
                          f"process ({exc!r}); pass module-level functions and plain data") from exc


def _unpack_answer(answer: bytes, job: _Job):
    try:
        ok, value, remote_tb = pickle.loads(answer)
    except Exception as exc:
        raise WorkerError(f"workers: the answer of {job.name} cannot be read ({exc!r})") from exc
    if ok:
        return value
    value.__cause__ = _RemoteTraceback(remote_tb)
    raise value


class _RemoteTraceback(Exception):
    """Where a job raised, in the worker: the cause shown under its exception."""

    def __str__(self) -> str:
        return f"\n\"\"\"\n{self.args[0]}\"\"\""


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
