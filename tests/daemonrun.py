"""`ingest run` in a subprocess for end-to-end tests: its ops endpoints, its log, its stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import ingest_command


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
