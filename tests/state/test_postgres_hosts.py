"""Host turns on the PostgreSQL store: ``concurrency`` slots per host across every replica,
starts ``delay`` apart on the database's clock, none while the host rests.

The waits a turn gives are computed from the database's clock between calls made a
moment apart; the bounds below allow a second for that moment, not for speed.
"""

from __future__ import annotations

import threading

import pytest

from ingest.models import HostTurn
from ingest.state.postgres import PostgresStore

DELAY = 100.0  # seconds: turns far apart, so a moment between calls cannot blur them
SLACK = 1.0


@pytest.fixture
def replicas(postgres_url):
    clock = lambda: 1000.0  # noqa: E731 - the wall clock rests are read against
    stores = [PostgresStore(postgres_url, replica=name, clock=clock) for name in ("r1", "r2")]
    yield stores
    for store in stores:
        store.close()


def test_a_host_has_concurrency_slots_across_replicas(replicas) -> None:
    r1, r2 = replicas
    first = r1.take_host_turn("a.example", 0.0, 2, 60.0)
    second = r2.take_host_turn("a.example", 0.0, 2, 60.0)
    assert {first.slot, second.slot} == {0, 1}
    busy = r1.take_host_turn("a.example", 0.0, 2, 60.0)
    assert busy.slot is None and busy.resting is None and 0 < busy.wait <= SLACK
    assert r1.take_host_turn("b.example", 0.0, 2, 60.0).slot == 0  # hosts apart
    r1.end_host_turn("a.example", second.slot)  # r2's slot: not r1's to end
    assert r1.take_host_turn("a.example", 0.0, 2, 60.0).slot is None
    r2.end_host_turn("a.example", second.slot)
    assert r1.take_host_turn("a.example", 0.0, 2, 60.0).slot == second.slot


def test_a_slot_whose_holder_never_ended_it_is_free_after_hold(replicas) -> None:
    r1, r2 = replicas
    assert r1.take_host_turn("a.example", 0.0, 1, 0.0).slot == 0  # held for no time at all
    assert r2.take_host_turn("a.example", 0.0, 1, 60.0).slot == 0
    assert r1.take_host_turn("a.example", 0.0, 1, 60.0).slot is None


def test_turns_start_delay_apart_whichever_replica_takes_them(replicas) -> None:
    r1, r2 = replicas
    waits = [store.take_host_turn("a.example", DELAY, 5, 600.0).wait
             for store in (r1, r2, r1, r2)]
    assert waits[0] <= SLACK
    for n, wait in enumerate(waits[1:], start=1):
        assert n * DELAY - SLACK < wait <= n * DELAY


def test_turns_taken_at_once_get_distinct_starts(replicas) -> None:
    turns: list[HostTurn] = []
    start = threading.Barrier(10)

    def take(store: PostgresStore) -> None:
        start.wait()
        turns.append(store.take_host_turn("a.example", DELAY, 10, 600.0))

    threads = [threading.Thread(target=take, args=(s,)) for s in replicas * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(t.slot for t in turns) == list(range(10))
    waits = sorted(t.wait for t in turns)
    for n, wait in enumerate(waits):
        assert n * DELAY - SLACK < wait <= n * DELAY + SLACK


def test_a_resting_host_gives_no_turn_until_its_rest_is_over(postgres_url) -> None:
    now = [1000.0]
    store = PostgresStore(postgres_url, replica="r1", clock=lambda: now[0])
    other = PostgresStore(postgres_url, replica="r2", clock=lambda: now[0])
    try:
        other.rest_host("a.example", 1300.0, "answered HTTP 429, asked us to wait")
        turn = store.take_host_turn("a.example", 0.0, 2, 60.0)
        assert turn == HostTurn(None, 300.0, (1300.0, "answered HTTP 429, asked us to wait"))
        now[0] = 1300.0
        assert store.take_host_turn("a.example", 0.0, 2, 60.0).slot == 0
    finally:
        store.close()
        other.close()


def test_closing_frees_the_slots_a_replica_holds(replicas, postgres_url) -> None:
    r1, r2 = replicas
    assert r1.take_host_turn("a.example", 0.0, 1, 600.0).slot == 0
    r1.close()
    assert r2.take_host_turn("a.example", 0.0, 1, 600.0).slot == 0
