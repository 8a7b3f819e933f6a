"""Shared fixtures: the corpus beside the repository, and the installed CLI."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
RECORD_SCHEMA = REPO / "schema" / "record.schema.json"


# Property-based tests (marked ``fuzz``): a short run by default (the whole suite, and CI);
# HYPOTHESIS_PROFILE=long for a contributor's longer run (see README, "Fuzzing").
# The deadline is a generous ceiling per example, not a measurement: runaway work on
# one input (seconds, or never ending) fails it, a busy machine's jitter does not.
settings.register_profile("ci", max_examples=60, deadline=2000, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS} (expected ../shared/corpus beside the repo)")
    return CORPUS


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


@functools.cache
def record_validator():
    """A JSON Schema validator for schema/record.schema.json (checked once)."""
    import jsonschema

    schema = json.loads(RECORD_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_records(records: list[dict]) -> list[dict]:
    """Fail on the first record that breaks schema/record.schema.json; return the records.

    newssite.read_records calls it, so every end-to-end test checks what it reads.
    """
    from jsonschema.exceptions import best_match

    validator = record_validator()
    for i, record in enumerate(records):
        error = best_match(validator.iter_errors(record))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "the record"
            raise AssertionError(f"record {i} ({record.get('url')}) breaks "
                                 f"{RECORD_SCHEMA.relative_to(REPO)} at {where}: {error.message}")
    return records
