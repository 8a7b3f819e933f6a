"""The benches run end to end in their smoke forms (no timing assertions: CI machines vary)."""

from __future__ import annotations

import json
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
