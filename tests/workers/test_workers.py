"""The worker pool: jobs run in other processes, each within a deadline; a stuck or dead
worker is killed and replaced without touching the jobs of the others; close() never waits
on a stuck job."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ingest.errors import IngestError, JobDeadline, SkipEntry, WorkerDied, WorkerError
from ingest.workers import process as worker_process
from ingest.workers import spawn
from ingest.workers.pool import WorkerPool

pytestmark = pytest.mark.timeout(60)


# -- jobs (module level: a worker imports them by name) ------------------------------------
def _raise_skip(reason: str) -> None:
    raise SkipEntry(reason, "detail")


class _TwoArguments(Exception):
    """Pickles, but cannot be rebuilt from its args: it cannot cross back from a worker."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what} at {where}")


def _raise_two_arguments() -> None:
    raise _TwoArguments("trouble", "line 3")


def _timed_nap(seconds: float) -> tuple[float, float, int]:
    started = time.time()
    time.sleep(seconds)
    return started, time.time(), os.getpid()


def _pid_then_sleep(path: str, seconds: float) -> None:
    """Say which worker runs this job, then hang (as a hostile input would)."""
    Path(path + ".part").write_text(str(os.getpid()))
    os.replace(path + ".part", path)
    time.sleep(seconds)


def _exists(pid: int) -> bool:
    """Alive or a zombie: either still answers signal 0."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- helpers -------------------------------------------------------------------------------
def _run(pool: WorkerPool, scenario) -> object:
    """Run ``scenario()`` on a fresh event loop; the pool is closed whatever happens."""
    try:
        return asyncio.run(asyncio.wait_for(scenario(), 50))
    finally:
        pool.close()


async def _pid_in(path: Path) -> int:
    """The pid a `_pid_then_sleep` job wrote, once it is running."""
    while not path.exists():
        await asyncio.sleep(0.01)
    return int(path.read_text())


async def _gone(pid: int, within: float = 5.0) -> bool:
    ends = time.monotonic() + within
    while _exists(pid) and time.monotonic() < ends:
        await asyncio.sleep(0.01)
    return not _exists(pid)


def _threads_end(pool: WorkerPool, within: float = 5.0) -> bool:
    """Whether every thread of the pool ends (none is left blocked on a pipe)."""
    waiter = threading.Thread(target=pool._threads.shutdown, daemon=True)
    waiter.start()
    waiter.join(within)
    return not waiter.is_alive()


# -- deadlines, deaths, cancellation, close ------------------------------------------------
def test_a_job_past_its_deadline_is_killed_while_a_job_on_another_worker_completes(tmp_path):
    pool, pidfile = WorkerPool(2), tmp_path / "stuck.pid"

    async def go():
        # both workers import this module now, not within the stuck job's deadline
        await asyncio.gather(pool.run(_timed_nap, 0.2), pool.run(_timed_nap, 0.2))
        started = time.monotonic()
        stuck, quick = await asyncio.gather(
            pool.run(_pid_then_sleep, str(pidfile), 3600, timeout=1.0),
            pool.run(_timed_nap, 2.0), return_exceptions=True)
        elapsed = time.monotonic() - started
        killed = int(pidfile.read_text())
        gone = await _gone(killed)
        after = await asyncio.gather(*(pool.run(_timed_nap, 0.3) for _ in range(4)))
        return stuck, quick, elapsed, killed, gone, {pid for _, _, pid in after}

    stuck, quick, elapsed, killed, gone, pids_after = _run(pool, go)
    assert isinstance(stuck, JobDeadline), stuck
    assert "_pid_then_sleep" in str(stuck) and "deadline of 1 s" in str(stuck)
    assert elapsed < 10  # killed at its deadline, not slept out
    started, ended, pid = quick  # ran on through the kill, on the other worker
    assert pid != killed and ended - started >= 2.0
    assert gone  # killed and reaped
    assert killed not in pids_after and len(pids_after) == 2  # a fresh worker took its place


def test_a_regex_backtracking_in_c_is_killed_at_the_pools_deadline():
    """A C loop inside `re` ignores Python's signals; SIGKILL still stops it."""
    pool = WorkerPool(1, timeout=0.5)
    backtrack = functools.partial(re.fullmatch, r"(a+)+$", "a" * 64 + "b")

    async def go():
        started = time.monotonic()
        with pytest.raises(JobDeadline, match=r"fullmatch ran past its deadline of 0\.5 s"):
            await pool.run(backtrack)
        return time.monotonic() - started, await pool.run(os.getpid)

    elapsed, pid = _run(pool, go)
    assert elapsed < 10 and pid != os.getpid()


