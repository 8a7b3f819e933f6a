"""Several replicas on one PostgreSQL store: the identity each holds, the leases and
claims that keep their work apart, shares of the due feeds, footer counts added at once.

Replicas are stores opened in this process (each its own sessions, as in its own
process) and, where dying matters, real processes killed with SIGKILL.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from ingest.errors import StateLocked
from ingest.models import FeedState
from ingest.state.postgres import PostgresStore

# A replica in a process of its own: it leases every due feed, claims an article, says
# so on one line, and lives on (renewing both) until it is killed.
REPLICA = """
import sys, time
from ingest.state.postgres import PostgresStore

class Store(PostgresStore):
    lease_seconds = float(sys.argv[3])

store = Store(sys.argv[1], replica=sys.argv[2])
print([f.url for f in store.claim_due_feeds(time.time(), 100)], store.claim(sys.argv[4]), flush=True)
time.sleep(600)
"""


@pytest.fixture
def replica_process(postgres_url):
    """Starts replicas in processes of their own; kills what is left at the end."""
    started: list[subprocess.Popen] = []

    def start(replica: str, lease_seconds: float = 10.0, article: str = "k1"):
        proc = subprocess.Popen([sys.executable, "-c", REPLICA, postgres_url, replica,
                                 str(lease_seconds), article], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout is not None
        return proc, proc.stdout.readline().strip()

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=30)


def until(condition, ceiling: float = 30.0, step: float = 0.1):
    """Poll ``condition`` until it is true (its value), failing after ``ceiling`` seconds."""
    deadline = time.monotonic() + ceiling
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met within the ceiling"
        time.sleep(step)
    return value


def due_feeds(store: PostgresStore, n: int, at: float = 100.0, site: str = "site") -> list[str]:
    urls = [f"https://{site}{i:03d}.example/feed" for i in range(n)]
    for url in urls:
        store.put_feed(FeedState(url=url, next_poll_at=at))
    return urls


class PostgresStoreOpen:
    """``with PostgresStoreOpen(url, replica) as store``: closed however the test ends."""

    def __init__(self, url: str, replica: str) -> None:
        self.store = PostgresStore(url, replica=replica)

    def __enter__(self) -> PostgresStore:
        return self.store

    def __exit__(self, *exc) -> None:
        self.store.close()


# -- identity ------------------------------------------------------------------------------------
def test_a_second_live_process_with_the_same_replica_is_refused_naming_the_holder(
        postgres_url) -> None:
    first = PostgresStore(postgres_url, replica="r1")
    try:
        with pytest.raises(StateLocked, match=rf"replica 'r1' is already running against "
                                              rf".*\(pid {os.getpid()} on "
                                              rf"{socket.gethostname()}, since 20"):
            PostgresStore(postgres_url, replica="r1")
        PostgresStore(postgres_url, replica="r2").close()  # another name is another replica
    finally:
        first.close()
    PostgresStore(postgres_url, replica="r1").close()  # let go: free to take


def test_a_replica_killed_with_sigkill_restarts_at_once_and_its_work_is_due_again(
        postgres_url, replica_process) -> None:
    with PostgresStoreOpen(postgres_url, "setup") as store:
        due_feeds(store, 2)
    proc, said = replica_process("r1")
    assert said.startswith("['https://site000.example/feed', 'https://site001.example/feed'] True")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with PostgresStoreOpen(postgres_url, "r1") as store:  # at once: no StateLocked
        # what the dead process held is this process's to do again, not renewed as its own
        assert store.leases() == {}
        assert len(store.claim_due_feeds(time.time(), 100)) == 2
        assert store.claim("k1")


def test_what_a_killed_replica_held_is_free_once_its_lease_runs_out(postgres_url,
                                                                     replica_process) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as store:
        [url] = due_feeds(store, 1)
        proc, said = replica_process("r2", lease_seconds=2.0)
        assert said == f"['{url}'] True"
        time.sleep(4.0)  # two leases long: the living replica renews them
        assert store.leases() == {url: "r2"}
        assert [f.url for f in store.claim_due_feeds(time.time(), 10)] == [] and not store.claim("k1")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert until(lambda: [f.url for f in store.claim_due_feeds(time.time(), 10)]) == [url]
        assert store.claim("k1")


# -- leases --------------------------------------------------------------------------------------
def test_a_dispatch_takes_its_share_of_what_is_due(postgres_url) -> None:
    with (PostgresStoreOpen(postgres_url, "r1") as r1, PostgresStoreOpen(postgres_url, "r2") as r2,
          PostgresStoreOpen(postgres_url, "r3") as r3):
        due_feeds(r1, 10)
        reader = PostgresStore.open_readonly(postgres_url)  # no replica: no share
        try:
            counts = [len(s.claim_due_feeds(1000.0, 100)) for s in (r1, r2, r3, r1, r2)]
        finally:
            reader.close()
        assert counts == [4, 2, 2, 1, 1]  # ceil(10/3), ceil(6/3), ceil(4/3), ceil(2/3), 1
        r3.close()  # its 2 feeds are due again, and it has no share any more
        due_feeds(r1, 20, at=500.0, site="more")
        assert len(r1.claim_due_feeds(1000.0, 100)) == 11  # ceil(22/2)
        assert len(r1.claim_due_feeds(1000.0, 4)) == 4  # the limit, below its share of 6
        assert len(r2.claim_due_feeds(1000.0, 100)) == 4  # ceil(7/2)


def test_replicas_dispatching_at_once_never_take_the_same_feed(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as r1, PostgresStoreOpen(postgres_url, "r2") as r2:
        urls = due_feeds(r1, 300)
        taken: list[str] = []
        start = threading.Barrier(4)

        def dispatch(store: PostgresStore) -> None:
            start.wait()
            while batch := store.claim_due_feeds(1000.0, 7):
                taken.extend(f.url for f in batch)

        threads = [threading.Thread(target=dispatch, args=(s,)) for s in (r1, r2, r1, r2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(taken) == urls  # each once
        assert set(r1.leases().values()) == {"r1", "r2"}


def test_saving_a_feed_ends_only_this_replicas_lease(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as r1, PostgresStoreOpen(postgres_url, "r2") as r2:
        [url] = due_feeds(r1, 1)
        assert [f.url for f in r1.claim_due_feeds(1000.0, 10)] == [url]
        r2.put_feed(FeedState(url=url, next_poll_at=100.0, etag="e"))
        assert r2.leases() == {url: "r1"}  # r1's poll is not over
        r1.put_feed(FeedState(url=url, next_poll_at=100.0, etag="e2"))
        assert r2.leases() == {} and r2.get_feed(url).etag == "e2"


def test_closing_hands_back_only_this_replicas_leases_and_claims(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r2") as r2:
        r1 = PostgresStore(postgres_url, replica="r1")
        a, b = due_feeds(r1, 2)
        assert [f.url for f in r1.claim_due_feeds(1000.0, 1)] == [a]
        assert [f.url for f in r2.claim_due_feeds(1000.0, 1)] == [b]
        assert r1.claim("k1") and r2.claim("k2")
        r1.close()
        assert r2.leases() == {b: "r2"}
        assert [f.url for f in r2.claim_due_feeds(1000.0, 10)] == [a]
        assert r2.claim("k1") and not r2.claim("k2")


def test_the_shared_schedule_is_not_shifted_by_one_replicas_clock(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as store:
        [url] = due_feeds(store, 1, at=5000.0)
        assert store.shift_schedule(-3600.0) == 0
        assert store.get_feed(url).next_poll_at == 5000.0


# -- claims and footer counts ----------------------------------------------------------------------
def test_an_article_is_claimed_by_one_replica_at_a_time(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as r1, PostgresStoreOpen(postgres_url, "r2") as r2:
        assert r1.claim("k") and not r2.claim("k")
        r2.release("k")  # not r2's claim: it stays r1's
        assert not r2.claim("k")
        r1.release("k")
        assert r2.claim("k")
        keys = [f"k{i}" for i in range(200)]
        won: list[str] = []
        start = threading.Barrier(4)

        def claim_all(store: PostgresStore) -> None:
            start.wait()
            won.extend(k for k in random.sample(keys, len(keys)) if store.claim(k))

        threads = [threading.Thread(target=claim_all, args=(s,)) for s in (r1, r2, r1, r2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(won) == sorted(keys)


def test_footer_counts_added_by_many_writers_at_once_all_land(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as r1, PostgresStoreOpen(postgres_url, "r2") as r2:
        lines = [f"line {i}" for i in range(40)]
        start = threading.Barrier(6)
        errors: list[BaseException] = []

        def add(store: PostgresStore, seed: int) -> None:
            rng = random.Random(seed)
            start.wait()
            try:
                for _ in range(15):
                    # overlapping keys in another order each time: a lock-order deadlock
                    # would lose a batch here
                    store.add_footer_counts("ansa.it", {k: (1, k.title()) for k in
                                                        rng.sample(lines, len(lines))})
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

        threads = [threading.Thread(target=add, args=(s, n)) for n, s in enumerate((r1, r2) * 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert r1.footer_counts("ansa.it") == {k: 6 * 15 for k in lines}


def test_compaction_drops_claims_and_host_slots_left_long_ago(postgres_url) -> None:
    with PostgresStoreOpen(postgres_url, "r1") as store:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("INSERT INTO claims VALUES ('gone', 'r9', 5.0)")
            admin.execute("INSERT INTO host_slots VALUES ('a.example', 0, 'r9', 5.0)")
            assert store.claim("live")
            assert store.take_host_turn("b.example", 0.0, 1, 600.0).slot == 0
            assert store.forget_seen_before(1000.0) == 0
            assert admin.execute("SELECT key FROM claims").fetchall() == [("live",)]
            assert admin.execute("SELECT host FROM host_slots").fetchall() == [("b.example",)]
