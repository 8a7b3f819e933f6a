import multiprocessing
import re
import sqlite3

import pytest

from ingest.errors import StateError, StateLocked
from ingest.models import Checkpoint, FeedState
from ingest.state.sqlite import SCHEMA_VERSION, SqliteStore


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "state" / "state.sqlite", clock=lambda: 1000.0)
    yield s
    s.close()


def test_seen_marks_and_checkpoints_are_atomic(store):
    assert store.unseen(["a", "b", "c"]) == {"a", "b", "c"}
    store.mark_seen({"a": "written", "b": "skipped:http_404"},
                    {"articles.jsonl": Checkpoint(120, "f1")})
    assert store.unseen(["a", "b", "c"]) == {"c"}
    assert store.checkpoints() == {"articles.jsonl": Checkpoint(120, "f1")}
    store.mark_seen({}, {"articles.jsonl": Checkpoint(240, "f2")})
    assert store.checkpoints() == {"articles.jsonl": Checkpoint(240, "f2")}


def test_unseen_handles_large_batches(store):
    keys = [f"k{i}" for i in range(1500)]
    store.mark_seen({k: "written" for k in keys[::2]})
    assert store.unseen(keys) == set(keys[1::2])


def test_attempts_count_and_reset_when_seen(store):
    assert store.record_attempt("x", "timeout") == 1
    assert store.record_attempt("x", "timeout") == 2
    store.mark_seen({"x": "written"})
    assert store.record_attempt("x", "timeout") == 1


def test_feed_state_round_trip_and_due(store):
    st = store.get_feed("https://a/feed")
    assert st.etag is None and st.failures == 0
    st.etag, st.next_poll_at, st.failures = '"v1"', 500.0, 2
    store.put_feed(st)
    other = FeedState(url="https://b/feed", next_poll_at=2000.0)
    store.put_feed(other)
    assert store.get_feed("https://a/feed").etag == '"v1"'
    assert store.claim_due_feeds(1000.0, 10, 60) == ["https://a/feed"]  # b is due at 2000
    assert [f.url for f in store.all_feeds()] == ["https://a/feed", "https://b/feed"]


def test_footer_counts_accumulate(store):
    store.add_footer_counts("ansa.it", {"segui ansa": (3, "Segui ANSA")})
    store.add_footer_counts("ansa.it", {"segui ansa": (2, "Segui ANSA")})
    assert store.footer_counts("ansa.it") == {"segui ansa": 5}
    assert store.footer_lines("ansa.it") == [("ansa.it", "segui ansa", "Segui ANSA", 5)]
    assert store.footer_counts("other.it") == {}
    many = {f"line {i}": (1, f"Line {i}") for i in range(1200)}
    store.add_footer_counts("ansa.it", many)
    wanted = ["segui ansa", "line 7", "line 1100", "never seen"]
    assert store.footer_counts("ansa.it", wanted) == {"segui ansa": 5, "line 7": 1,
                                                      "line 1100": 1}


def test_footer_lines_that_did_not_recur_are_forgotten(tmp_path):
    now = [1000.0]
    store = SqliteStore(tmp_path / "state.sqlite", clock=lambda: now[0])
    store.add_footer_counts("ansa.it", {"footer": (3, "Footer"), "body old": (2, "Body old")})
    now[0] = 5000.0
    store.add_footer_counts("ansa.it", {"body new": (1, "Body new")})
    store.add_footer_counts("rai.it", {"body old": (1, "Body old")})
    # below 3 counts and last seen before 2000: only the old body lines go
    assert store.forget_footer_lines(before=2000.0, below=3) == 1
    assert store.footer_counts("ansa.it") == {"footer": 3, "body new": 1}
    assert store.footer_counts("rai.it") == {"body old": 1}
    assert store.forget_footer_lines(before=6000.0, below=3) == 2
    assert store.footer_counts("ansa.it") == {"footer": 3}
    store.close()


def test_claims_are_exclusive(store):
    assert store.claim("id1")
    assert not store.claim("id1")
    store.release("id1")
    assert store.claim("id1")


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
    assert s.claim_due_feeds(10.0, 5, 300) == ["https://a/feed"]
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


def test_shifting_the_schedule_moves_polls_and_leases_not_parked_feeds(store):
    store.put_feed(FeedState(url="a", next_poll_at=5000.0, etag="e"))
    store.put_feed(FeedState(url="parked", next_poll_at=None))
    assert store.claim_due_feeds(5000.0, 10, 300) == ["a"]  # leased until 5300
    assert store.shift_schedule(-3600.0) == 1
    assert store.get_feed("a").next_poll_at == 1400.0 and store.get_feed("a").etag == "e"
    assert store.get_feed("parked").next_poll_at is None
    assert store.claim_due_feeds(1400.0, 10, 300) == []  # still leased, until 1700
    assert store.claim_due_feeds(1700.0, 10, 300) == ["a"]
