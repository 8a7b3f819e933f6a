"""Shared fixtures: the corpus beside the repository, and the installed CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from helpers.cli import CORPUS

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


@pytest.fixture(scope="session")
def postgres():
    """The session's real PostgreSQL (tests/helpers/postgres.py)."""
    from helpers.postgres import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh, empty database of the session's PostgreSQL."""
    return postgres.new_database()
