"""The CLI with its state in a real PostgreSQL: `ingest fetch`, `status`, `check`, the table
sink, `migrate-state` from SQLite, and a database that does not answer.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, read_records, write_config

pytestmark = pytest.mark.timeout(240)
SECRET = "s3cret-Pa55word"


@pytest.fixture
def site():
    with FaultServer() as server:
        yield server


def _with_password(url: str) -> str:
    """``url`` with a password in it (the test server trusts local connections: unused)."""
    head, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    return f"{head}://{user.split(':')[0]}:{SECRET}@{host}"


def test_fetch_writes_replica_files_and_status_reads_the_shared_store(tmp_path, site,
                                                                       postgres_url):
    feeds = add_small_site(site, feeds=2, per_feed=3)
    config = write_config(tmp_path / "config.yaml", feeds, state={"url": _with_password(postgres_url),
                                                                  "replica": "node-a"})
    first = run_cli("fetch", "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert [p.name.split(".")[1] for p in (tmp_path / "out").iterdir()] == ["node-a"]
    assert len(read_records(tmp_path / "out")) == 6
    assert not (tmp_path / "state").exists()  # state.path unused

    again = run_cli("fetch", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0 and len(read_records(tmp_path / "out")) == 6
    status = run_cli("status", "--json", "--config", str(config), cwd=tmp_path)
    rows = json.loads(status.stdout)
    assert [r["articles_written"] for r in rows] == [3, 3] and all(r["polled"] for r in rows)
    check = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert check.returncode == 0
    for result in (first, again, status, check):
        assert SECRET not in result.stdout + result.stderr


def test_the_table_sink_writes_each_record_once(tmp_path, site, postgres_url):
    feeds = add_small_site(site, feeds=2, per_feed=2)
    config = write_config(tmp_path / "config.yaml", feeds, state={"url": postgres_url},
                          output={"sink": "postgres", "table": "news"})
    for _ in range(2):
        result = run_cli("fetch", "--config", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT id, record->>'title', feed FROM news").fetchall()
        marked = conn.execute("SELECT count(*) FROM seen WHERE key = ANY(%s)",
                              ([r[0] for r in rows],)).fetchone()[0]
    assert len(rows) == 4 and {r[1] for r in rows} == {f"Notizia {f}-{i}" for f in range(2)
                                                        for i in range(2)}
    assert marked == 4
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _with_etags(site, feeds) -> None:
    """The feeds of add_small_site answered with an ETag (so polls can be conditional)."""
    for number, (_, url) in enumerate(feeds):
        path = url.split(str(site.port), 1)[1]
        with site._lock:
            _, body, headers = site._static[path]
        site.add(path, body, {**headers, "ETag": f'"feed-{number}"'})


def test_migrate_state_continues_where_sqlite_stopped(tmp_path, site, postgres_url):
    feeds = add_small_site(site, feeds=2, per_feed=3)
    _with_etags(site, feeds)
    config = write_config(tmp_path / "config.yaml", feeds)
    assert run_cli("fetch", "--config", str(config), cwd=tmp_path).returncode == 0
    written = len(read_records(tmp_path / "out"))
    before = len(site.requests)

    moved = run_cli("migrate-state", "--config", str(config), "--to", _with_password(postgres_url),
                    cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert SECRET not in moved.stdout + moved.stderr
    again = run_cli("migrate-state", "--config", str(config), "--to", postgres_url, cwd=tmp_path)
    assert again.returncode != 0 and "--merge" in again.stderr  # the target holds a store now

    config = write_config(tmp_path / "config.yaml", feeds, state={"url": postgres_url})
    after = run_cli("fetch", "--config", str(config), cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert len(read_records(tmp_path / "out")) == written  # nothing written twice
    later = site.requests[before:]
    assert not [p for _, p, _ in later if p.endswith(".html")]  # no page fetched again
    feed_requests = [h for _, p, h in later if p.endswith(".xml")]
    assert len(feed_requests) == 2 and all("if-none-match" in h for h in feed_requests)
    assert "2 not modified" in after.stderr or "not modified" in after.stderr


def test_an_unreachable_database_is_a_clear_error(tmp_path, site):
    feeds = add_small_site(site, feeds=1, per_feed=1)
    url = f"postgresql://ingest:{SECRET}@/ingest?host={tmp_path}/nowhere&connect_timeout=2"
    config = write_config(tmp_path / "config.yaml", feeds,
                          state={"url": url, "connect_timeout": "3s"})
    fetch = run_cli("fetch", "--config", str(config), cwd=tmp_path)
    assert fetch.returncode == 1
    assert "PostgreSQL" in fetch.stderr and "ingest@" in fetch.stderr and SECRET not in fetch.stderr
    assert "Traceback" not in fetch.stderr

    run = run_cli("run", "--config", str(config), cwd=tmp_path, timeout=60)
    assert run.returncode == 1
    tries = [line for line in run.stderr.splitlines() if "trying again" in line]
    assert len(tries) >= 2, run.stderr  # it waited, logging each try
    assert SECRET not in run.stderr and "Traceback" not in run.stderr