def test_a_worker_killed_from_outside_fails_its_own_job_only(tmp_path):
    pool, pidfile = WorkerPool(2), tmp_path / "victim.pid"

    async def go():
        victim = asyncio.create_task(pool.run(_pid_then_sleep, str(pidfile), 3600))
        bystander = asyncio.create_task(pool.run(_timed_nap, 1.5))
        os.kill(await _pid_in(pidfile), signal.SIGKILL)  # as the kernel's OOM killer does
        with pytest.raises(WorkerDied, match=r"_pid_then_sleep died \(killed by SIGKILL"):
            await victim
        return await bystander, await pool.run(os.getpid)

    (_, _, bystander_pid), next_pid = _run(pool, go)
    assert bystander_pid != int(pidfile.read_text())
    assert next_pid not in (os.getpid(), int(pidfile.read_text()))


def test_a_cancelled_job_has_its_worker_killed_and_the_pool_goes_on(tmp_path):
    """The daemon cancels polls that outlive the shutdown grace; nobody would read the answer."""
    pool, pidfile = WorkerPool(1), tmp_path / "cancelled.pid"

    async def go():
        task = asyncio.create_task(pool.run(_pid_then_sleep, str(pidfile), 3600, timeout=3600))
        pid = await _pid_in(pidfile)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gone = await _gone(pid)
        return pid, gone, await asyncio.wait_for(pool.run(os.getpid), 10)  # its slot is free

    pid, gone, next_pid = _run(pool, go)
    assert gone and next_pid != pid
    assert _threads_end(pool)


def test_close_kills_a_stuck_job_after_a_short_grace_and_leaves_no_process(tmp_path):
    """A job that ends within the grace gives its result; a stuck one is killed; idle
    workers stop at once; no process is left behind, not even a zombie."""
    pool, stuck_file, ending_file = WorkerPool(3), tmp_path / "stuck.pid", tmp_path / "ending.pid"

    async def go():
        stuck = asyncio.create_task(pool.run(_pid_then_sleep, str(stuck_file), 3600, timeout=3600))
        ending = asyncio.create_task(pool.run(_pid_then_sleep, str(ending_file), 0.5))
        pids = [await _pid_in(stuck_file), await _pid_in(ending_file)]
        pids.append(await pool.run(os.getpid))  # the idle worker
        started = time.monotonic()
        pool.close()
        closing = time.monotonic() - started
        await ending  # finished within the grace
        with pytest.raises(WorkerError, match="closed"):
            await stuck
        with pytest.raises(WorkerError, match="closed"):
            await pool.run(os.getpid)
        return pids, closing

    pids, closing = _run(pool, go)
    assert closing < 5  # the grace (a second), then SIGKILL
    assert len(set(pids)) == 3 and not any(_exists(pid) for pid in pids)
    assert _threads_end(pool)


