"""Moving up: copy a SQLite store into a PostgreSQL one, so that replicas on that database
continue where the single process stopped (nothing fetched again, nothing written twice,
conditional requests still conditional).

Every table is copied: seen marks, failure counts, feeds (their state as it is, with the
validators and schedule; not their leases, which belonged to the process), footer
counts, sink checkpoints, host rests, and the near-duplicate index (records and their
band keys). Not the robots.txt copies: a cache of a day, which the replicas fetch again;
nor the WebSub subscriptions: their callback URLs name the single process's ops server,
and the replicas' next polls subscribe afresh.
The SQLite file is read in one read transaction (a consistent snapshot, beside a lock
holder); the database is migrated first, and the copy is one transaction: it
lands whole or not at all. Each table is streamed with COPY into a temporary table,
then merged into ours.

A database that holds seen marks or feeds already is refused unless ``merge`` is given.
Merging, what the database has wins: a seen mark, failure count, feed, checkpoint or
indexed record it holds is kept as it is; a footer line keeps the larger of the two
counts and a host the later rest. So the copy can be run again: the same copy merged
twice changes nothing the second time (every count it returns is 0).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from ingest.errors import StateError
from ingest.redact import describe_conninfo
from ingest.state.postgres_base import text
from ingest.state.postgres_conn import connect, reason
from ingest.state.postgres_schema import MIGRATION, migrate
from ingest.state.sqlite_schema import connect_reader

# (SQLite table, what is read from it, the temporary table it is copied into); robots and
# subscriptions are left behind on purpose (see the module docstring)
_SOURCES = [
    ("seen", "SELECT key, status, seen_at FROM seen",
     "s_seen (key text, status text, seen_at float8)"),
    ("attempts", "SELECT key, count, last_error, updated_at FROM attempts",
     "s_attempts (key text, count integer, last_error text, updated_at float8)"),
    ("feeds", "SELECT url, data, next_poll_at FROM feeds",
     "s_feeds (url text, data text, next_poll_at float8)"),
    ("footer_lines", "SELECT site, key, sample, count, updated_at FROM footer_lines",
     "s_footer_lines (site text, key text, sample text, count bigint, updated_at float8)"),
    ("sink_checkpoints", "SELECT path, offset, fingerprint FROM sink_checkpoints",
     "s_sink_checkpoints (path text, file_offset bigint, fingerprint text)"),
    ("hosts", "SELECT host, rest_until, why FROM hosts",
     "s_hosts (host text, rest_until float8, why text)"),
    ("stories", "SELECT id, record_id, story_id, signature, site, title, published, "
     "indexed_at FROM stories",
     "s_stories (old_id bigint, record_id text, story_id text, signature bytea, site text, "
     "title text, published text, indexed_at float8)"),
    ("story_bands", "SELECT band, id FROM story_bands", "s_story_bands (band bigint, old_id bigint)"),
]

# (the tables a merge counts rows for, the statement: one row of those counts)
_STORY_COLUMNS = "record_id, story_id, signature, site, title, published, indexed_at"
_MERGES = [
    (("seen",), "INSERT INTO seen SELECT * FROM s_seen ON CONFLICT (key) DO NOTHING"),
    (("attempts",), "INSERT INTO attempts SELECT * FROM s_attempts ON CONFLICT (key) DO NOTHING"),
    (("feeds",), "INSERT INTO feeds (url, data, next_poll_at) SELECT * FROM s_feeds "
     "ON CONFLICT (url) DO NOTHING"),
    (("footer_lines",),
     "INSERT INTO footer_lines SELECT DISTINCT ON (site, key) * FROM s_footer_lines "
     "ORDER BY site, key, count DESC ON CONFLICT (site, key) DO UPDATE SET "
     "count = excluded.count, updated_at = greatest(footer_lines.updated_at, excluded.updated_at) "
     "WHERE footer_lines.count < excluded.count"),
    (("sink_checkpoints",), "INSERT INTO sink_checkpoints SELECT * FROM s_sink_checkpoints "
     "ON CONFLICT (path) DO NOTHING"),
    (("hosts",), "INSERT INTO hosts (host, rest_until, rest_why) SELECT DISTINCT ON (host) * "
     "FROM s_hosts ORDER BY host, rest_until DESC ON CONFLICT (host) DO UPDATE SET "
     "rest_until = excluded.rest_until, rest_why = excluded.rest_why "
     "WHERE hosts.rest_until IS NULL OR hosts.rest_until < excluded.rest_until"),
]
_MERGE_STORIES = (
    f"WITH added AS (INSERT INTO stories ({_STORY_COLUMNS}) SELECT {_STORY_COLUMNS} "
    "FROM s_stories ORDER BY old_id ON CONFLICT (record_id) DO NOTHING RETURNING id, record_id), "
    "bands AS (INSERT INTO story_bands (band, id) SELECT b.band, added.id FROM s_story_bands b "
    "JOIN s_stories s ON s.old_id = b.old_id JOIN added ON added.record_id = s.record_id "
    "ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM bands)")


def copy_sqlite_store(sqlite_path: Path, url: str, *, merge: bool = False) -> dict[str, int]:
    """Copy the SQLite store at ``sqlite_path`` into the database at ``url`` (see the module
    docstring); return the rows added (or, merging, changed) per table. Raises StateError."""
    where = describe_conninfo(url)
    try:
        source = connect_reader(Path(sqlite_path))
    except sqlite3.Error as exc:
        raise StateError(f"state: cannot read {sqlite_path}: {exc}; is it an ingest "
                         "state store (state.path)?") from exc
    try:
        conn = connect(url, where, "ingest migrate-state")
        try:
            conn.execute("SET statement_timeout = 0")  # a big store's COPY takes what it takes
            migrate(conn, where)
            with conn.transaction():
                return _copy(source, conn, where, merge)
        except psycopg.Error as exc:
            raise StateError(f"state: copying {sqlite_path} into {where} failed: "
                             f"{reason(exc)}; nothing was copied") from exc
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StateError(f"state: reading {sqlite_path} failed: {exc}; nothing was copied") from exc
    finally:
        source.close()


def _copy(source: sqlite3.Connection, conn: psycopg.Connection, where: str,
          merge: bool) -> dict[str, int]:
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION)  # one copy at a time
    if not merge:
        _refuse_unless_empty(conn, where)
    present = {row[0] for row in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    source.execute("BEGIN")  # one snapshot of every table
    try:
        for table, select, staging in _SOURCES:
            conn.execute(f"CREATE TEMP TABLE {staging} ON COMMIT DROP")
            if table in present:
                _stream(source.execute(select), conn, staging.split(" ", 1)[0])
    finally:
        source.execute("COMMIT")
    copied: dict[str, int] = {}
    for tables, statement in _MERGES:
        row = conn.execute(f"WITH n AS ({statement} RETURNING 1) SELECT count(*) FROM n").fetchone()
        copied.update(zip(tables, row or (0,), strict=True))
    stories, bands = conn.execute(_MERGE_STORIES).fetchone() or (0, 0)
    copied.update(stories=stories, story_bands=bands)
    return copied


def _stream(rows: sqlite3.Cursor, conn: psycopg.Connection, staging: str) -> None:
    with conn.cursor().copy(f"COPY {staging} FROM STDIN") as copy:
        for row in rows:
            copy.write_row([text(v) if isinstance(v, str) else v for v in row])


def _refuse_unless_empty(conn: psycopg.Connection, where: str) -> None:
    row = conn.execute("SELECT (SELECT count(*) FROM seen), (SELECT count(*) FROM feeds)").fetchone()
    seen, feeds = row or (0, 0)
    if seen or feeds:
        raise StateError(f"state: {where} holds ingest state already ({seen} seen marks, "
                         f"{feeds} feeds); copy into an empty database, or merge into this "
                         "one (`ingest migrate-state --merge`: what it holds wins)")
