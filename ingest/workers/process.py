"""The worker process's side of the pool (ingest.workers.pool): run calls from a pipe, send answers.

A worker reads a call, runs it and sends back its answer (the format: ingest.workers.wire).
It hands freed heap back to the OS every TRIM_EVERY jobs, ignores Ctrl-C (the pool decides)
and dies with the daemon even when stuck in a job.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing.forkserver
import os
import pickle
import signal

from ingest.workers.wire import pack_error, pack_result

# glibc keeps the heap that a page's lxml trees freed until it is trimmed; a trim walks
# the whole heap, so it runs once every few jobs rather than after each.
TRIM_EVERY = 10
_PR_SET_PDEATHSIG = 1  # prctl: the signal this process gets when its parent exits
_jobs_done = 0  # in this worker process


def serve(conn) -> None:
    """A worker's life: run calls until the pipe closes (the pool stopped it, or died)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group: the pool decides
    _die_with_the_daemon()
    try:
        while True:
            conn.send_bytes(_answer(conn.recv_bytes()))
    except (EOFError, OSError):  # our end is closed
        return


def _answer(call: bytes) -> memoryview:
    """The pickled answer to a pickled call: always something to send."""
    try:
        func, args = pickle.loads(call)
        result = _job(func, *args)
    except Exception as exc:  # noqa: BLE001 - whatever the job raises goes back to its caller
        return pack_error(exc)
    return pack_result(func, result)


def _job(func, *args):
    """One job, in a worker process; every TRIM_EVERY jobs, freed heap goes back to the OS."""
    global _jobs_done
    try:
        return func(*args)
    finally:
        _jobs_done += 1
        if _jobs_done % TRIM_EVERY == 0:
            trim_heap()


def _die_with_the_daemon() -> None:
    """A worker stuck in a job never reads its pipe again: should the daemon be killed
    outright (SIGKILL, out of memory), the kernel kills the worker too.

    The forkserver exits once every copy of its "parent alive" pipe is closed, and each
    worker inherits one (multiprocessing passes it on so that a worker could start
    processes of its own, which ours never do): dropped here, the daemon's death ends the
    forkserver, and that ends the worker (PR_SET_PDEATHSIG), not left running alone.
    """
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if server is not None and alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None
    prctl = _libc_function("prctl")
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def trim_heap() -> None:
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


@functools.cache
def _libc_function(name: str):
    """A function of the C library (glibc's malloc_trim, Linux's prctl), or None where it
    has none (musl, macOS)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None

