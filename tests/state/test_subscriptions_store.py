"""The stores' WebSub subscriptions across versions and views: a SQLite store of version 4
and a PostgreSQL database of version 2 (both before them) are migrated in place; the
read-only views read subscriptions and refuse to change (or claim) them; a SQLite reader
beside a store that has no subscriptions table yet finds none; of replicas claiming one
renewal at once on PostgreSQL exactly one wins; the secret never reaches `ingest status
--json`. (The round trip and the several-rows rules are in the Store contract.)"""

from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest

from helpers.cli import run_cli
from helpers.newssite import write_config
from ingest.errors import StateError
from ingest.models import RobotsCopy, Subscription
from ingest.state import postgres_schema
from ingest.state.postgres import PostgresStore
from ingest.state.sqlite import SqliteStore
from ingest.state.sqlite_schema import SCHEMA_VERSION

SECRET = "9f8e7d6c5b4a-websub-secret-0123456789"
SUB = Subscription("cb-Abc_123", "https://a.example/feed", "https://a.example/feed?self",
                   "https://hub.example/", SECRET, "active", 600.0, 1600.0, 1000.0)
COPY = RobotsCopy("https://a.example", "rules", "User-agent: *\n", 1000.0, 2000.0)


def version_4_store(path):
    """A store as version 4 left it: every table of today's but subscriptions."""
    store = SqliteStore(path, clock=lambda: 1000.0)
    store.mark_seen({"k1": "written"})
    store.put_robots_file(COPY)
    store.close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE subscriptions; PRAGMA user_version = 4;")
    db.close()
    return path


def test_a_version_4_store_is_migrated_in_place_and_the_reader_refuses_writes(tmp_path):
    path = version_4_store(tmp_path / "v4.sqlite")
    reader = SqliteStore.open_readonly(path)  # beside a version-4 writer: no table yet
    try:
        assert reader.subscriptions() == [] and reader.subscription(SUB.callback_id) is None
        assert reader.feed_subscription(SUB.feed_url) is None
        assert reader.feed_subscriptions(SUB.feed_url) == []
    finally:
        reader.close()
    store = SqliteStore(path, clock=lambda: 1000.0)
    try:
        assert store.unseen(["k1", "k2"]) == {"k2"} and store.robots_file(COPY.origin) == COPY
        store.put_subscription(SUB)
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()
    reader = SqliteStore.open_readonly(path)
    try:
        assert reader.subscriptions() == [SUB] and reader.subscription(SUB.callback_id) == SUB
        assert reader.feed_subscription(SUB.feed_url) == SUB
        assert reader.feed_subscriptions(SUB.feed_url) == [SUB]
        for write in (lambda: reader.put_subscription(SUB),
                      lambda: reader.claim_renewal(SUB.callback_id, 5000.0, 5000.0),
                      lambda: reader.delete_subscription(SUB.callback_id)):
            with pytest.raises(StateError, match="open read-only; nothing was changed"):
                write()
        assert reader.subscriptions() == [SUB]
    finally:
        reader.close()


def test_a_version_2_postgres_database_gains_the_subscriptions_table(postgres_url):
    store = PostgresStore(postgres_url, replica="r1")
    store.mark_seen({"k1": "written"})
    store.put_robots_file(COPY)
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE subscriptions")
        conn.execute("UPDATE ingest_meta SET value = '2' WHERE name = 'schema_version'")
    store = PostgresStore(postgres_url, replica="r1")
    try:
        assert store.unseen(["k1", "k2"]) == {"k2"} and store.robots_file(COPY.origin) == COPY
        assert store.subscriptions() == []
        store.put_subscription(SUB)
    finally:
        store.close()
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT value FROM ingest_meta WHERE name = 'schema_version'").fetchone()
    assert row == (str(postgres_schema.SCHEMA_VERSION),) == ("3",)
    reader = PostgresStore.open_readonly(postgres_url)
    try:
        assert reader.subscription(SUB.callback_id) == SUB and reader.subscriptions() == [SUB]
        with pytest.raises(StateError, match="open read-only; nothing was changed"):
            reader.put_subscription(SUB)
        with pytest.raises(StateError, match="open read-only; nothing was changed"):
            reader.delete_subscription(SUB.callback_id)
        with pytest.raises(StateError, match="open read-only; nothing was changed"):
            reader.claim_renewal(SUB.callback_id, 5000.0, 5000.0)
        assert reader.feed_subscriptions(SUB.feed_url) == [SUB]
    finally:
        reader.close()


def test_of_replicas_claiming_one_renewal_at_once_exactly_one_wins(postgres_url):
    stores = [PostgresStore(postgres_url, replica=f"r{i}") for i in range(4)]
    try:
        stores[0].put_subscription(SUB)
        start, won = threading.Barrier(len(stores)), []

        def claim(store: PostgresStore) -> None:
            start.wait()
            won.append(store.claim_renewal(SUB.callback_id, 1500.0, 1600.0))
        threads = [threading.Thread(target=claim, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(won) == [False, False, False, True]
        assert stores[1].subscription(SUB.callback_id).requested_at == 1600.0
    finally:
        for store in stores:
            store.close()


def test_the_secret_is_kept_in_the_store_only(tmp_path):
    config = write_config(tmp_path / "config.yaml", [("a", SUB.feed_url)])
    store = SqliteStore(tmp_path / "state" / "state.sqlite")
    try:
        store.put_subscription(SUB)
        assert SECRET not in repr(store.subscription(SUB.callback_id))
    finally:
        store.close()
    status = run_cli("status", "--json", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert SUB.feed_url in status.stdout
    assert SECRET not in status.stdout + status.stderr
