"""Opening the PostgreSQL store: the URL forms libpq reads, waiting for a database that is
not there yet, the schema's migrations and refusals, and the read-only view.

What every store does is in test_store_contract.py; replicas, leases and claims across
processes in test_postgres_replicas.py.
"""

from __future__ import annotations

import logging
import re
import threading

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ingest.errors import StateError
from ingest.models import Checkpoint, FeedState, StoryEntry
from ingest.state.postgres import PostgresStore
from ingest.state.postgres_schema import SCHEMA_VERSION

SECRET = "hunter2-secret"


def sql(url: str, query: str, args: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description else []


def with_password(url: str) -> str:
    """``url`` with a password in it (the test server trusts local users: it is not asked)."""
    return url.replace("postgres:@", f"postgres:{SECRET}@", 1)


# -- the URL as libpq takes it ------------------------------------------------------------------
def test_every_form_libpq_reads_reaches_the_same_database(postgres_url, monkeypatch) -> None:
    params = conninfo_to_dict(postgres_url)
    store = PostgresStore(with_password(postgres_url), replica="r1")
    try:
        store.put_feed(FeedState(url="https://a/feed", etag="e"))
        assert SECRET not in repr(store) and params["dbname"] in repr(store)
    finally:
        store.close()
    keywords = make_conninfo(**params)  # host=/tmp/... dbname=... user=...
    store = PostgresStore(keywords, replica="r1")
    try:
        assert store.get_feed("https://a/feed").etag == "e"
    finally:
        store.close()
    for key, var in (("host", "PGHOST"), ("dbname", "PGDATABASE"), ("user", "PGUSER")):
        monkeypatch.setenv(var, params[key])
    store = PostgresStore("", replica="r1")  # all of it from the environment
    try:
        assert store.get_feed("https://a/feed").etag == "e"
        assert store.where == f"{params['user']}@{params['host']}:5432/{params['dbname']}"
    finally:
        store.close()


def test_a_url_libpq_cannot_read_is_refused_without_repeating_it() -> None:
    with pytest.raises(StateError, match="not a PostgreSQL URL") as err:
        PostgresStore(f"host=/tmp password={SECRET} nonsense", replica="r1")
    assert SECRET not in str(err.value)


def test_a_database_that_never_answers_is_waited_for_then_refused(tmp_path, caplog) -> None:
    url = f"postgresql://ingest:{SECRET}@/ingest?host={tmp_path}"  # no server on that socket
    caplog.set_level(logging.WARNING, logger="ingest.state")
    with pytest.raises(StateError, match=r"unreachable: .*\(waited 2\.5 s for it\)") as err:
        PostgresStore(url, replica="r1", connect_timeout=2.5)
    tries = [r.getMessage() for r in caplog.records]
    assert len(tries) == 2  # after 1 s, then the 1.5 s left
    assert all(f"ingest@{tmp_path}:5432/ingest is unreachable" in t for t in tries)
    assert "trying again in 1 s" in tries[0]
    # the second pause is what is left: 1.5 s, less the time the tries took on a busy CPU
    left = re.search(r"trying again in (1\.[0-9]+) s$", tries[1])
    assert left and 1.0 < float(left.group(1)) <= 1.5
    caplog.clear()
    with pytest.raises(StateError, match="unreachable") as once:
        PostgresStore(url, replica="r1")  # connect_timeout 0: one try
    assert caplog.records == []
    assert not any(SECRET in text for text in (str(err.value), str(once.value), *tries))


def test_the_store_waits_for_a_database_that_is_starting(postgres, postgres_url) -> None:
    if not postgres.can_restart:
        pytest.skip("this PostgreSQL (TEST_POSTGRES_URL) cannot be stopped by the tests")
    postgres.stop()
    starter = threading.Timer(1.5, postgres.start)
    starter.start()
    try:
        store = PostgresStore(postgres_url, replica="r1", connect_timeout=60)
    finally:
        starter.join()
    try:
        store.mark_seen({"k": "written"})
        assert store.unseen(["k"]) == set()
    finally:
        store.close()


# -- the schema ------------------------------------------------------------------------------------
def test_replicas_starting_together_migrate_once(postgres_url) -> None:
    opened: list[PostgresStore] = []
    failed: list[BaseException] = []
    start = threading.Barrier(6)

    def open_one(n: int) -> None:
        start.wait()
        try:
            opened.append(PostgresStore(postgres_url, replica=f"r{n}"))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            failed.append(exc)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for store in opened:
        store.close()
    assert failed == [] and len(opened) == 6
    assert sql(postgres_url, "SELECT name, value FROM ingest_meta") == [
        ("schema_version", str(SCHEMA_VERSION))]


def test_the_seen_table_is_the_one_the_sink_writes_into(postgres_url) -> None:
    PostgresStore(postgres_url, replica="r1").close()
    assert sql(postgres_url, "SELECT column_name, data_type, is_nullable FROM "
               "information_schema.columns WHERE table_name = 'seen' ORDER BY ordinal_position"
               ) == [("key", "text", "NO"), ("status", "text", "NO"),
                     ("seen_at", "double precision", "NO")]
    # the PostgreSQL sink marks in its own transaction, as a replica might at the same time
    sql(postgres_url, "INSERT INTO seen (key, status, seen_at) VALUES ('k1', 'written', 5.0) "
        "ON CONFLICT (key) DO NOTHING")
    store = PostgresStore(postgres_url, replica="r1")
    try:
        assert store.unseen(["k1", "k2"]) == {"k2"}
        assert not store.claim("k1")
    finally:
        store.close()


def test_a_schema_newer_than_the_code_is_refused(postgres_url) -> None:
    PostgresStore(postgres_url, replica="r1").close()
    sql(postgres_url, "UPDATE ingest_meta SET value = %s WHERE name = 'schema_version'",
        (str(SCHEMA_VERSION + 1),))
    newer = rf"newer version of ingest \(store schema {SCHEMA_VERSION + 1}; .*upgrade ingest"
    with pytest.raises(StateError, match=newer):
        PostgresStore(postgres_url, replica="r1")
    with pytest.raises(StateError, match=newer):
        PostgresStore.open_readonly(postgres_url)


def test_a_database_of_another_application_is_refused_and_left_alone(postgres_url) -> None:
    sql(postgres_url, "CREATE TABLE customers (id int)")
    for open_store in (lambda: PostgresStore(postgres_url, replica="r1"),
                       lambda: PostgresStore.open_readonly(postgres_url)):
        with pytest.raises(StateError, match=r"is not an ingest state database .*point "
                                             r"state.url at an empty database or ingest's own"):
            open_store()
    assert sql(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
               ) == [("customers",)]


# -- the read-only view ------------------------------------------------------------------------------
def test_the_read_only_view_reads_beside_a_replica_and_writes_nothing(postgres_url) -> None:
    writer = PostgresStore(postgres_url, replica="r1", clock=lambda: 1000.0)
    reader = PostgresStore.open_readonly(with_password(postgres_url))
    try:
        writer.put_feed(FeedState(url="a", next_poll_at=100.0, etag="e"))
        writer.mark_seen({"k": "written"}, {"f.jsonl": Checkpoint(5, "x")})
        writer.add_footer_counts("ansa.it", {"segui": (2, "Segui")})
        writer.add_stories([StoryEntry("r", "r", b"sig", (1,), "ansa.it", "T", None, 900.0)])
        assert [f.url for f in writer.claim_due_feeds(1000.0, 10)] == ["a"]
        assert reader.get_feed("a").etag == "e" and reader.leases() == {"a": "r1"}
        assert reader.unseen(["k", "j"]) == {"j"}
        assert reader.checkpoints() == {"f.jsonl": Checkpoint(5, "x")}
        assert reader.footer_lines() == [("ansa.it", "segui", "Segui", 2)]
        assert [s.story_id for s in reader.stories(0.0, 1)] == ["r"]
        writes = [lambda: reader.put_feed(FeedState(url="b")),
                  lambda: reader.mark_seen({"j": "written"}), lambda: reader.claim("j"),
                  lambda: reader.claim_due_feeds(1000.0, 10),
                  lambda: reader.add_footer_counts("ansa.it", {"x": (1, "X")}),
                  lambda: reader.rest_host("h", 5000.0, "why"),
                  lambda: reader.take_host_turn("h", 1.0, 1, 10.0),
                  lambda: reader.forget_seen_before(5000.0)]
        for write in writes:
            with pytest.raises(StateError, match="is open read-only; nothing was changed") as err:
                write()
            assert SECRET not in str(err.value)
        assert writer.unseen(["j"]) == {"j"} and writer.get_feed("b").etag is None
        assert writer.footer_counts("ansa.it") == {"segui": 2}
        other = PostgresStore(postgres_url, replica="r2")  # the reader is no replica
        other.close()
    finally:
        reader.close()
        writer.close()


def test_the_read_only_view_refuses_a_database_without_ingest_state(postgres_url) -> None:
    with pytest.raises(StateError, match=r"no ingest state in .* yet"):
        PostgresStore.open_readonly(postgres_url)
    assert sql(postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_a_closed_store_refuses_calls(postgres_url) -> None:
    store = PostgresStore(postgres_url, replica="r1")
    store.close()
    store.close()  # again: nothing more to do
    with pytest.raises(StateError, match="is closed"):
        store.unseen(["k"])
