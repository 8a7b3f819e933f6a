"""Moving up from SQLite: a store written through SqliteStore, copied into a real
PostgreSQL database, reads the same through PostgresStore; a non-empty target is refused
unless merged into, and merging the same copy again changes nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from ingest.errors import StateError
from ingest.models import Checkpoint, FeedState, StoryEntry
from ingest.state.migrate import copy_sqlite_store
from ingest.state.postgres import PostgresStore
from ingest.state.sqlite import SqliteStore

FEED = FeedState(url="https://a.example/feed", etag='W/"v7"', last_modified="Mon, 01 Dec 2025",
                 body_hash="abc", last_poll_at=900.0, last_success_at=900.0, next_poll_at=1500.0,
                 interval=600.0, failures=1, last_error="fetch: 503", articles_written=12,
                 extra={"title": "città"})
STORIES = [StoryEntry("r1", "r1", b"\x00\x01sig", (1, 2, -(2 ** 63)), "a.example", "T", None, 900.0),
           StoryEntry("r2", "r1", b"sig2", (2, 3), "b.example", None, "2025-01-01T00:00:00Z", 950.0)]


def clock() -> float:
    return 1000.0


def sqlite_store(path: Path) -> Path:
    """A SQLite store holding some of everything; left open (locked) by the caller's
    SqliteStore while copied, as `ingest migrate-state` does."""
    store = SqliteStore(path, clock=clock, replica="solo")
    store.mark_seen({"k1": "written", "k2": "skipped:http_404"},
                    {"articles-2025-12-01.jsonl": Checkpoint(1234, "f1")})
    assert store.record_attempt("k3", "timeout") == 1
    store.put_feed(FEED)
    store.put_feed(FeedState(url="https://b.example/feed", next_poll_at=100.0))
    # a lease: not copied
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["https://b.example/feed"]
    store.add_footer_counts("a.example", {"segui": (7, "Segui"), "once": (1, "Once")})
    store.rest_host("a.example", 5000.0, "answered HTTP 429")
    store.add_stories(STORIES)
    store.close()
    return path


def test_a_copied_store_reads_the_same_through_postgres(tmp_path, postgres_url) -> None:
    path = sqlite_store(tmp_path / "state.sqlite")
    held = SqliteStore(path, clock=clock)  # the lock holder: the copy reads beside it
    try:
        copied = copy_sqlite_store(path, postgres_url)
    finally:
        held.close()
    assert copied == {"seen": 2, "attempts": 1, "feeds": 2, "footer_lines": 2,
                      "sink_checkpoints": 1, "hosts": 1, "stories": 2, "story_bands": 5}
    store = PostgresStore(postgres_url, replica="r1", clock=clock)
    try:
        assert store.unseen(["k1", "k2", "k3"]) == {"k3"} and not store.claim("k1")
        assert store.record_attempt("k3", "timeout") == 2
        assert store.get_feed(FEED.url) == FEED
        assert store.checkpoints() == {"articles-2025-12-01.jsonl": Checkpoint(1234, "f1")}
        assert store.footer_lines() == [("a.example", "segui", "Segui", 7),
                                        ("a.example", "once", "Once", 1)]
        assert store.resting_hosts(1000.0) == {"a.example": (5000.0, "answered HTTP 429")}
        assert store.leases() == {}
        assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["https://b.example/feed"]
        assert store.story_candidates([-(2 ** 63)], 0.0) == [
            StoryEntry("r1", "r1", b"\x00\x01sig", (), "a.example", "T", None, 900.0)]
        assert [e.record_id for e in store.story_candidates([2], 0.0)] == ["r1", "r2"]
        assert [e.record_id for e in store.story_candidates([3], 0.0)] == ["r2"]
        assert [(s.story_id, s.size, s.sites) for s in store.stories(0.0, 1)] == [
            ("r1", 2, ("a.example", "b.example"))]
    finally:
        store.close()


def test_a_target_with_state_is_refused_unless_merged_and_merging_again_changes_nothing(
        tmp_path, postgres_url) -> None:
    path = sqlite_store(tmp_path / "state.sqlite")
    copy_sqlite_store(path, postgres_url)
    with pytest.raises(StateError, match=r"holds ingest state already \(2 seen marks, 2 feeds\)"):
        copy_sqlite_store(path, postgres_url)
    assert set(copy_sqlite_store(path, postgres_url, merge=True).values()) == {0}
    store = PostgresStore(postgres_url, replica="r1", clock=clock)
    try:
        assert store.footer_counts("a.example") == {"segui": 7, "once": 1}  # not doubled
        assert store.story_size("r1") == 2
    finally:
        store.close()


def test_merging_keeps_what_the_database_holds(tmp_path, postgres_url) -> None:
    path = sqlite_store(tmp_path / "state.sqlite")
    store = PostgresStore(postgres_url, replica="r1", clock=clock)
    try:
        store.put_feed(FeedState(url=FEED.url, etag='"newer"'))
        store.mark_seen({"k9": "written"})
        store.add_footer_counts("a.example", {"segui": (3, "Segui"), "once": (5, "Once!")})
        copied = copy_sqlite_store(path, postgres_url, merge=True)
        assert (copied["feeds"], copied["seen"], copied["footer_lines"]) == (1, 2, 1)
        assert store.get_feed(FEED.url).etag == '"newer"'
        assert store.unseen(["k1", "k9"]) == set()
        assert store.footer_counts("a.example") == {"segui": 7, "once": 5}  # the larger
    finally:
        store.close()


def test_a_copy_that_fails_copies_nothing(tmp_path, postgres_url) -> None:
    path = sqlite_store(tmp_path / "state.sqlite")
    db = sqlite3.connect(path)
    # the last but one table read: every other one is on its way by then
    db.execute("UPDATE stories SET title = CAST(x'ff' AS TEXT) WHERE record_id = 'r2'")  # not UTF-8
    db.commit()
    db.close()
    with pytest.raises(StateError, match="nothing was copied"):
        copy_sqlite_store(path, postgres_url)
    with psycopg.connect(postgres_url) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM seen), (SELECT count(*) FROM feeds)"
                              ).fetchone()
    assert counts == (0, 0)


def test_a_store_of_an_earlier_version_is_copied_without_what_it_lacks(tmp_path,
                                                                      postgres_url) -> None:
    path = sqlite_store(tmp_path / "state.sqlite")
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE hosts; DROP TABLE story_bands; DROP TABLE stories; "
                     "PRAGMA user_version = 1;")
    db.close()
    copied = copy_sqlite_store(path, postgres_url)
    assert (copied["seen"], copied["hosts"], copied["stories"]) == (2, 0, 0)


def test_a_file_that_is_not_a_store_is_refused(tmp_path, postgres_url) -> None:
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StateError, match="is it an ingest state store"):
        copy_sqlite_store(path, postgres_url)
