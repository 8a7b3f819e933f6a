"""Run a command and measure it: wall time, CPU of its whole process tree, peak tree memory.

CPU is exact: this process makes itself a child subreaper (Linux prctl), so children
that the command leaves behind (ingest's forkserver, which has reaped the workers)
are re-parented here and reaped after the command ends; the RUSAGE_CHILDREN delta
then covers every process of the tree. ``own_cpu`` is the command's own process
(wait4 of it alone), the rest is its descendants. Memory is sampled from /proc every
200 ms (reading smaps_rollup costs kernel time, taken from the run it measures): the sum
of RSS over the tree (shared pages counted in each process, the figure ``ps`` users add
up) and of PSS (shared pages divided among their users).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import smaps_rollup, tree

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (so their CPU time can be collected); False if refused."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@dataclass
class Measured:
    returncode: int
    wall: float  # seconds until the command's own process exited
    cpu: float  # user + sys seconds of the whole tree
    own_cpu: float  # user + sys of the command's own process
    peak_rss_mb: float  # highest sampled sum of RSS over the tree
    peak_pss_mb: float
    peak_procs: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    others_cpu: float = 0.0  # CPU the rest of the machine used meanwhile (other users' jobs)

    @property
    def descendants_cpu(self) -> float:
        return self.cpu - self.own_cpu


@dataclass
class _Peaks:
    rss: int = 0
    pss: int = 0
    procs: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


def run_measured(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None,
                 timeout: float = 900, sample_every: float = 0.2) -> Measured:
    """Run ``cmd`` to its end (killed after ``timeout`` s); output goes to anonymous files."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    me, busy = resource.getrusage(resource.RUSAGE_SELF), machine_busy()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fo, stderr=fe,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        peaks = _Peaks()
        sampler = threading.Thread(target=_sample, args=(proc.pid, peaks, sample_every),
                                   daemon=True)
        sampler.start()
        status, usage, timed_out = _wait4(proc, timeout)
        wall = time.perf_counter() - started
        peaks.stop.set()
        sampler.join()
        busy = machine_busy() - busy  # before the reaping wait, which is not the command's
        _reap_orphans()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(me)
        stdout, stderr = _read(fo), _read(fe)
    return Measured(
        returncode=os.waitstatus_to_exitcode(status), wall=wall, cpu=_cpu(after) - _cpu(before),
        own_cpu=_cpu(usage), peak_rss_mb=peaks.rss / 1e6, peak_pss_mb=peaks.pss / 1e6,
        peak_procs=peaks.procs, stdout=stdout, stderr=stderr, timed_out=timed_out,
        others_cpu=max(0.0, busy - (_cpu(after) - _cpu(before)) - mine))


def machine_busy() -> float:
    """CPU seconds all processors have been busy since boot (/proc/stat), 0 if unknown."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _read(fh) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace")


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def _wait4(proc: subprocess.Popen, timeout: float):
    """Wait for ``proc`` alone, polling every 5 ms; kill its process group on timeout."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
            return status, usage, timed_out
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.005)


def _reap_orphans(limit: float = 15.0) -> None:
    """Reap adopted descendants as they exit (the forkserver ends when ingest has gone)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            time.sleep(0.01)


def _sample(root: int, peaks: _Peaks, every: float) -> None:
    while not peaks.stop.is_set():
        pids = tree(root)
        rss = pss = 0
        for pid in pids:
            mem = smaps_rollup(pid)
            rss, pss = rss + mem.get("Rss", 0), pss + mem.get("Pss", 0)
        peaks.rss, peaks.pss = max(peaks.rss, rss), max(peaks.pss, pss)
        peaks.procs = max(peaks.procs, len(pids))
        peaks.stop.wait(every)
