"""The Store contract: what every state store does, seen only through the Store Protocol.

Each test runs against every implementation in STORES (a new one is added there), each
opened under ``tmp_path`` with an injected clock. Behaviour only one backend has (the
SQLite file, its lock, its migrations) is tested in that backend's own module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.errors import StateError
from ingest.models import Checkpoint, FeedState
from ingest.state.sqlite import SqliteStore
from ingest.state.store import Store

OpenStore = Callable[[Path, Callable[[], float]], Store]

STORES: dict[str, OpenStore] = {
    "sqlite": lambda where, clock: SqliteStore(where / "state" / "state.sqlite", clock=clock),
}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture(params=sorted(STORES))
def open_store(request, tmp_path) -> Callable[[Clock], Store]:
    """Opens the implementation under test at one place in ``tmp_path`` (again: reopens)."""
    return lambda clock: STORES[request.param](tmp_path, clock)


@pytest.fixture
def store(open_store, clock):
    s = open_store(clock)
    yield s
    s.close()


# -- seen entries ----------------------------------------------------------------------------
def test_seen_marks_and_checkpoints_are_atomic(store: Store) -> None:
    assert store.unseen(["a", "b", "c"]) == {"a", "b", "c"}
    store.mark_seen({"a": "written", "b": "skipped:http_404"},
                    {"articles.jsonl": Checkpoint(120, "f1")})
    assert store.unseen(["a", "b", "c"]) == {"c"}
    assert store.checkpoints() == {"articles.jsonl": Checkpoint(120, "f1")}
    store.mark_seen({}, {"articles.jsonl": Checkpoint(240, "f2"), "b.jsonl.gz": Checkpoint(9, None)})
    assert store.checkpoints() == {"articles.jsonl": Checkpoint(240, "f2"),
                                   "b.jsonl.gz": Checkpoint(9, None)}
    assert store.unseen([]) == set()


def test_unseen_handles_large_batches(store: Store) -> None:
    keys = [f"k{i}" for i in range(1500)]
    store.mark_seen({k: "written" for k in keys[::2]})
    assert store.unseen(keys) == set(keys[1::2])


def test_attempts_count_and_reset_when_seen(store: Store) -> None:
    assert store.record_attempt("x", "timeout") == 1
    assert store.record_attempt("x", "timeout") == 2
    assert store.record_attempt("y", "x" * 10_000) == 1  # a long error is kept short
    store.mark_seen({"x": "written"})
    assert store.record_attempt("x", "timeout") == 1
    assert store.record_attempt("y", "timeout") == 2


def test_claims_are_exclusive(store: Store) -> None:
    assert store.claim("id1")
    assert not store.claim("id1")
    assert store.claim("id2")
    store.release("id1")
    assert store.claim("id1")


def test_seen_marks_older_than_the_cutoff_are_forgotten(store: Store, clock: Clock) -> None:
    store.mark_seen({"old": "written"})
    clock.now = 5000.0
    store.mark_seen({"new": "written"})
    assert store.forget_seen_before(2000.0) == 1
    assert store.unseen(["old", "new"]) == {"old"}


# -- feeds -------------------------------------------------------------------------------------
def test_feed_state_round_trip_and_due(store: Store) -> None:
    st = store.get_feed("https://a/feed")
    assert st == FeedState(url="https://a/feed")
    st.etag, st.next_poll_at, st.failures = '"v1"', 500.0, 2
    store.put_feed(st)
    other = FeedState(url="https://b/feed", next_poll_at=2000.0)
    store.put_feed(other)
    assert store.get_feed("https://a/feed").etag == '"v1"'
    assert store.claim_due_feeds(1000.0, 10, 60) == ["https://a/feed"]  # b is due at 2000
    assert [f.url for f in store.all_feeds()] == ["https://a/feed", "https://b/feed"]


def test_every_field_of_a_feed_state_is_kept(store: Store) -> None:
    full = FeedState(url="https://a/feed", etag='W/"x"', last_modified="Mon, 01 Dec 2025",
                     body_hash="abc", last_poll_at=1.5, last_success_at=2.5, last_new_at=3.5,
                     last_unconditional_at=4.5, next_poll_at=5.5, interval=600.0, failures=3,
                     last_error="fetch: 503", articles_written=42,
                     extra={"title": "città", "n": [1, 2]})
    store.put_feed(full)
    assert store.get_feed(full.url) == full
    assert store.all_feeds() == [full]


def test_due_feeds_are_leased_in_schedule_order_up_to_the_limit(store: Store) -> None:
    for url, at in (("late", 300.0), ("early", 100.0), ("middle", 200.0), ("future", 9000.0)):
        store.put_feed(FeedState(url=url, next_poll_at=at))
    store.put_feed(FeedState(url="parked"))  # no next poll: never claimed
    assert store.claim_due_feeds(1000.0, 2, 60) == ["early", "middle"]
    assert store.claim_due_feeds(1000.0, 10, 60) == ["late"]  # the others are leased
    assert store.claim_due_feeds(1059.0, 10, 60) == []
    assert store.claim_due_feeds(1060.0, 10, 60) == ["early", "middle", "late"]  # leases ran out


def test_saving_a_feed_ends_its_lease(store: Store) -> None:
    store.put_feed(FeedState(url="a", next_poll_at=100.0))
    assert store.claim_due_feeds(1000.0, 10, 300) == ["a"]
    assert store.claim_due_feeds(1000.0, 10, 300) == []
    store.put_feed(FeedState(url="a", next_poll_at=100.0))  # the poll is over
    assert store.claim_due_feeds(1000.0, 10, 300) == ["a"]


def test_shifting_the_schedule_moves_polls_and_leases_not_parked_feeds(store: Store) -> None:
    store.put_feed(FeedState(url="a", next_poll_at=5000.0, etag="e"))
    store.put_feed(FeedState(url="parked", next_poll_at=None))
    assert store.claim_due_feeds(5000.0, 10, 300) == ["a"]  # leased until 5300
    assert store.shift_schedule(-3600.0) == 1
    assert store.get_feed("a").next_poll_at == 1400.0 and store.get_feed("a").etag == "e"
    assert store.get_feed("parked").next_poll_at is None
    assert store.claim_due_feeds(1400.0, 10, 300) == []  # still leased, until 1700
    assert store.claim_due_feeds(1700.0, 10, 300) == ["a"]


# -- footer statistics -------------------------------------------------------------------------
def test_footer_counts_accumulate(store: Store) -> None:
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


def test_footer_lines_are_listed_by_site_most_frequent_first(store: Store) -> None:
    store.add_footer_counts("rai.it", {"b": (1, "B"), "a": (1, "A"), "top": (4, "Top")})
    store.add_footer_counts("ansa.it", {"x": (2, "X")})
    assert store.footer_lines() == [("ansa.it", "x", "X", 2), ("rai.it", "top", "Top", 4),
                                    ("rai.it", "a", "A", 1), ("rai.it", "b", "B", 1)]
    assert store.footer_lines("ansa.it") == [("ansa.it", "x", "X", 2)]


def test_footer_lines_that_did_not_recur_are_forgotten(store: Store, clock: Clock) -> None:
    store.add_footer_counts("ansa.it", {"footer": (3, "Footer"), "body old": (2, "Body old")})
    clock.now = 5000.0
    store.add_footer_counts("ansa.it", {"body new": (1, "Body new")})
    store.add_footer_counts("rai.it", {"body old": (1, "Body old")})
    # below 3 counts and last seen before 2000: only the old body lines go
    assert store.forget_footer_lines(before=2000.0, below=3) == 1
    assert store.footer_counts("ansa.it") == {"footer": 3, "body new": 1}
    assert store.footer_counts("rai.it") == {"body old": 1}
    assert store.forget_footer_lines(before=6000.0, below=3) == 2
    assert store.footer_counts("ansa.it") == {"footer": 3}


# -- the store as a whole ----------------------------------------------------------------------
def test_what_was_stored_is_there_after_reopening(open_store, clock: Clock) -> None:
    store = open_store(clock)
    store.mark_seen({"a": "written"}, {"articles.jsonl": Checkpoint(12, "f")})
    store.put_feed(FeedState(url="https://a/feed", etag='"v1"', next_poll_at=5.0))
    store.add_footer_counts("ansa.it", {"segui ansa": (3, "Segui ANSA")})
    store.close()
    store = open_store(clock)
    try:
        assert store.unseen(["a", "b"]) == {"b"}
        assert store.checkpoints() == {"articles.jsonl": Checkpoint(12, "f")}
        assert store.get_feed("https://a/feed").etag == '"v1"'
        assert store.footer_counts("ansa.it") == {"segui ansa": 3}
        assert store.claim_due_feeds(10.0, 5, 60) == ["https://a/feed"]
    finally:
        store.close()


def test_ping_answers_while_open_and_raises_state_error_once_closed(open_store, clock) -> None:
    store = open_store(clock)
    store.ping()
    store.close()
    with pytest.raises(StateError):
        store.ping()
