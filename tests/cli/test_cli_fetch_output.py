"""`ingest fetch -o -` (records to stdout), gzip + rotated output files, and which copy of
ingest the workers run, end to end."""

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ingest
from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, read_records, write_config
from helpers.records import validate_records
from ingest.sink import gzip_members as sink_gzip


@pytest.fixture
def site(tmp_path):
    with FaultServer() as server:
        yield server, add_small_site(server, feeds=2, per_feed=3)


def test_records_to_stdout_are_marked_seen_and_summary_stays_on_stderr(site, tmp_path):
    _, feeds = site
    config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1})
    first = run_cli("fetch", "-o", "-", "--config", str(config))
    assert first.returncode == 0, first.stderr
    records = validate_records([json.loads(line) for line in first.stdout.splitlines()])
    assert len(records) == len({r["id"] for r in records}) == 6
    assert "articles: 6 written" in first.stderr and "{" not in first.stderr
    assert not list((tmp_path / "out").rglob("*.jsonl*"))  # nothing went to files

    again = run_cli("fetch", "--output", "-", "--config", str(config))
    assert again.returncode == 0 and again.stdout == "" and "0 written" in again.stderr
    to_files = run_cli("fetch", "--config", str(config))  # seen marks hold for files too
    assert to_files.returncode == 0 and "0 written" in to_files.stderr

    bad = run_cli("fetch", "-o", "records.jsonl", "--config", str(config))
    assert bad.returncode == 2 and "only '-' (standard output)" in bad.stderr


def test_gzip_parts_and_recovery_after_a_crash(site, tmp_path):
    _, feeds = site
    config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1},
                          output={"compress": "gzip", "max_file_bytes": 300})
    first = run_cli("fetch", "--config", str(config))
    assert first.returncode == 0, first.stderr
    parts = sorted((tmp_path / "out").glob("*.jsonl.gz"))
    assert len(parts) == 2 and parts[0].name.endswith(".1.jsonl.gz")  # one part per batch
    assert len(read_records(tmp_path / "out")) == 6  # every part a valid gzip stream

    # A crash after a batch was written but before it was marked seen, and another one
    # in the middle of writing the next batch.
    last = max(parts, key=lambda p: p.stat().st_mtime_ns)
    lost = dict(read_records(tmp_path / "out")[0], id="f" * 32, url="http://127.0.0.1/lost")
    torn = sink_gzip.member(json.dumps(dict(lost, id="e" * 32)).encode() + b"\n")
    with last.open("ab") as fh:
        fh.write(sink_gzip.member(json.dumps(lost).encode() + b"\n"))
        fh.write(torn[: len(torn) // 2])
    second = run_cli("fetch", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert "cut a torn end from" in second.stderr and last.name in second.stderr
    assert "recovered: 1 records written before a crash" in second.stderr
    assert "0 written" in second.stderr
    records = read_records(tmp_path / "out")
    assert len(records) == 7 and "f" * 32 in {r["id"] for r in records}
    gzip.decompress(last.read_bytes())  # whole again


def test_an_ingest_package_in_the_current_folder_is_not_what_the_workers_run(site, tmp_path):
    # e.g. `ingest fetch` run from inside another checkout of ingest
    _, feeds = site
    config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1})
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "__init__.py").write_text(
        "raise SystemExit('the ingest/ of the current folder was imported')\n")
    proc = run_cli("fetch", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "articles: 6 written" in proc.stderr


def test_run_from_a_checkout_the_workers_run_that_checkout(site, tmp_path):
    # `python -m ingest` in a folder holding ingest/ runs that copy; so must the workers
    _, feeds = site
    config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1})
    copy = tmp_path / "ingest"
    shutil.copytree(Path(ingest.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    marker = tmp_path / "warmed-up-by-the-copy"
    with (copy / "extract" / "warmup.py").open("a") as warmup:
        warmup.write(f"\nopen({str(marker)!r}, 'w').close()\n")
    proc = subprocess.run([sys.executable, "-m", "ingest", "fetch", "--config", str(config)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "articles: 6 written" in proc.stderr and marker.exists()
