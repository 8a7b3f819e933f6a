"""What crosses a worker's pipe: calls one way, answers the other, pickled.

A call is ``(func, args)``; an answer is ``(ok, result or exception, traceback text)``.
The pool packs calls and unpacks answers (ingest.workers.pool); the worker unpacks calls
and packs answers (ingest.workers.process). Anything that cannot cross becomes a
WorkerError that says what, so a caller never waits on an answer that will not come.
"""

from __future__ import annotations

import functools
import pickle
import traceback
from multiprocessing.reduction import ForkingPickler

from ingest.errors import WorkerError


def job_name(func) -> str:
    """The name a job goes by in messages: its function's, through any partial."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__qualname__", None) or type(func).__qualname__


def pack_call(func, args: tuple) -> memoryview:
    try:
        return ForkingPickler.dumps((func, args))
    except Exception as exc:  # a lambda, an open file...: nothing a worker can receive
        raise WorkerError(f"workers: the call of {job_name(func)} cannot be sent to a worker "
                          f"process ({exc!r}); pass module-level functions and plain data") from exc


def pack_result(func, result: object) -> memoryview:
    """The answer for a job that returned ``result``; a WorkerError's if it cannot be sent."""
    try:
        return ForkingPickler.dumps((True, result, ""))
    except Exception as exc:  # noqa: BLE001 - any object's own pickling failure
        return pack_error(WorkerError(
            f"workers: the result of {job_name(func)} cannot be sent back from the worker "
            f"({exc!r})"))


def pack_error(exc: Exception) -> memoryview:
    """The answer for a job that raised ``exc``; a stand-in if ``exc`` cannot cross."""
    remote_tb = "".join(traceback.format_exception(exc))
    try:
        answer = ForkingPickler.dumps((False, exc, remote_tb))
        pickle.loads(answer)  # one whose __init__ wants other arguments fails only here
        return answer
    except Exception as problem:  # noqa: BLE001 - any exception's own (un)pickling failure
        stand_in = WorkerError(f"workers: the job raised {type(exc).__qualname__}: {exc}, "
                               f"which cannot be sent back from the worker ({problem!r})")
        return ForkingPickler.dumps((False, stand_in, remote_tb))


def unpack_answer(answer: bytes, name: str):
    """The job's result, or its exception raised, with where it raised as the cause."""
    try:
        ok, value, remote_tb = pickle.loads(answer)
    except Exception as exc:
        raise WorkerError(f"workers: the answer of {name} cannot be read ({exc!r})") from exc
    if ok:
        return value
    value.__cause__ = _RemoteTraceback(remote_tb)
    raise value


class _RemoteTraceback(Exception):
    """Where a job raised, in the worker: the cause shown under its exception."""

    def __str__(self) -> str:
        return f"\n\"\"\"\n{self.args[0]}\"\"\""
