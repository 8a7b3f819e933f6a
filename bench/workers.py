"""What the worker pool's deadlines cost: a job's round trip, the kill of a stuck job,
the fresh worker after it, and close() with a stuck job.

    python -m bench.workers [--workers 2] [--rounds 200]

Prints a Markdown table (wall seconds, median of ``--rounds`` where it says so). Jobs are
stdlib functions, so the figures are the pool's own cost, not extraction's.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from functools import partial

from bench.common import argument_parser, table
from ingest.errors import JobDeadline, WorkerError
from ingest.workers.pool import WorkerPool

DEADLINE = 0.5  # seconds, for the stuck jobs
_BACKTRACK = partial(re.fullmatch, r"(a+)+$", "a" * 64 + "b")  # never ends on its own


async def _timed(job) -> float:
    started = time.perf_counter()
    await job
    return time.perf_counter() - started


async def _overrun(pool: WorkerPool, func, *args) -> float:
    """Seconds from the call to JobDeadline."""
    started = time.perf_counter()
    try:
        await pool.run(func, *args, timeout=DEADLINE)
    except JobDeadline:
        return time.perf_counter() - started
    raise AssertionError(f"{func} ended within its deadline")


async def _measure(pool: WorkerPool, rounds: int) -> list[tuple[str, float]]:
    rows = [("first job (start: forkserver, imports, warm-up, fork)",
             await _timed(pool.run(os.getpid)))]
    warm = [await _timed(pool.run(abs, -1)) for _ in range(rounds)]
    rows.append((f"round trip of a tiny job (median of {rounds})", statistics.median(warm)))
    page = os.urandom(4_000_000)
    big = [await _timed(pool.run(len, page)) for _ in range(max(1, rounds // 10))]
    rows.append(("round trip with a 4 MB argument (median)", statistics.median(big)))
    for name, job in (("time.sleep", (time.sleep, 3600)),
                      ("a regex backtracking in C", (_BACKTRACK,))):
        kills, fresh = [], []
        for _ in range(max(1, rounds // 20)):
            kills.append(await _overrun(pool, *job) - DEADLINE)
            # the next jobs: one of them lands on the killed worker's slot, which forks anew
            fresh.append(max(await asyncio.gather(*(_timed(pool.run(abs, -1))
                                                    for _ in range(pool.size)))))
        rows.append((f"{name}: JobDeadline after the {DEADLINE:g} s deadline (median)",
                     statistics.median(kills)))
        rows.append(("  next job on the fresh worker, fork included (median)",
                     statistics.median(fresh)))
    return rows


async def _close_with_a_stuck_job(pool: WorkerPool) -> float:
    stuck = asyncio.create_task(pool.run(time.sleep, 3600, timeout=3600))
    await pool.run(os.getpid)  # the pool is up
    await asyncio.sleep(0.2)  # the stuck job is running
    started = time.perf_counter()
    pool.close()
    closing = time.perf_counter() - started
    try:
        await stuck
    except WorkerError:
        return closing
    raise AssertionError("the stuck job ended")


def main() -> None:
    parser = argument_parser("workers", __doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=200)
    options = parser.parse_args()
    pool = WorkerPool(options.workers)
    try:
        rows = asyncio.run(_measure(pool, options.rounds))
    finally:
        pool.close()
    idle = WorkerPool(options.workers)
    asyncio.run(idle.run(os.getpid))
    started = time.perf_counter()
    idle.close()
    rows.append(("close(), idle workers", time.perf_counter() - started))
    stuck = WorkerPool(options.workers)
    rows.append(("close(), one job stuck (grace, then SIGKILL)",
                 asyncio.run(_close_with_a_stuck_job(stuck))))
    print(f"workers: {options.workers}\n")
    print(table(("measure", "seconds"), [(name, f"{s:.4f}") for name, s in rows], "lr"))


if __name__ == "__main__":
    main()
