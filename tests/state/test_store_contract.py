"""The Store contract: what every state store does, seen only through the Store Protocol.

Each test runs against every implementation in STORES (a new one is added there), each
opened at a place of its own (a file under ``tmp_path``, a fresh PostgreSQL database)
with an injected clock. Behaviour only one backend has (the SQLite file, its lock, its
migrations; PostgreSQL's replicas, leases across processes, host turns) is tested in
that backend's own modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from ingest.errors import StateError
from ingest.models import Checkpoint, FeedState, RobotsCopy, Story, StoryEntry, Subscription
from ingest.state.postgres import PostgresStore
from ingest.state.sqlite import SqliteStore
from ingest.state.store import Store


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


OpenStore = Callable[[Clock], Store]


def _sqlite(request) -> OpenStore:
    path = request.getfixturevalue("tmp_path") / "state" / "state.sqlite"
    return lambda clock: SqliteStore(path, clock=clock, replica="r1")


def _postgres(request) -> OpenStore:
    url = request.getfixturevalue("postgres_url")
    return lambda clock: PostgresStore(url, replica="r1", clock=clock)


# name: given the test's request, what opens the store at the test's place (again: reopens)
STORES: dict[str, Callable[[pytest.FixtureRequest], OpenStore]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture(params=sorted(STORES))
def open_store(request) -> OpenStore:
    """Opens the implementation under test at one place (again: reopens)."""
    return STORES[request.param](request)


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


def test_a_key_marked_seen_cannot_be_claimed(store: Store) -> None:
    store.mark_seen({"done": "written"})
    assert not store.claim("done")
    assert store.claim("new")
    store.mark_seen({"new": "written"})
    store.release("new")
    assert not store.claim("new")  # written by now: never in flight again


def test_claims_taken_and_released_together(store: Store) -> None:
    store.mark_seen({"done": "written"})
    assert store.claim("busy")
    assert store.claim_many(["a", "b", "busy", "done", "a"]) == {"a", "b"}
    assert store.claim_many([]) == set()
    store.release_many(["a", "busy"])
    assert store.claim_many(["a", "b", "busy"]) == {"a", "busy"}  # b is still claimed


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
    assert store.claim_due_feeds(1000.0, 10) == [st]  # its state; b is due at 2000
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
    assert [f.url for f in store.claim_due_feeds(1000.0, 0)] == []
    assert [f.url for f in store.claim_due_feeds(1000.0, 2)] == ["early", "middle"]
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["late"]  # the others are leased
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == []


def test_saving_a_feed_ends_its_lease(store: Store) -> None:
    store.put_feed(FeedState(url="a", next_poll_at=100.0))
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["a"]
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == []
    store.put_feed(FeedState(url="a", next_poll_at=100.0))  # the poll is over
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["a"]


def test_leases_name_the_replica_polling_each_feed(store: Store) -> None:
    assert store.replica == "r1" and store.lease_seconds > 0
    for url in ("b", "a", "c"):
        store.put_feed(FeedState(url=url, next_poll_at=100.0))
    assert store.leases() == {}
    assert [f.url for f in store.claim_due_feeds(1000.0, 2)] == ["a", "b"]  # due together: by URL
    assert store.leases() == {"a": "r1", "b": "r1"}
    store.put_feed(FeedState(url="a", next_poll_at=2000.0))
    assert store.leases() == {"b": "r1"}


def test_closing_hands_back_leases_and_claims(open_store, clock: Clock) -> None:
    store = open_store(clock)
    store.put_feed(FeedState(url="a", next_poll_at=100.0))
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["a"]
    assert store.claim("k1")
    store.close()
    store = open_store(clock)
    try:
        assert store.leases() == {}
        assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["a"]  # due again at once
        assert store.claim("k1")
    finally:
        store.close()


def test_shifting_the_schedule_moves_polls_and_leases_not_parked_feeds(store: Store,
                                                                        request) -> None:
    if request.node.callspec.params["open_store"] == "postgres":
        pytest.skip("replicas share one schedule: PostgresStore.shift_schedule moves "
                    "nothing (test_postgres_replicas.py)")
    store.put_feed(FeedState(url="a", next_poll_at=5000.0, etag="e"))
    store.put_feed(FeedState(url="parked", next_poll_at=None))
    assert [f.url for f in store.claim_due_feeds(5000.0, 10)] == ["a"]  # leased until 5300
    assert store.shift_schedule(-3600.0) == 1
    assert store.get_feed("a").next_poll_at == 1400.0 and store.get_feed("a").etag == "e"
    assert store.get_feed("parked").next_poll_at is None
    assert [f.url for f in store.claim_due_feeds(1400.0, 10)] == []  # still leased, until 1700
    assert [f.url for f in store.claim_due_feeds(1700.0, 10)] == ["a"]


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


# -- near-duplicate index ----------------------------------------------------------------------
def entry(record_id: str, bands: tuple[int, ...], at: float, *, story: str | None = None,
          site: str = "ansa.it", title: str | None = None, published: str | None = None
          ) -> StoryEntry:
    return StoryEntry(record_id=record_id, story_id=story or record_id,
                      signature=record_id.encode() * 4, bands=bands, site=site, title=title,
                      published=published, indexed_at=at)


def ids(entries: list[StoryEntry]) -> list[str]:
    return [e.record_id for e in entries]


def test_candidates_share_a_band_are_found_once_and_keep_what_was_indexed(store: Store) -> None:
    big = -(2 ** 63)  # band keys are signed 64-bit, the whole range
    store.add_stories([entry("a", (1, 2, 3), 100.0, title="A", published="2025-01-01T00:00:00Z"),
                       entry("b", (3, 4, big), 200.0, story="a"),
                       entry("c", (7, 8, 9), 300.0)])
    assert ids(store.story_candidates([3, 99], 0.0)) == ["a", "b"]  # both share band 3
    assert ids(store.story_candidates([2, 3, 4], 0.0)) == ["a", "b"]  # a shares two: once
    assert ids(store.story_candidates([big], 0.0)) == ["b"]
    assert store.story_candidates([5, 6], 0.0) == []
    assert store.story_candidates([], 0.0) == []
    assert store.story_candidates([1, 4, 9], 0.0)[0] == StoryEntry(
        record_id="a", story_id="a", signature=b"aaaa", site="ansa.it", title="A",
        published="2025-01-01T00:00:00Z", indexed_at=100.0)
    assert store.story_candidates([4], 0.0)[0].story_id == "a"


def test_candidates_respect_since_and_any_number_of_bands(store: Store) -> None:
    store.add_stories([entry("old", (1,), 100.0), entry("new", (1, 5000), 200.0)])
    assert ids(store.story_candidates([1], 200.0)) == ["new"]  # indexed at `since`: kept
    assert ids(store.story_candidates([1], 100.0)) == ["old", "new"]  # earliest first
    assert store.story_candidates([1], 200.5) == []
    many = list(range(10_000, 12_000)) + [5000]
    assert ids(store.story_candidates(many, 0.0)) == ["new"]


def test_adding_a_record_again_leaves_it_as_it_is(store: Store) -> None:
    store.add_stories([entry("a", (1, 2), 100.0, title="First")])
    store.add_stories([entry("a", (3,), 900.0, story="other", title="Second"),
                       entry("b", (3,), 900.0), entry("b", (4,), 950.0)])
    [a] = store.story_candidates([1], 0.0)
    assert (a.story_id, a.title, a.indexed_at) == ("a", "First", 100.0)
    assert ids(store.story_candidates([3], 0.0)) == ["b"]  # a gained no band
    assert store.story_candidates([4], 0.0) == []  # nor did b, added twice in one call
    store.add_stories([])


def test_forgetting_drops_old_records_and_their_bands(store: Store) -> None:
    store.add_stories([entry(f"old{i}", (i, 1_000_000), 100.0 + i) for i in range(250)])
    store.add_stories([entry("new", (1_000_000,), 5000.0, story="old0")])
    assert store.forget_stories_before(200.0) == 100
    assert len(store.story_candidates([1_000_000], 0.0)) == 151
    assert store.story_candidates([7], 0.0) == []  # a forgotten record is found by no band
    assert store.forget_stories_before(5000.0) == 150
    assert ids(store.story_candidates([1_000_000], 0.0)) == ["new"]
    assert store.forget_stories_before(5000.0) == 0
    store.add_stories([entry("old7", (7,), 6000.0)])  # forgotten: it may be indexed anew
    assert ids(store.story_candidates([7], 0.0)) == ["old7"]


def test_stories_group_order_and_size(store: Store) -> None:
    store.add_stories([
        entry("s1", (1,), 100.0, site="ansa.it", title="T1", published="2025-01-02T00:00:00Z"),
        entry("s2", (2,), 150.0, story="s1", site="rai.it", title="T2"),
        entry("x1", (3,), 200.0),
        entry("p1", (4,), 300.0, title="P", published="2025-01-05T00:00:00Z"),
        entry("s3", (5,), 400.0, story="s1", site="ansa.it", title="T1",
              published="2025-01-01T00:00:00Z"),
        entry("p2", (6,), 500.0, story="p1", site="agi.it", title="P"),
        entry("a1", (7,), 600.0, site="", title=""),  # neither names a site nor a title
    ])
    assert store.stories(0.0, 1) == [
        Story("s1", 3, "2025-01-01T00:00:00Z", 100.0, ("ansa.it", "rai.it"), ("T1", "T2")),
        Story("p1", 2, "2025-01-05T00:00:00Z", 300.0, ("ansa.it", "agi.it"), ("P",)),
        Story("x1", 1, None, 200.0, ("ansa.it",), ()),  # as big as a1, seen earlier
        Story("a1", 1, None, 600.0, (), ()),
    ]
    assert [s.story_id for s in store.stories(0.0, 2)] == ["s1", "p1"]
    assert store.stories(0.0, 4) == []
    # a story counts all its records once one of them is recent enough
    assert [(s.story_id, s.size) for s in store.stories(450.0, 1)] == [("p1", 2), ("a1", 1)]
    assert store.stories(601.0, 1) == []
    assert [store.story_size(story) for story in ("s1", "p1", "a1", "s2", "never")] == [3, 2, 1, 0, 0]


def test_a_story_outlives_its_first_record(store: Store) -> None:
    store.add_stories([entry("first", (1,), 100.0, site="a.it", title="Old"),
                       entry("second", (2,), 300.0, story="first", site="b.it", title="New"),
                       entry("third", (3,), 400.0, story="first", site="c.it")])
    assert store.forget_stories_before(200.0) == 1
    assert store.stories(0.0, 2) == [Story("first", 2, None, 300.0, ("b.it", "c.it"), ("New",))]
    assert store.story_size("first") == 2
    assert store.story_candidates([2], 0.0)[0].story_id == "first"


# -- hosts -----------------------------------------------------------------------------------------
def test_host_rests_keep_the_latest_until_and_end_when_it_passes(store: Store) -> None:
    assert store.resting_hosts(1000.0) == {}
    store.rest_host("a.example", 2000.0, "answered HTTP 429")
    store.rest_host("a.example", 1500.0, "an earlier end: ignored")
    store.rest_host("b.example", 1200.0, "5 timeouts in a row")
    assert store.resting_hosts(1000.0) == {"a.example": (2000.0, "answered HTTP 429"),
                                           "b.example": (1200.0, "5 timeouts in a row")}
    assert store.resting_hosts(1200.0) == {"a.example": (2000.0, "answered HTTP 429")}
    store.rest_host("a.example", 3000.0, "answered HTTP 503")
    assert store.resting_hosts(2500.0) == {"a.example": (3000.0, "answered HTTP 503")}
    assert store.resting_hosts(3000.0) == {}


# -- robots.txt copies ---------------------------------------------------------------------------
def test_robots_copies_round_trip_per_origin_and_the_last_put_wins(open_store, clock) -> None:
    body = "User-agent: *\nDisallow: /private/*\nAllow: /private/ok$\n# città\n" + "#" * 300_000
    rules = RobotsCopy("https://a.example", "rules", body, 1000.0, 87400.0)
    store = open_store(clock)
    try:
        assert store.robots_file("https://a.example") is None
        store.put_robots_file(rules)
        store.put_robots_file(RobotsCopy("http://a.example:8080", "allow_all", "", 1000.0, 2000.0))
        assert store.robots_file("https://a.example") == rules
        assert store.robots_file("http://a.example") is None  # another origin
        store.put_robots_file(RobotsCopy("https://a.example", "unreachable", "", 1100.0, 1700.0))
    finally:
        store.close()
    store = open_store(clock)
    try:
        assert store.robots_file("https://a.example") == RobotsCopy(
            "https://a.example", "unreachable", "", 1100.0, 1700.0)
        assert store.robots_file("http://a.example:8080") == RobotsCopy(
            "http://a.example:8080", "allow_all", "", 1000.0, 2000.0)
    finally:
        store.close()


# -- WebSub subscriptions --------------------------------------------------------------------------
def subscription(callback_id: str, feed_url: str = "https://a.example/feed", **changes) -> Subscription:
    return Subscription(callback_id=callback_id, feed_url=feed_url, topic=feed_url + "?self",
                        hub="https://hub.example/", secret="s3cr3t-" + callback_id, **changes)


def test_subscriptions_are_rows_by_callback_id_several_per_feed(open_store, clock) -> None:
    first = subscription("cb-1", requested_at=900.0)
    active = subscription("cb-2", state="active", lease_seconds=86400.0, expires_at=87400.0,
                          requested_at=1000.0)
    renewal = subscription("cb-3", requested_at=80000.0)  # waits for its hub beside cb-2
    other = subscription("cb-b", "https://b.example/feed")
    store = open_store(clock)
    try:
        assert store.subscriptions() == [] and store.subscription("cb-1") is None
        for sub in (first, other, active, renewal):
            store.put_subscription(sub)
        assert store.subscription("cb-1") == first  # a new id is a row of its own
        assert store.feed_subscription("https://a.example/feed") == active  # active first
        assert store.feed_subscriptions("https://a.example/feed") == [first, active, renewal]
        assert store.feed_subscription("https://c.example/feed") is None
        assert store.feed_subscriptions("https://c.example/feed") == []
    finally:
        store.close()
    store = open_store(clock)
    try:
        assert store.subscription("cb-2") == active and active.secret == "s3cr3t-cb-2"
        assert store.subscriptions() == [first, active, renewal, other]
        store.delete_subscription("cb-2")
        store.delete_subscription("cb-unknown")  # nothing to forget: no error
        assert store.feed_subscription("https://a.example/feed") == renewal  # newest pending
        verified = replace(renewal, state="active", lease_seconds=600.0, expires_at=80600.0)
        store.put_subscription(verified)  # the same id: replaced in place
        assert store.feed_subscriptions("https://a.example/feed") == [first, verified]
        store.delete_subscription("cb-1")
        assert [s.callback_id for s in store.subscriptions()] == ["cb-3", "cb-b"]
    finally:
        store.close()


@pytest.mark.parametrize("rows, current", [
    # (callback id, state, expires_at, requested_at) of the feed's rows -> its current one
    ([("a", "active", 5000.0, 100.0), ("b", "active", 9000.0, 50.0),
      ("c", "pending", None, 9999.0)], "b"),  # the active one with the latest lease end
    ([("a", "pending", None, 100.0), ("b", "unsubscribing", 700.0, 300.0),
      ("c", "pending", None, 200.0)], "b"),  # no active one: the newest request
])
def test_a_feeds_current_subscription(open_store, clock, rows, current) -> None:
    store = open_store(clock)
    try:
        for cid, state, expires_at, requested_at in rows:
            store.put_subscription(subscription(cid, state=state, expires_at=expires_at,
                                                requested_at=requested_at))
        assert store.feed_subscription("https://a.example/feed").callback_id == current
    finally:
        store.close()


def test_a_renewal_is_claimed_once_per_retry_interval(open_store, clock) -> None:
    store = open_store(clock)
    try:
        store.put_subscription(subscription("cb-1", state="active", requested_at=1000.0))
        assert not store.claim_renewal("cb-1", 1000.0, 1500.0)  # asked at not_before: too late
        assert store.subscription("cb-1").requested_at == 1000.0
        assert store.claim_renewal("cb-1", 1000.5, 1500.0)
        assert store.subscription("cb-1").requested_at == 1500.0
        assert not store.claim_renewal("cb-1", 1499.0, 1501.0)  # claimed since: another's
        assert store.claim_renewal("cb-1", 1500.5, 1502.0)
        assert not store.claim_renewal("cb-unknown", 9999.0, 9999.0)
    finally:
        store.close()


# -- the store as a whole ----------------------------------------------------------------------
def test_what_was_stored_is_there_after_reopening(open_store, clock: Clock) -> None:
    store = open_store(clock)
    store.mark_seen({"a": "written"}, {"articles.jsonl": Checkpoint(12, "f")})
    store.put_feed(FeedState(url="https://a/feed", etag='"v1"', next_poll_at=5.0))
    store.add_footer_counts("ansa.it", {"segui ansa": (3, "Segui ANSA")})
    store.add_stories([entry("r1", (1, 2), 900.0), entry("r2", (2,), 950.0, story="r1")])
    store.rest_host("a.example", 5000.0, "answered HTTP 429")
    store.close()
    store = open_store(clock)
    try:
        assert store.unseen(["a", "b"]) == {"b"}
        assert store.checkpoints() == {"articles.jsonl": Checkpoint(12, "f")}
        assert store.get_feed("https://a/feed").etag == '"v1"'
        assert store.footer_counts("ansa.it") == {"segui ansa": 3}
        assert [f.url for f in store.claim_due_feeds(10.0, 5)] == ["https://a/feed"]
        assert ids(store.story_candidates([2], 0.0)) == ["r1", "r2"]
        assert [(s.story_id, s.size) for s in store.stories(0.0, 1)] == [("r1", 2)]
        assert store.resting_hosts(1000.0) == {"a.example": (5000.0, "answered HTTP 429")}
    finally:
        store.close()


def test_ping_answers_while_open_and_raises_state_error_once_closed(open_store, clock) -> None:
    store = open_store(clock)
    store.ping()
    store.close()
    with pytest.raises(StateError):
        store.ping()
