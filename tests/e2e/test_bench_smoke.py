"""The benches run end to end in their smoke forms (no timing assertions: CI machines vary).

The selected benches start together when this module starts and run side by side (the
replicas bench spends most of its time waiting on its scenario's clock, the others on the
CPU); each test collects its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import REPO

# One worker runs the whole module (pytest-xdist, --dist loadgroup): the module fixture
# starts the benches of all its selected tests, so a worker running only some of them
# would start, and throw away, the others'. The group is shared with test_crash.py,
# whose background processes would otherwise load the same CPUs at the same time.
pytestmark = [pytest.mark.timeout(150), pytest.mark.xdist_group("background")]


@pytest.fixture(scope="module")
def benches(request, tmp_path_factory):
    """{test name: (the bench's process, its folder)} for the selected tests, started
    at once; each test waits for its own. A test that needs a fixture (the corpus, the
    PostgreSQL server) is given it here, so its skip applies as it would in the test."""
    wanted = {item.originalname for item in request.session.items if item.module is request.module}
    with contextlib.ExitStack() as stack:
        started = {}
        for name, command in COMMANDS.items():
            if name not in wanted:
                continue
            args, env = command(request)
            if args is None:
                continue
            folder = tmp_path_factory.mktemp(name)
            # Files, not pipes: a bench nobody reads yet must not block on a full pipe.
            with (folder / "stdout").open("w") as out, (folder / "stderr").open("w") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", *args, "--json", str(folder / "figures.json")],
                    cwd=REPO, env=env, stdout=out, stderr=err, start_new_session=True)
            stack.callback(_stop, proc)
            started[name] = (proc, folder)
        yield started


def _stop(proc: subprocess.Popen) -> None:
    """The bench and whatever it started (its own session: replicas, servers), even the
    processes it left behind after it ended."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _optional(request, fixture: str):
    """The fixture's value, or None when it skips or fails (its test then asks for it and
    skips or fails the same way)."""
    try:
        return request.getfixturevalue(fixture)
    except (pytest.skip.Exception, pytest.fail.Exception):
        return None


def _speed(request):
    corpus = _optional(request, "corpus")
    return (None if corpus is None else
            ["bench.speed", "--quick", "--corpus", str(corpus)]), None


def _dedup(request):
    corpus = _optional(request, "corpus")
    return (None if corpus is None else
            ["bench.dedup", "--quick", "--corpus", str(corpus)]), None


def _replicas(request):
    postgres = _optional(request, "postgres")
    env = None if postgres is None else {**os.environ, "TEST_POSTGRES_URL": postgres.url}
    return (None if postgres is None else ["bench.replicas", "--quick"]), env  # the session's server


def _websub(request):
    return ["bench.websub_latency", "--quick"], None


def _feed_content(request):
    corpus = _optional(request, "corpus")
    return (None if corpus is None else
            ["bench.feed_content", str(corpus), "--quick"]), None


def _sitemaps(request):
    return ["bench.sitemaps", "--sizes", "1000,4000"], None


COMMANDS = {"test_speed_bench_quick": _speed, "test_dedup_bench_quick": _dedup,
            "test_replicas_bench_quick": _replicas, "test_websub_bench_quick": _websub,
            "test_feed_content_bench_quick": _feed_content,
            "test_sitemaps_bench_quick": _sitemaps}


def finished(benches, name: str) -> tuple[subprocess.CompletedProcess, Path]:
    """The bench's outcome once it has ended, and its JSON figures' path."""
    proc, folder = benches[name]
    proc.wait(timeout=140)
    out, err = ((folder / stream).read_text() for stream in ("stdout", "stderr"))
    return (subprocess.CompletedProcess(proc.args, proc.returncode, out, err),
            folder / "figures.json")


def test_speed_bench_quick(corpus, benches):
    proc, figures = finished(benches, "test_speed_bench_quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| measure | value | target | verdict |" in proc.stdout
    for row in ("ingest fetch, fresh state: wall", "floor = extraction CPU", "ingest ÷ floor",
                "re-poll ÷ first run", "unchanged feeds re-polled"):
        assert row in proc.stdout, row
    got = json.loads(figures.read_text())
    assert got["written"] > 0 and got["first_page_requests"] == got["feeds"] * got["items"]
    assert got["repoll_page_requests"] == 0  # nothing changed: no page is fetched again


def test_dedup_bench_quick(corpus, benches):
    proc, figures = finished(benches, "test_dedup_bench_quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(figures.read_text())
    for key in ("threshold", "precision", "recall_low", "suggested_threshold", "fingerprint_us"):
        assert key in got, key
    assert got["index"][0]["size"] == 10_000
    assert 0 < got["precision"] <= 1 and 0 < got["recall_low"] <= 1


def test_replicas_bench_quick(postgres, benches):
    proc, figures = finished(benches, "test_replicas_bench_quick")
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


def test_websub_bench_quick(benches):
    proc, figures = finished(benches, "test_websub_bench_quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| hub POST → record on disk | 3 |" in proc.stdout
    got = json.loads(figures.read_text())
    assert got["pushes"] == 3 and got["exit"] == 0
    assert got["accepted"] == 4  # the warm-up push and the three counted, each taken once


def test_feed_content_bench_quick(corpus, benches):
    proc, figures = finished(benches, "test_feed_content_bench_quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(figures.read_text())
    assert got["pages"] == 12 and got["full_taken"] > 0
    assert got["mean_f1_agreeing"] >= 0.95  # the target for what auto takes
    assert got["teasers_taken"] == got["long_teasers_taken"] == got["cut_agreed"] == 0


def test_sitemaps_bench_quick(benches):
    proc, figures = finished(benches, "test_sitemaps_bench_quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    parses = json.loads(figures.read_text())["parses"]
    # one news URL a minute back from now: the 2-day window takes the first 2,880
    assert [(p["urls"], p["file"], p["taken"]) for p in parses] == [
        (1000, "plain", 1000), (1000, "gzip", 1000), (4000, "plain", 2880), (4000, "gzip", 2880)]
