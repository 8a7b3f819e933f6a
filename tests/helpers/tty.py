"""The CLI run with its stderr on a pseudo-terminal, as a person at a terminal sees it."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading

from .cli import ingest_command

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


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
