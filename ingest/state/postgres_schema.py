"""The PostgreSQL store's tables, their version, and migrating a database to it.

MIGRATIONS is a list of SQL steps; ``ingest_meta`` holds how many a database has had (its
schema version). Every writer migrates at open, inside ``pg_advisory_xact_lock``, so
replicas starting together migrate once and the others find it done. A database of a
newer version is refused (this code would misread what it added), and so is one that
holds tables but not ours: the store is never mixed into another application's tables.

``seen`` is written by the PostgreSQL sink too (`INSERT ... ON CONFLICT (key) DO NOTHING`
in the sink's own transaction): its shape is part of that contract. Times are Unix
seconds (double precision), as in the SQLite store.
"""

from __future__ import annotations

import psycopg

from ingest.errors import StateError

# Advisory lock keys (two-int form). Replica identities are (REPLICAS, hashtext(name)),
# so counting the granted locks of that namespace counts live replicas.
REPLICAS = 0x696E6773  # "ings"
MIGRATION = (REPLICAS + 1, 0)

_TABLES = """
CREATE TABLE ingest_meta (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE seen (key text PRIMARY KEY, status text NOT NULL, seen_at double precision NOT NULL);
CREATE TABLE attempts (key text PRIMARY KEY, count integer NOT NULL, last_error text,
                       updated_at double precision NOT NULL);
CREATE TABLE claims (key text PRIMARY KEY, owner text NOT NULL, until double precision NOT NULL);
CREATE INDEX claims_owner ON claims (owner);
CREATE TABLE feeds (url text PRIMARY KEY, data text NOT NULL, next_poll_at double precision,
                    leased_by text, leased_until double precision);
CREATE INDEX feeds_next_poll ON feeds (next_poll_at);
CREATE INDEX feeds_leased_by ON feeds (leased_by) WHERE leased_by IS NOT NULL;
CREATE TABLE footer_lines (site text NOT NULL, key text NOT NULL, sample text NOT NULL,
                           count bigint NOT NULL, updated_at double precision NOT NULL,
                           PRIMARY KEY (site, key));
CREATE TABLE sink_checkpoints (path text PRIMARY KEY, file_offset bigint NOT NULL, fingerprint text);
CREATE TABLE stories (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                      record_id text NOT NULL UNIQUE, story_id text NOT NULL,
                      signature bytea NOT NULL, site text NOT NULL, title text, published text,
                      indexed_at double precision NOT NULL);
CREATE INDEX stories_story ON stories (story_id, indexed_at);
CREATE INDEX stories_indexed ON stories (indexed_at);
CREATE TABLE story_bands (band bigint NOT NULL, id bigint NOT NULL, PRIMARY KEY (band, id));
CREATE TABLE hosts (host text PRIMARY KEY, rest_until double precision, rest_why text,
                    next_start double precision NOT NULL DEFAULT 0);
CREATE TABLE host_slots (host text NOT NULL, slot integer NOT NULL, owner text NOT NULL,
                         until double precision NOT NULL, PRIMARY KEY (host, slot));
CREATE INDEX host_slots_owner ON host_slots (owner);
CREATE TABLE replicas (name text PRIMARY KEY, pid integer, hostname text,
                       started_at double precision);
"""

