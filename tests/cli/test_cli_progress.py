"""`ingest fetch` shows progress on a terminal (a pseudo-terminal here), and nothing of
the kind when stderr is a pipe or with -q."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading

import pytest

from helpers.cli import ingest_command, run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, write_config

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BAR = "━"


def run_with_tty_stderr(*args: str, cwd, timeout: float = 60) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (160 columns); return (status, stdout,
    what the terminal received)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    env.update(TERM="xterm-256color", COLUMNS="160")
    proc = subprocess.Popen([*ingest_command(), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    received: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        stdout = proc.communicate(timeout=timeout)[0].decode()
        reader.join(10)
    finally:
        os.close(master)
    return proc.returncode, stdout, b"".join(received).decode("utf-8", "replace")


@pytest.fixture
def config(tmp_path):
    with FaultServer() as server:
        feeds = add_small_site(server, feeds=2) + [("down", server.url("/status/503"))]
        yield write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1})


def test_progress_on_a_terminal(config, tmp_path):
    status, stdout, screen = run_with_tty_stderr("fetch", "-vv", "--config", str(config),
                                                 cwd=tmp_path)
    assert status == 1, screen  # the "down" feed failed
    assert stdout == ""
    assert BAR in screen and ANSI.search(screen)
    text = ANSI.sub("", screen)
    assert "3/3 feeds · 6 articles written · 1 failed" in text
    # -vv log lines are printed above the bar, each on a line of its own.
    logged = re.findall(r"(?:^|\r\n|\r)(\d\d:\d\d:\d\d (?:DEBUG|INFO|WARNING|ERROR) .*?)\r?\n", text)
    assert logged and not any(BAR in line for line in logged)
    assert "feeds: 2 ok, 0 not modified, 1 failed" in text  # the summary still ends the run


def test_no_progress_with_q_on_a_terminal(config, tmp_path):
    status, _, screen = run_with_tty_stderr("fetch", "-q", "--config", str(config), cwd=tmp_path)
    assert status == 1
    assert BAR not in screen and "articles written" not in screen
    assert "feeds: 2 ok, 0 not modified, 1 failed" in screen


def test_no_progress_when_stderr_is_not_a_terminal(config, tmp_path):
    proc = run_cli("fetch", "--config", str(config), env={"TERM": "xterm-256color",
                                                          "FORCE_COLOR": "1"})
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr and BAR not in proc.stderr
    assert "articles written" not in proc.stderr
    assert "\r" not in proc.stderr
    assert "feeds: 2 ok, 0 not modified, 1 failed\narticles: 6 written" in proc.stderr
    assert "FAILED down" in proc.stderr
