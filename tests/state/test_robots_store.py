"""The stores' robots.txt copies across versions: a SQLite store of version 3 and a
PostgreSQL database of version 1 (both before them) are migrated in place; a SQLite reader
beside a store that has no robots table yet finds no copy."""

from __future__ import annotations

import sqlite3

import psycopg

from ingest.models import RobotsCopy
from ingest.state import postgres_schema
from ingest.state.postgres import PostgresStore
from ingest.state.sqlite import SqliteStore
from ingest.state.sqlite_schema import SCHEMA_VERSION

COPY = RobotsCopy("https://a.example", "rules", "User-agent: *\nDisallow: /x\n", 1000.0, 2000.0)


def version_3_store(path):
    """A store as version 3 left it: every table of today's but robots and subscriptions."""
    store = SqliteStore(path, clock=lambda: 1000.0)
    store.mark_seen({"k1": "written"})
    store.rest_host("a.example", 5000.0, "answered HTTP 429")
    store.close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE robots; DROP TABLE subscriptions; PRAGMA user_version = 3;")
    db.close()
    return path


def test_a_version_3_store_is_migrated_in_place_and_keeps_what_it_held(tmp_path):
    path = version_3_store(tmp_path / "v3.sqlite")
    reader = SqliteStore.open_readonly(path)  # beside a version-3 writer: no robots table yet
    try:
        assert reader.robots_file("https://a.example") is None
        assert list(reader.resting_hosts(1000.0)) == ["a.example"]
    finally:
        reader.close()
    store = SqliteStore(path, clock=lambda: 1000.0)
    try:
        assert store.unseen(["k1", "k2"]) == {"k2"}
        assert store.resting_hosts(1000.0) == {"a.example": (5000.0, "answered HTTP 429")}
        store.put_robots_file(COPY)
    finally:
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()
    reader = SqliteStore.open_readonly(path)
    try:
        assert reader.robots_file("https://a.example") == COPY
    finally:
        reader.close()


def test_a_version_1_postgres_database_gains_the_robots_table_and_keeps_what_it_held(postgres_url):
    store = PostgresStore(postgres_url, replica="r1")
    store.mark_seen({"k1": "written"})
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE robots")
        conn.execute("DROP TABLE subscriptions")
        conn.execute("UPDATE ingest_meta SET value = '1' WHERE name = 'schema_version'")
    store = PostgresStore(postgres_url, replica="r1")
    try:
        assert store.unseen(["k1", "k2"]) == {"k2"}
        assert store.robots_file(COPY.origin) is None
        store.put_robots_file(COPY)
        assert store.robots_file(COPY.origin) == COPY
    finally:
        store.close()
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT value FROM ingest_meta WHERE name = 'schema_version'").fetchone()
    assert row == (str(postgres_schema.SCHEMA_VERSION),) == ("3",)
