"""How many round trips the PostgreSQL store's hot calls cost, counted from libpq's own
trace of every pooled connection (one ReadyForQuery ends each round trip). Printed, for
docs/scaling.md and the bench (run with ``-s``); the only assertion is that the trace
was read.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.pq import Trace

from ingest.models import Checkpoint, FeedState
from ingest.state import postgres_conn
from ingest.state.postgres import PostgresStore


class QuietKeeper(PostgresStore):
    lease_seconds = 600.0  # no heartbeat (on a traced connection too) while counting


def test_round_trips_of_the_hot_calls(postgres_url, tmp_path: Path, monkeypatch) -> None:
    trace_path = tmp_path / "libpq.trace"
    trace = trace_path.open("w")

    configure = postgres_conn.configure

    def traced(conn: psycopg.Connection) -> None:
        configure(conn)
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

    monkeypatch.setattr(postgres_conn, "configure", traced)
    store = QuietKeeper(postgres_url, replica="r1", clock=lambda: 1000.0)

    def round_trips(call) -> int:
        before = trace_path.read_text().count("ReadyForQuery")
        call()
        return trace_path.read_text().count("ReadyForQuery") - before

    try:
        for i in range(100):
            store.put_feed(FeedState(url=f"https://s{i}.example/feed", next_poll_at=100.0))
        keys = {f"k{i}": "written" for i in range(10)}

        def poll_unchanged() -> None:  # a 304: the state read, then saved (ending the lease)
            state = store.get_feed("https://s0.example/feed")
            store.put_feed(state)

        def host_turn() -> None:
            turn = store.take_host_turn("s0.example", 1.0, 2, 60.0)
            assert turn.slot is not None
            store.end_host_turn("s0.example", turn.slot)

        measured = {
            "claim_due_feeds (10 of 100 due)": lambda: store.claim_due_feeds(1000.0, 10),
            "get_feed + put_feed (a 304 poll)": poll_unchanged,
            "take_host_turn + end_host_turn": host_turn,
            "unseen (10 keys)": lambda: store.unseen(keys),
            "claim + release (one article)": lambda: (store.claim("k0"), store.release("k0")),
            "mark_seen (10 keys + a checkpoint)": lambda: store.mark_seen(
                keys, {"articles.r1.jsonl": Checkpoint(100, "f")}),
            "add_footer_counts (20 lines)": lambda: store.add_footer_counts(
                "s0.example", {f"line {n}": (1, f"Line {n}") for n in range(20)}),
        }
        counts = {name: round_trips(call) for name, call in measured.items()}
    finally:
        store.close()
        trace.close()
    print("\nround trips per call (PostgresStore):")
    for name, n in counts.items():
        print(f"  {name:<40} {n}")
    assert all(n > 0 for n in counts.values())