_STUCK_DAEMON = """
import asyncio, os, time
from ingest.workers.pool import WorkerPool

pool = WorkerPool(1, timeout=3600)

async def go():
    print(await pool.run(os.getpid), flush=True)
    await pool.run(time.sleep, 3600)  # the same worker: stuck, never reads its pipe

asyncio.run(go())
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie is for init to reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_stuck_worker_dies_with_a_daemon_killed_outright():
    """SIGKILL (or the OOM killer) gives the daemon no chance to close its pool."""
    daemon = subprocess.Popen([sys.executable, "-c", _STUCK_DAEMON], stdout=subprocess.PIPE,
                              text=True)
    worker = 0
    try:
        worker = int(daemon.stdout.readline())
        time.sleep(0.2)  # the worker takes its stuck job
        daemon.kill()
        daemon.wait(10)
        ends = time.monotonic() + 10
        while _running(worker) and time.monotonic() < ends:
            time.sleep(0.05)
        assert not _running(worker)
    finally:
        daemon.kill()
        daemon.wait(10)
        daemon.stdout.close()
        if worker and _running(worker):
            os.kill(worker, signal.SIGKILL)


# -- what comes back -----------------------------------------------------------------------
def test_results_and_exceptions_come_back_as_they_are():
    pool = WorkerPool(1)
    page = os.urandom(4_000_000)  # a page's bytes: megabytes through the pipe

    async def go():
        assert await pool.run(functools.partial(int, base=16), "ff") == 255
        assert await pool.run(bytes, page) == page
        with pytest.raises(SkipEntry) as skip:
            await pool.run(_raise_skip, "no_text")
        with pytest.raises(WorkerError, match=r"raised _TwoArguments: trouble at line 3"):
            await pool.run(_raise_two_arguments)
        return skip.value

    skip = _run(pool, go)
    assert (skip.reason, skip.detail) == ("no_text", "detail")
    assert "_raise_skip" in str(skip.__cause__)  # where it raised, in the worker


# -- replacement after max_tasks, start, close while starting ------------------------------
def test_each_worker_is_replaced_after_max_tasks_without_hanging():
    """Many more jobs than the workers may run, queued all at once (as a large fetch does)."""
    pool = WorkerPool(2, max_tasks=5)

    async def go():
        return await asyncio.gather(*(pool.run(os.getpid) for _ in range(60)))

    pids = Counter(_run(pool, go))
    assert sum(pids.values()) == 60 and os.getpid() not in pids
    assert max(pids.values()) <= 5 and len(pids) >= 12  # fresh workers took over


def test_a_spent_worker_exits_before_its_successor_forks(monkeypatch):
    """Two generations side by side would hold twice the workers' memory."""
    pool, alive_at_fork = WorkerPool(1, max_tasks=2), []
    fork_worker, forked = spawn.fork_worker, []

    def watched_fork(ctx):
        alive_at_fork.append(sum(w.process.is_alive() for w in forked))
        forked.append(fork_worker(ctx))
        return forked[-1]

    monkeypatch.setattr(spawn, "fork_worker", watched_fork)

    async def go():
        return [await pool.run(os.getpid) for _ in range(6)]

    pids = _run(pool, go)
    assert len(set(pids)) == 3 and alive_at_fork == [0, 0, 0]


def test_a_pool_closed_while_a_worker_is_being_replaced_forks_no_new_worker(monkeypatch):
    pool, forks, retiring = WorkerPool(1, max_tasks=1), [], threading.Event()
    fork_worker, stop_all = spawn.fork_worker, spawn.stop_all
    monkeypatch.setattr(spawn, "fork_worker",
                        lambda ctx: forks.append(fork_worker(ctx)) or forks[-1])

    def slow_retirement(workers):
        if threading.current_thread() is not threading.main_thread() and not retiring.is_set():
            retiring.set()  # a job's thread stops the spent worker: close() comes now
            while not pool._slots.closed:
                time.sleep(0.01)
        stop_all(workers)

    monkeypatch.setattr(spawn, "stop_all", slow_retirement)

    async def go():
        await pool.run(os.getpid)  # the only worker is spent
        second = asyncio.create_task(pool.run(os.getpid))
        while not retiring.is_set():
            await asyncio.sleep(0.01)
        pool.close()
        with pytest.raises(WorkerError, match="closed"):
            await second

    _run(pool, go)
    assert len(forks) == 1 and forks[0].process.exitcode is not None


