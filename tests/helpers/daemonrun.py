"""`ingest run` in a subprocess for end-to-end tests: its ops endpoints, its log, its stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cli import ingest_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    """`ingest run --config ...` in a subprocess, its log in a file."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.port, self.log = port, log
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
        self.proc = subprocess.Popen([*ingest_command(), "run", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env)
        wait_for(lambda: self.get("/healthz")[0] == 200, 15, self.text)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            assert self.proc.poll() is None, f"daemon exited early:\n{self.text()}"
            return 0, ""

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
        in_flight = [line for line in self.get("/metrics")[1].splitlines()
                     if line.startswith("ingest_polls_in_flight ")]
        return polled == feeds and in_flight == ["ingest_polls_in_flight 0.0"]

    def stop(self, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(check, timeout: float, describe=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"gave up after {timeout}s\n{describe()}"
        time.sleep(0.1)