# One host's politeness turn in one round trip: the host row is locked while the slots
# are looked at, so replicas asking at once are served one after the other, and each
# reserves the next start (`delay` after the previous one) on the database's clock.
_TAKE_HOST_TURN = """
CREATE FUNCTION ingest_take_host_turn(p_host text, p_owner text, p_delay double precision,
    p_concurrency integer, p_hold double precision, p_wall double precision,
    OUT o_slot integer, OUT o_wait double precision, OUT o_until double precision,
    OUT o_why text)
LANGUAGE plpgsql AS $$
DECLARE
    db_now double precision;
    h hosts%ROWTYPE;
    start double precision;
BEGIN
    INSERT INTO hosts (host) VALUES (p_host) ON CONFLICT (host) DO NOTHING;
    SELECT * INTO h FROM hosts WHERE host = p_host FOR UPDATE;
    -- read after the row lock: a wait for it must not make the returned wait too long
    db_now := extract(epoch FROM clock_timestamp())::float8;
    IF h.rest_until > p_wall THEN
        o_wait := h.rest_until - p_wall; o_until := h.rest_until; o_why := h.rest_why;
        RETURN;
    END IF;
    SELECT s INTO o_slot FROM generate_series(0, greatest(p_concurrency, 1) - 1) AS s
     WHERE NOT EXISTS (SELECT 1 FROM host_slots AS t
                        WHERE t.host = p_host AND t.slot = s AND t.until > db_now)
     ORDER BY s LIMIT 1;
    IF o_slot IS NULL THEN
        o_wait := 0.05;  -- every slot is busy: ask again soon
        RETURN;
    END IF;
    INSERT INTO host_slots (host, slot, owner, until) VALUES (p_host, o_slot, p_owner, db_now + p_hold)
        ON CONFLICT (host, slot) DO UPDATE SET owner = excluded.owner, until = excluded.until;
    start := greatest(h.next_start, db_now);
    UPDATE hosts SET next_start = start + p_delay WHERE host = p_host;
    o_wait := start - db_now;
END $$;
"""

# robots.txt copies, one per origin (postgres_robots)
_ROBOTS = """
CREATE TABLE robots (origin text PRIMARY KEY, kind text NOT NULL, body text NOT NULL,
                     fetched_at double precision NOT NULL,
                     expires_at double precision NOT NULL);
"""

# WebSub subscriptions by callback id, several per feed while a renewal waits for its
# hub (postgres_subscriptions)
_SUBSCRIPTIONS = """
CREATE TABLE subscriptions (callback_id text PRIMARY KEY, feed_url text NOT NULL,
                            topic text NOT NULL, hub text NOT NULL, secret text NOT NULL,
                            state text NOT NULL, lease_seconds double precision,
                            expires_at double precision,
                            requested_at double precision NOT NULL);
CREATE INDEX subscriptions_feed ON subscriptions (feed_url);
"""

MIGRATIONS: list[str] = [_TABLES + _TAKE_HOST_TURN, _ROBOTS, _SUBSCRIPTIONS]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: psycopg.Connection, where: str) -> None:
    """Bring the database to SCHEMA_VERSION (making the tables of an empty one), once
    across every process opening it at the same time; raises StateError, psycopg.Error."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION)
        version = schema_version(conn)
        if version is None:
            if _other_tables(conn):
                raise StateError(_not_ours(where))
            version = 0
        if version > SCHEMA_VERSION:
            raise StateError(_newer(where, version))
        for step in MIGRATIONS[version:]:
            conn.execute(step)
        if version < SCHEMA_VERSION:
            conn.execute("INSERT INTO ingest_meta (name, value) VALUES ('schema_version', %s) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                         (str(SCHEMA_VERSION),))


def check_readable(conn: psycopg.Connection, where: str) -> None:
    """Refuse, with StateError, a database this version cannot read without migrating it."""
    version = schema_version(conn)
    if version is None:
        if _other_tables(conn):
            raise StateError(_not_ours(where))
        raise StateError(f"state: no ingest state in {where} yet; `ingest fetch` or "
                         "`ingest run` with this state.url creates it")
    if version > SCHEMA_VERSION:
        raise StateError(_newer(where, version))
    if version < SCHEMA_VERSION:
        raise StateError(f"state: {where} was written by an older version of ingest (store "
                         f"schema {version}; this one reads {SCHEMA_VERSION}); start "
                         "`ingest run` or `ingest fetch` once to upgrade it")


def schema_version(conn: psycopg.Connection) -> int | None:
    """The database's schema version; None when it has no ``ingest_meta`` table."""
    found = conn.execute("SELECT to_regclass('ingest_meta') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return None
    row = conn.execute("SELECT value FROM ingest_meta WHERE name = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _other_tables(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_tables "
                       "WHERE schemaname = current_schema())").fetchone()
    return bool(row and row[0])


def _not_ours(where: str) -> str:
    return (f"state: {where} is not an ingest state database (it holds other tables and no "
            "ingest_meta); point state.url at an empty database or ingest's own")


def _newer(where: str, version: int) -> str:
    return (f"state: {where} was written by a newer version of ingest (store schema "
            f"{version}; this one knows up to {SCHEMA_VERSION}); upgrade ingest, or point "
            "state.url at another database")
