"""The repository, the corpus beside it, and the installed CLI run as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def ingest_command() -> list[str]:
    """The installed `ingest` script of this interpreter's environment, else `python -m ingest`."""
    script = Path(sys.executable).with_name("ingest")
    if script.exists():
        return [str(script)]
    found = shutil.which("ingest")
    return [found] if found else [sys.executable, "-m", "ingest"]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in a subprocess, and capture its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    full_env.update(env or {})
    return subprocess.run([*ingest_command(), *args], cwd=cwd, env=full_env, text=True,
                          capture_output=True, timeout=timeout, **kwargs)
