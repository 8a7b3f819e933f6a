"""What only the SQLite store does: its file (WAL), its lock, its migrations and version,
unreadable rows. What every store does is in test_store_contract.py."""

import multiprocessing
import re
import socket
import sqlite3
import time

import pytest

from ingest.errors import StateError, StateLocked
from ingest.models import Checkpoint, FeedState, Story, StoryEntry
from ingest.state import sqlite_schema
from ingest.state.sqlite import SqliteStore
from ingest.state.sqlite_schema import SCHEMA_VERSION

# The tables of a version-1 store, as that version made them.
VERSION_1_SCHEMA = """
CREATE TABLE seen (key TEXT PRIMARY KEY, status TEXT NOT NULL, seen_at REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE attempts (key TEXT PRIMARY KEY, count INTEGER NOT NULL, last_error TEXT,
    updated_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE feeds (url TEXT PRIMARY KEY, data TEXT NOT NULL, next_poll_at REAL,
    leased_until REAL) WITHOUT ROWID;
CREATE INDEX feeds_next_poll ON feeds (next_poll_at);
CREATE TABLE footer_lines (site TEXT NOT NULL, key TEXT NOT NULL, sample TEXT NOT NULL,
    count INTEGER NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (site, key)) WITHOUT ROWID;
CREATE TABLE sink_checkpoints (path TEXT PRIMARY KEY, offset INTEGER NOT NULL,
    fingerprint TEXT) WITHOUT ROWID;
INSERT INTO seen VALUES ('k1', 'written', 10.0);
INSERT INTO feeds VALUES ('https://a/feed', '{"etag": "\\"v1\\""}', 5.0, NULL);
INSERT INTO footer_lines VALUES ('ansa.it', 'segui ansa', 'Segui ANSA', 3, 10.0);
INSERT INTO sink_checkpoints VALUES ('articles.jsonl', 77, 'f1');
PRAGMA user_version = 1;
"""


# A version-2 store: version 1's tables and rows, the near-duplicate index, no hosts.
VERSION_2_SCHEMA = VERSION_1_SCHEMA.replace("PRAGMA user_version = 1;", """
CREATE TABLE stories (id INTEGER PRIMARY KEY, record_id TEXT NOT NULL UNIQUE,
    story_id TEXT NOT NULL, signature BLOB NOT NULL, site TEXT NOT NULL, title TEXT,
    published TEXT, indexed_at REAL NOT NULL);
CREATE INDEX stories_story ON stories (story_id, indexed_at);
CREATE INDEX stories_indexed ON stories (indexed_at);
CREATE TABLE story_bands (band INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (band, id))
    WITHOUT ROWID;
INSERT INTO stories VALUES (1, 'r1', 'r1', X'00', 'ansa.it', 'T', NULL, 900.0);
INSERT INTO story_bands VALUES (7, 1);
PRAGMA user_version = 2;
""")


def version_1_store(path):
    db = sqlite3.connect(path)
    db.executescript(VERSION_1_SCHEMA)
    db.close()
    return path


def version_2_store(path):
    db = sqlite3.connect(path)
    db.executescript(VERSION_2_SCHEMA)
    db.close()
    return path


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "state" / "state.sqlite", clock=lambda: 1000.0)
    yield s
    s.close()


def test_store_is_wal_and_survives_reopen(tmp_path):
    path = tmp_path / "s.sqlite"
    s = SqliteStore(path)
    s.mark_seen({"a": "written"})
    s.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s = SqliteStore(path)
    assert s.unseen(["a"]) == set()
    s.close()


def _hold_lock(path, ready, release):
    s = SqliteStore(path)
    ready.set()
    release.wait(10)
    s.close()


def test_second_process_waits_then_gives_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite"
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(StateLocked, match=rf"held by another ingest process \(pid {holder.pid}\)"):
            SqliteStore(path, lock_timeout=0.3)
    finally:
        release.set()
        holder.join(10)
    SqliteStore(path, lock_timeout=1).close()  # free again


def test_store_from_an_earlier_version_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE feeds (url TEXT PRIMARY KEY, data TEXT NOT NULL, "
               "next_poll_at REAL) WITHOUT ROWID")
    db.execute("INSERT INTO feeds VALUES ('https://a/feed', '{}', 5.0)")
    db.commit()
    db.close()
    s = SqliteStore(path)
    assert [f.url for f in s.claim_due_feeds(10.0, 5)] == ["https://a/feed"]
    s.close()


