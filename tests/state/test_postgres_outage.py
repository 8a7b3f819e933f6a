"""The PostgreSQL store when the database goes away mid-run: calls fail with StateError
(quickly: the ceilings below are against hangs), the store comes back by itself when the
database does, and an identity another process took meanwhile keeps it failing, named.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from ingest.errors import StateError
from ingest.models import FeedState
from ingest.state.postgres import PostgresStore

SECRET = "hunter2-secret"
CEILING = 30.0  # seconds: a hang, not a slow machine


def answers(store: PostgresStore) -> bool:
    try:
        store.ping()
    except StateError:
        return False
    return True


def wait_for(condition, ceiling: float = CEILING) -> None:
    deadline = time.monotonic() + ceiling
    while not condition():
        assert time.monotonic() < deadline, "not within the ceiling"
        time.sleep(0.1)


def test_calls_fail_while_the_database_is_down_and_work_again_once_it_is_back(
        postgres, postgres_url, caplog) -> None:
    if not postgres.can_restart:
        pytest.skip("this PostgreSQL (TEST_POSTGRES_URL) cannot be stopped by the tests")
    store = PostgresStore(postgres_url.replace("postgres:@", f"postgres:{SECRET}@"), replica="r1")
    try:
        store.put_feed(FeedState(url="a", next_poll_at=100.0, etag="e"))
        postgres.stop()
        try:
            failures = []
            for call in (lambda: store.get_feed("a"), lambda: store.claim("k"),
                         store.ping, lambda: store.unseen(["k"])):
                began = time.monotonic()
                with pytest.raises(StateError) as err:
                    call()
                failures.append((str(err.value), time.monotonic() - began))
            assert all(f"state: PostgreSQL at {store.where} is unreachable: " in message
                       and SECRET not in message for message, _ in failures)
            assert all(took < CEILING / 3 for _, took in failures)
        finally:
            postgres.start()
        wait_for(lambda: answers(store))
        assert store.get_feed("a").etag == "e"
        assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["a"]
        with pytest.raises(StateError, match="replica 'r1' is already running"):
            PostgresStore(postgres_url, replica="r1")  # the identity was taken again
    finally:
        store.close()
    assert not any(SECRET in r.getMessage() for r in caplog.records)
    assert any("is unreachable" in r.getMessage() for r in caplog.records)
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_a_store_closes_while_the_database_is_down(postgres, postgres_url) -> None:
    if not postgres.can_restart:
        pytest.skip("this PostgreSQL (TEST_POSTGRES_URL) cannot be stopped by the tests")
    store = PostgresStore(postgres_url, replica="r1")
    store.put_feed(FeedState(url="a", next_poll_at=100.0))
    assert [f.url for f in store.claim_due_feeds(1000.0, 10)] == ["a"]
    postgres.stop()
    try:
        with pytest.raises(StateError, match="unreachable"):
            store.ping()
        store.close()  # what it held expires by itself
    finally:
        postgres.start()
    with pytest.raises(StateError, match="is closed"):
        store.ping()
    again = PostgresStore(postgres_url, replica="r1")  # its identity died with its session
    try:
        assert [f.url for f in again.claim_due_feeds(1000.0, 10)] == ["a"]
    finally:
        again.close()


class QuietKeeper(PostgresStore):
    lease_seconds = 600.0  # no heartbeat during the test: only a call finds the loss


def test_a_replica_whose_identity_another_process_took_stays_failed_naming_it(
        postgres_url) -> None:
    first = QuietKeeper(postgres_url, replica="r1")
    try:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'ingest r1'")
        second = PostgresStore(postgres_url, replica="r1")  # the identity was free
        try:
            with pytest.raises(StateError):
                first.ping()  # its sessions are gone
            wait_for(lambda: "already running" in _failure(first))
            assert "replica 'r1' is already running against" in _failure(first)
            second.put_feed(FeedState(url="a"))  # the holder works on
        finally:
            second.close()
        wait_for(lambda: answers(first))  # free again: taken back
        assert first.get_feed("a").url == "a"
    finally:
        first.close()


def test_an_error_of_one_statement_leaves_the_store_up(postgres_url) -> None:
    store = PostgresStore(postgres_url, replica="r1")
    try:
        with pytest.raises(StateError, match=r"state: write to .* failed: .*NUL"):
            store.mark_seen({"k": "written\x00"})
        store.ping()
        assert store.unseen(["k"]) == {"k"}
    finally:
        store.close()


def _failure(store: PostgresStore) -> str:
    try:
        store.ping()
    except StateError as exc:
        return str(exc)
    return ""
