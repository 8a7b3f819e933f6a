"""The worker pool: jobs run in other processes, and the pool is replaced without hanging."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from ingest import workers as workers_module
from ingest.errors import IngestError, SkipEntry
from ingest.workers import WorkerPool


def _raise_skip(reason: str) -> None:
    raise SkipEntry(reason, "detail")


@pytest.mark.timeout(120)
def test_pool_is_replaced_after_max_tasks_without_hanging():
    """Many more jobs than one pool may run, queued all at once (as a large fetch does)."""
    pool = WorkerPool(2, max_tasks=5)

    async def go():
        return await asyncio.gather(*(pool.run(os.getpid) for _ in range(60)))

    try:
        pids = asyncio.run(asyncio.wait_for(go(), 90))
    finally:
        pool.close()
    assert len(pids) == 60 and os.getpid() not in pids
    assert len(set(pids)) > 2  # fresh workers took over


def _timed_nap(seconds: float) -> tuple[float, float, int]:
    started = time.time()
    time.sleep(seconds)
    return started, time.time(), os.getpid()


@pytest.mark.timeout(60)
def test_a_spent_pool_finishes_its_jobs_before_the_next_one_forks():
    """Two pools side by side would hold twice the workers' memory."""
    pool = WorkerPool(1, max_tasks=1)

    async def go():
        return await asyncio.gather(pool.run(_timed_nap, 0.5), pool.run(_timed_nap, 0.5))

    try:
        (start1, end1, pid1), (start2, end2, pid2) = asyncio.run(go())
    finally:
        pool.close()
    # either job may get the first pool; the other runs on a new worker, after it
    assert pid1 != pid2 and (start2 >= end1 or start1 >= end2)


@pytest.mark.timeout(60)
def test_a_pool_closed_while_it_is_being_replaced_forks_no_new_workers():
    pool = WorkerPool(1, max_tasks=1)

    async def go():
        first = asyncio.create_task(pool.run(_timed_nap, 1.0))
        while pool._jobs < 1:  # the first pool has its job
            await asyncio.sleep(0.01)
        second = asyncio.create_task(pool.run(_timed_nap, 0.0))
        while pool._pool is not None:  # the spent pool is being replaced
            await asyncio.sleep(0.01)
        pool.close()
        await first
        with pytest.raises(IngestError, match="closed"):
            await second

    try:
        asyncio.run(go())
    finally:
        pool.close()
    assert pool._pool is None


def test_exceptions_come_back_as_they_are():
    pool = WorkerPool(1)
    try:
        with pytest.raises(SkipEntry) as info:
            asyncio.run(pool.run(_raise_skip, "no_text"))
    finally:
        pool.close()
    assert info.value.reason == "no_text"


def test_heap_is_trimmed_every_few_jobs(monkeypatch):
    """Freed heap goes back to the OS once every TRIM_EVERY jobs, whatever the job did."""
    from ingest import workers

    trims = []
    monkeypatch.setattr(workers, "trim_heap", lambda: trims.append(workers._jobs_done))
    monkeypatch.setattr(workers, "_jobs_done", 0)
    for i in range(2 * workers.TRIM_EVERY + 3):
        if i % 2:
            with pytest.raises(SkipEntry):
                workers._job(_raise_skip, "no_text")
        else:
            assert workers._job(abs, -i) == i
    assert trims == [workers.TRIM_EVERY, 2 * workers.TRIM_EVERY]



def test_workers_start_warm_with_a_frozen_heap():
    """The forkserver filled the extractor's caches and froze its heap before forking,
    so each worker shares those objects instead of building (and collecting) its own."""
    import gc

    pool = WorkerPool(1)
    try:
        frozen = asyncio.run(pool.run(gc.get_freeze_count))
    finally:
        pool.close()
    assert frozen > 10_000  # every container the imports and the warm-up made (~40,000)


def test_a_failure_to_start_the_workers_is_reported_whatever_the_current_folder(
        tmp_path, monkeypatch):
    def no_processes(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(workers_module, "ProcessPoolExecutor", no_processes)
    monkeypatch.delenv("PYTHONSAFEPATH", raising=False)
    # another folder (the forkserver would start with PYTHONSAFEPATH), then ingest's own
    for folder in (tmp_path, Path(workers_module.__file__).resolve().parents[1]):
        monkeypatch.chdir(folder)
        with pytest.raises(IngestError, match="cannot start worker processes"):
            WorkerPool(1).start()
        assert "PYTHONSAFEPATH" not in os.environ  # set only while the pool starts


def test_start_soon_starts_the_workers_before_any_job():
    pool = WorkerPool(1)

    async def go():
        pool.start_soon()
        starting = pool._starting
        pool.start_soon()  # already starting: the same start
        assert pool._starting is starting
        await starting
        assert pool._pool is not None and pool._jobs == 0  # ready, and no job was needed
        return await pool.run(os.getpid)

    try:
        assert asyncio.run(go()) != os.getpid()
    finally:
        pool.close()


def test_a_pool_closed_while_it_starts_shuts_down_the_workers_it_made(monkeypatch):
    """The pipeline may end (its only feed refused at once) while start_soon's thread is
    still setting up the pool: close() waits for it, and the new workers are stopped."""
    pool, made, midway = WorkerPool(1), [], threading.Event()

    class ClosedMidway(workers_module.ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            if not made:  # the first worker is being forked
                made.append(self)
                midway.set()
                while not pool._closed:  # close() is called now, from the event loop
                    time.sleep(0.01)
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(workers_module, "ProcessPoolExecutor", ClosedMidway)

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

    asyncio.run(go())
    assert len(made) == 1 and pool._pool is None
    with pytest.raises(RuntimeError):  # shut down, not left running
        made[0].submit(os.getpid)


def test_the_warm_up_fills_the_extractors_lazy_caches():
    """The forkserver's warm-up page must reach trafilatura's justext fallback, or the
    workers would each build the ~30 MB stoplist themselves (a failed warm-up is only
    logged, so nothing else would notice)."""
    import subprocess
    import sys

    probe = ("import trafilatura.external as e; assert e.JT_STOPLIST is None; "
             "import ingest.worker_warmup; print(len(e.JT_STOPLIST or ()))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert int(run.stdout) > 10_000  # words of every language's stoplist
