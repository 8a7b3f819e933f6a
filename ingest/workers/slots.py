"""The worker pool's slots (ingest.workers.pool): one worker each, and the job it runs.

This is the side of the pool that runs in a job's own thread: take an idle slot, send the
call, wait for the answer until the deadline, else kill the slot's worker. It is
thread-safe: one lock orders jobs, forks and close() against each other.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from queue import SimpleQueue

from ingest.errors import JobDeadline, WorkerDied, WorkerError
from ingest.workers import spawn
from ingest.workers.spawn import Worker
from ingest.workers.wire import job_name, pack_call, unpack_answer

CLOSE_GRACE = 1.0  # seconds close() lets running jobs finish before it kills their workers


class Job:
    def __init__(self, func, args: tuple, timeout: float) -> None:
        self.func, self.args, self.timeout = func, args, timeout
        self.name = job_name(func)
        self.slot: _Slot | None = None  # while it runs
        self.abandoned = False  # its caller was cancelled


class _Slot:
    """A place for one worker; the job it runs makes it busy."""

    def __init__(self, worker: Worker) -> None:
        self.worker: Worker | None = worker  # None: forked again for the next job
        self.job: Job | None = None
        self.killed_for: str | None = None  # "closed", "cancelled": why we killed its worker


class Slots:
    """``size`` slots; a slot forks a fresh worker after ``max_tasks`` jobs."""

    def __init__(self, size: int, max_tasks: int) -> None:
        self._size, self._max_tasks = size, max_tasks
        self._slots: list[_Slot] = []
        self._idle: SimpleQueue[_Slot] = SimpleQueue()
        self._ctx = multiprocessing.get_context("forkserver")
        self.closed = False
        self._lock = threading.Lock()  # slots, forks and close() against each other
        self._released = threading.Condition(self._lock)  # a busy slot became idle

    def fill(self) -> None:
        """Fork a worker for every slot; blocks until the forkserver has imported everything."""
        with self._lock:  # a close() meanwhile waits here instead of racing the setup
            if self.closed:
                raise closed_error()
            self._ctx.set_forkserver_preload(spawn.PRELOAD)
            workers: list[Worker] = []
            try:
                for _ in range(self._size):
                    workers.append(spawn.start_worker(self._ctx))
                    if self.closed:  # closed meanwhile (`start_soon`): nobody else would stop them
                        raise closed_error()
            except BaseException:
                spawn.stop_all(workers)
                raise
            self._slots = [_Slot(worker) for worker in workers]
            for slot in self._slots:
                self._idle.put(slot)

    def run(self, job: Job):
        """``job`` in the next idle slot's worker (in the job's own thread)."""
        slot = self._take_slot(job)
        try:
            return self._exchange(slot, job)
        finally:
            with self._lock:
                slot.job, slot.killed_for = None, None
                self._released.notify_all()
            self._idle.put(slot)

    def abandon(self, job: Job) -> None:
        """The job's caller is gone: kill its worker, if it has one, so its thread ends now."""
        with self._lock:
            job.abandoned = True
            slot = job.slot
            if slot is not None and slot.job is job and slot.worker is not None:
                slot.killed_for = "cancelled"
                slot.worker.kill()

    def close(self) -> None:
        """Stop the workers: idle ones now, busy ones killed after CLOSE_GRACE."""
        self.closed = True
        with self._lock:  # waits for a fill in progress, which then stops what it made
            self._stop_idle()
            if not self._released.wait_for(self._all_idle, CLOSE_GRACE):
                for slot in self._slots:
                    if slot.job is not None and slot.worker is not None:
                        slot.killed_for = "closed"
                        slot.worker.kill()
                self._released.wait_for(self._all_idle, spawn.STOP_WAIT)
            self._stop_idle()

    def _all_idle(self) -> bool:
        return all(slot.job is None for slot in self._slots)

    def _stop_idle(self) -> None:
        """Stop the workers of idle slots (with the lock held)."""
        idle: list[Worker] = []
        for slot in self._slots:
            if slot.job is None and slot.worker is not None:
                idle.append(slot.worker)
                slot.worker = None
        spawn.stop_all(idle)

    def _take_slot(self, job: Job) -> _Slot:
        slot = self._idle.get()  # there are as many slots as threads that run jobs
        with self._lock:
            if self.closed or job.abandoned:
                self._idle.put(slot)
                raise closed_error() if self.closed else _cancelled_error(job)
            slot.job, job.slot = job, slot
        return slot

    def _exchange(self, slot: _Slot, job: Job):
        """Send the call, wait for the answer until the deadline."""
        call = pack_call(job.func, job.args)
        worker = self._worker_for(slot)
        with self._lock:  # `abandon` and close() kill `slot.worker` from now on
            if self.closed or job.abandoned:
                raise closed_error() if self.closed else _cancelled_error(job)
            worker.jobs += 1
        deadline = time.monotonic() + job.timeout
        try:
            worker.conn.send_bytes(call)
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                self._drop_worker(slot, worker)
                raise JobDeadline(
                    f"workers: {job.name} ran past its deadline of {job.timeout:g} s; its "
                    "worker was killed and a fresh one takes the next job (raise "
                    "extract.timeout in the config if such input is legitimate)")
            answer = worker.conn.recv_bytes()
        except (OSError, EOFError) as exc:  # the worker is gone: killed, or died
            raise self._lost(slot, worker, job) from exc
        return unpack_answer(answer, job.name)

    def _worker_for(self, slot: _Slot) -> Worker:
        """The slot's worker, or a fresh one if it is gone or has run `max_tasks` jobs."""
        worker = slot.worker
        if worker is not None and worker.jobs < self._max_tasks and worker.process.is_alive():
            return worker
        if worker is not None:  # exits before its successor forks: one worker's memory a slot
            slot.worker = None
            spawn.stop_all([worker])
        with self._lock:  # so close() never misses the fork
            if self.closed:
                raise closed_error()
            slot.worker = spawn.start_worker(self._ctx)
            return slot.worker

    def _drop_worker(self, slot: _Slot, worker: Worker) -> None:
        """Kill the slot's worker and reap it; the slot forks a fresh one for its next job."""
        with self._lock:
            slot.worker = None
        worker.kill()
        worker.process.join()
        worker.conn.close()

    def _lost(self, slot: _Slot, worker: Worker, job: Job) -> WorkerError:
        """The error for a job whose worker went away under it."""
        why = slot.killed_for
        self._drop_worker(slot, worker)
        if why == "closed":
            return WorkerError(f"workers: {job.name} was stopped: the worker pool was closed")
        if why == "cancelled":
            return _cancelled_error(job)
        return WorkerDied(f"workers: the worker process running {job.name} died "
                          f"({spawn.exit_reason(worker.process.exitcode)}); a fresh one takes "
                          "the next job")


def closed_error() -> WorkerError:
    return WorkerError("workers: the worker pool was closed")


def _cancelled_error(job: Job) -> WorkerError:
    return WorkerError(f"workers: {job.name} was cancelled; its worker was killed")