def test_store_from_an_earlier_version_gets_checkpoint_fingerprints_and_a_version(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE sink_checkpoints (path TEXT PRIMARY KEY, offset INTEGER NOT NULL) "
               "WITHOUT ROWID")
    db.execute("INSERT INTO sink_checkpoints VALUES ('articles.jsonl', 77)")
    db.commit()
    db.close()
    s = SqliteStore(path)
    assert s.checkpoints() == {"articles.jsonl": Checkpoint(77, None)}  # trusted as before
    s.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_1_store_is_migrated_in_place_and_keeps_what_it_held(tmp_path):
    path = version_1_store(tmp_path / "v1.sqlite")
    reader = SqliteStore.open_readonly(path)  # beside a version-1 writer: no index yet
    assert reader.stories(0.0, 1) == [] and reader.unseen(["k1"]) == set()
    reader.close()
    s = SqliteStore(path)
    try:
        assert s.unseen(["k1", "k2"]) == {"k2"}
        assert s.get_feed("https://a/feed").etag == '"v1"'
        assert s.footer_counts("ansa.it") == {"segui ansa": 3}
        assert s.checkpoints() == {"articles.jsonl": Checkpoint(77, "f1")}
        s.add_stories([StoryEntry("r1", "r1", b"sig", (1, 2), indexed_at=900.0)])
        assert [e.record_id for e in s.story_candidates([2], 0.0)] == ["r1"]
    finally:
        s.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert {"stories", "story_bands", "hosts", "robots", "subscriptions"} <= {r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()


def test_a_version_1_ingest_refuses_the_migrated_store(tmp_path, monkeypatch):
    path = version_1_store(tmp_path / "v1.sqlite")
    SqliteStore(path).close()
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", 1)  # what that version checks against
    for open_store in (SqliteStore, SqliteStore.open_readonly):
        with pytest.raises(StateError, match=r"newer version of ingest \(store schema 5; this "
                                             r"one knows up to 1\)"):
            open_store(path)


def test_a_version_2_store_is_migrated_in_place_and_keeps_what_it_held(tmp_path):
    path = version_2_store(tmp_path / "v2.sqlite")
    reader = SqliteStore.open_readonly(path)  # beside a version-2 writer: no hosts table yet
    assert reader.resting_hosts(0.0) == {} and reader.story_size("r1") == 1
    reader.close()
    s = SqliteStore(path, clock=lambda: 1000.0)
    try:
        assert s.unseen(["k1", "k2"]) == {"k2"}
        assert s.get_feed("https://a/feed").etag == '"v1"'
        assert s.footer_counts("ansa.it") == {"segui ansa": 3}
        assert s.checkpoints() == {"articles.jsonl": Checkpoint(77, "f1")}
        assert [e.record_id for e in s.story_candidates([7], 0.0)] == ["r1"]
        s.rest_host("a.example", 5000.0, "answered HTTP 429, asked us to wait")
        assert s.resting_hosts(1000.0) == {
            "a.example": (5000.0, "answered HTTP 429, asked us to wait")}
    finally:
        s.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()
    reader = SqliteStore.open_readonly(path)
    try:
        assert list(reader.resting_hosts(1000.0)) == ["a.example"]
    finally:
        reader.close()


def test_a_version_2_ingest_refuses_the_migrated_store(tmp_path, monkeypatch):
    path = version_2_store(tmp_path / "v2.sqlite")
    SqliteStore(path).close()
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", 2)
    with pytest.raises(StateError, match=r"store schema 5; this one knows up to 2"):
        SqliteStore(path)


def test_store_written_by_a_newer_version_is_refused_clearly(tmp_path):
    path = tmp_path / "new.sqlite"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    for open_store in (SqliteStore, SqliteStore.open_readonly):
        with pytest.raises(StateError, match=rf"{path}.*newer version of ingest \(store schema "
                                             rf"{SCHEMA_VERSION + 1}; this one knows up to "
                                             rf"{SCHEMA_VERSION}\)"):
            open_store(path)
    with pytest.raises(StateError, match="newer version"):  # not StateLocked: the lock was let go
        SqliteStore(path, lock_timeout=0)


def test_forgetting_index_entries_drops_their_band_rows(store):
    store.add_stories([StoryEntry(f"r{i}", "r0", b"sig", (i, -i - 1, 2 ** 63 - 1), indexed_at=i)
                       for i in range(1500)])
    store.add_stories([StoryEntry("new", "new", b"sig", (7, 8), indexed_at=5000.0)])

    def band_rows() -> int:
        return store._db.execute("SELECT count(*) FROM story_bands").fetchone()[0]

    assert band_rows() == 1500 * 3 + 2
    assert store.forget_stories_before(1200.0) == 1200
    assert band_rows() == 300 * 3 + 2
    assert store.forget_stories_before(5000.0) == 300
    assert band_rows() == 2


def test_a_lookup_of_more_band_keys_than_a_statement_takes_is_split(store):
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # SQLite's smallest default
    store.add_stories([StoryEntry("a", "a", b"sig", (5000,), indexed_at=1.0)])
    found = store.story_candidates(list(range(10_000, 12_000)) + [5000], 0.0)
    assert [e.record_id for e in found] == ["a"]


@pytest.mark.parametrize("data, problem", [
    ("{not json", "Expecting property name"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"failures": "many"}', "failures is 'many'"),
    ('{"next_poll_at": true}', "next_poll_at is True"),
    ('{"extra": [1]}', r"extra is \[1\]"),
])
def test_an_unreadable_feed_row_is_named_and_the_feed_starts_afresh(store, caplog, data, problem):
    store.put_feed(FeedState(url="https://a/feed", etag='"v1"', failures=2))
    store._db.execute("UPDATE feeds SET data = ? WHERE url = ?", (data, "https://a/feed"))
    with caplog.at_level("ERROR", logger="ingest.state"):
        state = store.get_feed("https://a/feed")
    assert state == FeedState(url="https://a/feed")
    assert re.search(rf"feed https://a/feed in {re.escape(str(store.path))} is unreadable "
                     rf"\(.*{problem}", caplog.text), caplog.text
    assert [s.url for s in store.all_feeds()] == ["https://a/feed"]  # status still lists it
    store.put_feed(state)  # the next poll's save repairs the row
    assert store.get_feed("https://a/feed") == state


def test_a_reopened_store_ends_the_leases_a_killed_writer_left(tmp_path):
    path = tmp_path / "s.sqlite"
    s = SqliteStore(path)
    s.put_feed(FeedState(url="a", next_poll_at=5.0))
    assert [f.url for f in s.claim_due_feeds(10.0, 5)] == ["a"]
    s.close()  # the lease is still in the file, as after a SIGKILL
    s = SqliteStore(path)
    assert [f.url for f in s.claim_due_feeds(10.0, 5)] == ["a"]
    s.close()


def test_the_read_only_view_reads_beside_the_writer_and_changes_nothing(tmp_path):
    path = tmp_path / "s.sqlite"
    writer = SqliteStore(path, lock_timeout=0)
    try:
        writer.mark_seen({"a": "written"}, {"articles.jsonl": Checkpoint(12, "f")})
        writer.put_feed(FeedState(url="f", next_poll_at=5.0))
        reader = SqliteStore.open_readonly(path)  # no lock: the writer holds it
        try:
            assert reader.unseen(["a", "b"]) == {"b"}
            assert reader.checkpoints() == {"articles.jsonl": Checkpoint(12, "f")}
            writer.add_footer_counts("ansa.it", {"k": (3, "K")})  # committed after it opened
            assert reader.footer_lines() == [("ansa.it", "k", "K", 3)]
            assert reader.stories(0.0, 1) == []
            writer.add_stories([StoryEntry("r1", "r1", b"sig", (1,), "a.it", "T", None, 900.0),
                                StoryEntry("r2", "r1", b"sig", (2,), "b.it", "T", None, 950.0)])
            assert reader.stories(0.0, 2) == [Story("r1", 2, None, 900.0, ("a.it", "b.it"), ("T",))]
            for write in (lambda: reader.mark_seen({"b": "written"}),
                          lambda: reader.put_feed(FeedState(url="g")),
                          lambda: reader.add_footer_counts("ansa.it", {"k": (1, "K")}),
                          lambda: reader.add_stories([StoryEntry("r3", "r3", b"sig", (3,))]),
                          lambda: reader.forget_stories_before(2000.0)):
                with pytest.raises(StateError, match=r"open read-only; nothing was changed"):
                    write()
            with pytest.raises(StateError, match="claiming due feeds in"):
                reader.claim_due_feeds(10.0, 5)
        finally:
            reader.close()
        assert writer.unseen(["b"]) == {"b"} and writer.footer_counts("ansa.it") == {"k": 3}
        assert [s.size for s in writer.stories(0.0, 1)] == [2]
        assert [f.url for f in writer.claim_due_feeds(10.0, 5)] == ["f"]
    finally:
        writer.close()


def test_the_read_only_view_names_a_missing_store_or_a_file_that_is_not_one(tmp_path):
    with pytest.raises(StateError, match=r"no state store at .*missing\.sqlite yet"):
        SqliteStore.open_readonly(tmp_path / "missing.sqlite")
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n" * 100)
    with pytest.raises(StateError, match=r"cannot read .*notes\.txt: .*is it an ingest state store"):
        SqliteStore.open_readonly(other)


def test_a_rest_keeps_the_later_end_and_outlives_the_process_until_it_is_over(tmp_path):
    path = tmp_path / "s.sqlite"
    s = SqliteStore(path, clock=lambda: 1000.0)
    s.rest_host("a.example", 5000.0, "answered HTTP 429, asked us to wait")
    s.rest_host("a.example", 3000.0, "timed out 3 times in a row, left alone")  # earlier: kept
    s.rest_host("b.example", 2000.0, "timed out 3 times in a row, left alone")
    s.rest_host("b.example", 2500.0, "answered HTTP 503, asked us to wait")  # later: replaces
    assert s.resting_hosts(1000.0) == {
        "a.example": (5000.0, "answered HTTP 429, asked us to wait"),
        "b.example": (2500.0, "answered HTTP 503, asked us to wait")}
    assert list(s.resting_hosts(2500.0)) == ["a.example"]  # a rest ending now is over
    s.close()
    s = SqliteStore(path, clock=lambda: 3000.0)  # b's rest is over: dropped at opening
    try:
        assert s.resting_hosts(0.0) == {"a.example": (5000.0, "answered HTTP 429, asked us to wait")}
    finally:
        s.close()
    reader = SqliteStore.open_readonly(path)
    try:
        with pytest.raises(StateError, match="open read-only; nothing was changed"):
            reader.rest_host("c.example", 9000.0, "x")
    finally:
        reader.close()


def test_one_replica_per_file_owns_every_lease_and_refuses_claims_of_seen_keys(tmp_path):
    path = tmp_path / "s.sqlite"
    now = time.time()  # the reader beside it reads the wall clock
    clock = [now]
    s = SqliteStore(path, clock=lambda: clock[0], replica="node-1")
    try:
        assert SqliteStore.lease_seconds == s.lease_seconds == 300.0
        s.put_feed(FeedState(url="a", next_poll_at=5.0))
        s.put_feed(FeedState(url="b", next_poll_at=5.0))
        assert s.leases() == {}
        assert [f.url for f in s.claim_due_feeds(now, 1)] == ["a"]
        assert s.leases() == {"a": "node-1"}
        reader = SqliteStore.open_readonly(path, replica="node-1")
        assert reader.leases() == {"a": "node-1"} and reader.replica == "node-1"
        reader.close()
        clock[0] = now + 300.0  # the lease ran out (its poll never saved the feed)
        assert s.leases() == {}
        assert [f.url for f in s.claim_due_feeds(now + 300.0, 5)] == ["a", "b"]
        s.put_feed(FeedState(url="a", next_poll_at=900.0))  # a's poll is over
        assert s.leases() == {"b": "node-1"}
        s.mark_seen({"done": "written"})
        assert not s.claim("done")  # marked seen: never in flight again
        assert s.claim("new") and not s.claim("new")
    finally:
        s.close()
    s = SqliteStore(path)
    try:
        assert s.replica == socket.gethostname()
        assert s.leases() == {}  # opening ended the leases left in the file
    finally:
        s.close()
