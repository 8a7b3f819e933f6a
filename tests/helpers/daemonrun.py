"""`ingest run` in a subprocess, for end-to-end tests and bench/speed_daemon.py: its ops
endpoints, its log, its stop."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from .cli import ingest_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    """`ingest run --config ...` in a subprocess, its log in a file; ready once /healthz
    answers (within ``ready_within`` s). ``env`` adds to this environment without its
    INGEST_* variables; ``answer_within`` is how long an ops request may take."""

    def __init__(self, config: Path, port: int, log: Path, *, env: Mapping[str, str] | None = None,
                 ready_within: float = 15, answer_within: float = 2) -> None:
        self.port, self.log, self.answer_within = port, log, answer_within
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
        full_env.update(env or {})
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen([*ingest_command(), "run", "--config", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log_file, env=full_env)
        try:
            wait_for(lambda: self.get("/healthz")[0] == 200, ready_within, self.text)
        except BaseException:
            self.kill()
            raise

    def get(self, path: str) -> tuple[int, str]:
        """(status, body) of an ops endpoint; (0, "") while it does not answer."""
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=self.answer_within) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited early ({self.proc.returncode}):\n"
                                     f"{self.text()}") from None
            return 0, ""

    def metric(self, name: str) -> float:
        """The value of one /metrics line, by its name with labels; NaN when absent."""
        code, text = self.get("/metrics")
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE) if code == 200 else None
        return float(match.group(1)) if match else math.nan

    def healthz_seconds(self) -> float:
        """How long /healthz took to answer 200 (a generous client timeout: a frozen
        event loop shows as a long answer, not as a failed request)."""
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=30) as r:
            assert r.status == 200
        return time.monotonic() - started

    def polls_settled(self, feeds: int) -> bool:
        """Every one of ``feeds`` polled at least once (/status: a success or a failure)
        and no poll in flight (/metrics)."""
        status = json.loads(self.get("/status")[1] or "[]")
        polled = sum(1 for row in status if row.get("last_success_at") or row.get("failures"))
        return polled == feeds and self.metric("ingest_polls_in_flight") == 0

    def stop(self, timeout: float) -> tuple[int | None, float]:
        """SIGTERM, then the exit code (None: still running after ``timeout`` s) and the
        seconds it took."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - started

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


def wait_for(check: Callable[[], object], timeout: float, describe: Callable[[], str] = lambda: "",
             every: float = 0.1) -> None:
    """Ask ``check()`` every ``every`` s until it is true; after ``timeout`` s, fail with
    ``describe()``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout}s\n{describe()}")
        time.sleep(every)
