"""The worker process's side of the pool (ingest.workers.pool): run calls from a pipe, send answers.

A worker reads a pickled ``(func, args)`` call, runs it and sends back ``(ok, result or
exception, traceback text)``; an answer that cannot be pickled becomes a WorkerError. It
hands freed heap back to the OS every TRIM_EVERY jobs, ignores Ctrl-C (the pool decides)
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
import traceback
from multiprocessing.reduction import ForkingPickler

from ingest.errors import WorkerError

# glibc keeps the heap that a page's lxml trees freed (~10 MB a worker) until it is
# trimmed; a trim walks the heap (~3 ms), so it runs once every few jobs.
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
    """(ok, result or exception, traceback text), pickled: always something to send."""
    try:
        func, args = pickle.loads(call)
        result = _job(func, *args)
    except Exception as exc:  # noqa: BLE001 - whatever the job raises goes back to its caller
        return _error_answer(exc)
    try:
        return ForkingPickler.dumps((True, result, ""))
    except Exception as exc:  # noqa: BLE001 - any object's own pickling failure
        return _error_answer(WorkerError(
            f"workers: the result of {job_name(func)} cannot be sent back from the worker "
            f"({exc!r})"))


def _error_answer(exc: Exception) -> memoryview:
    remote_tb = "".join(traceback.format_exception(exc))
    try:
        answer = ForkingPickler.dumps((False, exc, remote_tb))
        pickle.loads(answer)  # one whose __init__ wants other arguments fails only here
        return answer
    except Exception as problem:  # noqa: BLE001 - any exception's own (un)pickling failure
        stand_in = WorkerError(f"workers: the job raised {type(exc).__qualname__}: {exc}, "
                               f"which cannot be sent back from the worker ({problem!r})")
        return ForkingPickler.dumps((False, stand_in, remote_tb))


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
    if alive is not None:
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


def job_name(func) -> str:
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__qualname__", None) or type(func).__qualname__