def test_a_pool_closed_while_it_starts_stops_the_workers_it_made(monkeypatch):
    """The pipeline may end (its only feed refused at once) while start_soon's thread is
    still setting up the pool: close() waits for it, and the new workers are stopped."""
    pool, made, midway = WorkerPool(2), [], threading.Event()
    fork_worker = spawn.fork_worker

    def closed_midway(ctx):
        made.append(fork_worker(ctx))
        midway.set()
        while not pool._slots.closed:  # close() is called now, from the event loop
            time.sleep(0.01)
        return made[-1]

    monkeypatch.setattr(spawn, "fork_worker", closed_midway)

    async def go():
        pool.start_soon()
        starting = pool._starting
        while not midway.is_set():
            await asyncio.sleep(0.01)
        pool.close()
        with pytest.raises(IngestError, match="closed"):
            await starting
        with pytest.raises(IngestError, match="closed"):
            await pool.run(os.getpid)

    _run(pool, go)
    assert len(made) == 1 and made[0].process.exitcode is not None  # stopped, not left running
    assert not _exists(made[0].process.pid)


def test_start_soon_starts_the_workers_before_any_job():
    pool = WorkerPool(1)

    async def go():
        pool.start_soon()
        starting = pool._starting
        pool.start_soon()  # already starting: the same start
        assert pool._starting is starting
        await starting
        assert pool._ready  # no job was needed
        return await pool.run(os.getpid)

    assert _run(pool, go) != os.getpid()


def test_a_failure_to_start_the_workers_is_reported_whatever_the_current_folder(
        tmp_path, monkeypatch):
    def no_processes(ctx):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(spawn, "fork_worker", no_processes)
    monkeypatch.delenv("PYTHONSAFEPATH", raising=False)
    # another folder (the forkserver would start with PYTHONSAFEPATH), then ingest's own
    for folder in (tmp_path, Path(spawn.__file__).resolve().parents[2]):
        monkeypatch.chdir(folder)
        with pytest.raises(WorkerError, match="cannot start worker processes"):
            WorkerPool(1).start()
        assert "PYTHONSAFEPATH" not in os.environ  # set only while the pool starts


# -- inside the workers --------------------------------------------------------------------
def test_heap_is_trimmed_every_few_jobs(monkeypatch):
    """Freed heap goes back to the OS once every TRIM_EVERY jobs, whatever the job did."""
    trims = []
    monkeypatch.setattr(worker_process, "trim_heap",
                        lambda: trims.append(worker_process._jobs_done))
    monkeypatch.setattr(worker_process, "_jobs_done", 0)
    for i in range(2 * worker_process.TRIM_EVERY + 3):
        if i % 2:
            with pytest.raises(SkipEntry):
                worker_process._job(_raise_skip, "no_text")
        else:
            assert worker_process._job(abs, -i) == i
    assert trims == [worker_process.TRIM_EVERY, 2 * worker_process.TRIM_EVERY]


def test_workers_start_warm_with_a_frozen_heap():
    """The forkserver filled the extractor's caches and froze its heap before forking,
    so each worker shares those objects instead of building (and collecting) its own."""
    import gc

    pool = WorkerPool(1)
    frozen = _run(pool, lambda: pool.run(gc.get_freeze_count))
    assert frozen > 10_000  # every container the imports and the warm-up made


def test_the_warm_up_fills_the_extractors_lazy_caches():
    """The forkserver's warm-up page must reach trafilatura's justext fallback, or the
    workers would each build that large stoplist themselves (a failed warm-up is only
    logged, so nothing else would notice)."""
    import subprocess
    import sys

    probe = ("import trafilatura.external as e; assert e.JT_STOPLIST is None; "
             "import ingest.extract.warmup; print(len(e.JT_STOPLIST or ()))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert int(run.stdout) > 10_000  # words of every language's stoplist
