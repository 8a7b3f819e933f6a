"""The benches run end to end in their smoke forms (no timing assertions: CI machines vary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.cli import REPO

pytestmark = pytest.mark.timeout(120)


def test_speed_bench_quick(corpus, tmp_path):
    figures = tmp_path / "speed.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.speed", "--quick", "--corpus", str(corpus),
         "--json", str(figures)],
        cwd=REPO, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| measure | value | target | verdict |" in proc.stdout
    for row in ("ingest fetch, fresh state: wall", "floor = extraction CPU", "ingest ÷ floor",
                "re-poll ÷ first run", "unchanged feeds re-polled"):
        assert row in proc.stdout, row
    got = json.loads(figures.read_text())
    assert got["written"] > 0 and got["first_page_requests"] == got["feeds"] * got["items"]
    assert got["repoll_page_requests"] == 0  # nothing changed: no page is fetched again


def test_dedup_bench_quick(corpus, tmp_path):
    figures = tmp_path / "dedup.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.dedup", "--quick", "--corpus", str(corpus),
         "--json", str(figures)],
        cwd=REPO, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(figures.read_text())
    for key in ("threshold", "precision", "recall_low", "suggested_threshold", "fingerprint_us"):
        assert key in got, key
    assert got["index"][0]["size"] == 10_000
    assert 0 < got["precision"] <= 1 and 0 < got["recall_low"] <= 1


def test_replicas_bench_quick(postgres, tmp_path):
    figures = tmp_path / "replicas.json"
    env = {**os.environ, "TEST_POSTGRES_URL": postgres.url}  # the session's server, not another
    proc = subprocess.run(
        [sys.executable, "-m", "bench.replicas", "--quick", "--json", str(figures)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for heading in ("### Records", "### Failover", "### Politeness", "### Share of the polls",
                    "### Database CPU", "### Round trips", "statements of the turn"):
        assert heading in proc.stdout, heading
    got = json.loads(figures.read_text())
    [scenario] = got["scenarios"]
    assert scenario["replicas"] == 3 and scenario["kills"] == 1
    assert scenario["published"] > 0 and scenario["records"] > 0 and scenario["polls"] > 0
    assert scenario["codes"] == [0, 0, 0]
    phases = got["cost"]["phases"]
    assert phases["unchanged (304), one at a time"]["outcomes"] == {"not_modified": 3}
    assert phases["unchanged (304), one at a time"]["turns"] > 0  # the proxy saw the store's calls
    assert got["cost"]["daemon"]["turns"] > 0
