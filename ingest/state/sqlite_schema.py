"""The SQLite store's file: its tables, their version, and opening a connection to it.

Both views of the store open the file here: the writer (`SqliteStore`) and the reader
beside it (`ReadOnlySqliteStore`). The writer makes the tables and migrates a store made
by an earlier version; both refuse one made by a later version (its ``PRAGMA
user_version`` is above SCHEMA_VERSION), since this version would misread what it added.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest.errors import StateError

# The PRAGMA user_version it writes; a store without one reads 0. Version 2 is the first
# with the near-duplicate index (stories, story_bands; laid out in sqlite_stories), 3 the
# first with host rests (hosts; sqlite_hosts), 4 the first with robots.txt copies
# (robots; sqlite_robots), 5 the first with WebSub subscriptions (subscriptions;
# sqlite_subscriptions).
SCHEMA_VERSION = 5
_WAL_KEPT = 64 * 1024 * 1024  # bytes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    seen_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    last_error TEXT,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    next_poll_at REAL,
    leased_until REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feeds_next_poll ON feeds (next_poll_at);
CREATE TABLE IF NOT EXISTS footer_lines (
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    sample TEXT NOT NULL,
    count INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (site, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sink_checkpoints (
    path TEXT PRIMARY KEY,
    offset INTEGER NOT NULL,
    fingerprint TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stories (
    id INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE,
    story_id TEXT NOT NULL,
    signature BLOB NOT NULL,
    site TEXT NOT NULL,
    title TEXT,
    published TEXT,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_story ON stories (story_id, indexed_at);
CREATE INDEX IF NOT EXISTS stories_indexed ON stories (indexed_at);
CREATE TABLE IF NOT EXISTS story_bands (
    band INTEGER NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (band, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT PRIMARY KEY,
    rest_until REAL NOT NULL,
    why TEXT NOT NULL
) WITHOUT ROWID;
-- a rowid table: a body may be hundreds of KiB, too large a row for WITHOUT ROWID
CREATE TABLE IF NOT EXISTS robots (
    origin TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    callback_id TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    topic TEXT NOT NULL,
    hub TEXT NOT NULL,
    secret TEXT NOT NULL,
    state TEXT NOT NULL,
    lease_seconds REAL,
    expires_at REAL,
    requested_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_feed ON subscriptions (feed_url);
"""


def connect_writer(path: Path) -> sqlite3.Connection:
    """``path`` opened for writing (WAL), its tables made or migrated to SCHEMA_VERSION.

    Raises sqlite3.Error, or StateError for a store of a newer version."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        # Pruning the near-duplicate index rewrites much of the file in one transaction;
        # past it, the WAL file is cut back to this size rather than staying as large.
        db.execute(f"PRAGMA journal_size_limit={_WAL_KEPT}")
        check_schema_version(db, path)
        db.executescript(_SCHEMA)
        _migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def connect_reader(path: Path) -> sqlite3.Connection:
    """``path`` opened read-only (SQLite refuses every write); no tables are made, so a
    file that is not a store fails here.

    Raises sqlite3.Error, or StateError for a store of a newer version."""
    uri = path.resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("SELECT 1 FROM feeds LIMIT 1")
        check_schema_version(db, path)
    except BaseException:
        db.close()
        raise
    return db


def check_schema_version(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateError(f"state: {path} was written by a newer version of ingest (store "
                         f"schema {version}; this one knows up to {SCHEMA_VERSION}); "
                         "upgrade ingest, or point state.path at another file")


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a store made by an earlier version up to the current schema: the tables a
    version added are made by _SCHEMA (IF NOT EXISTS), the columns it added are here."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(feeds)")}
    if "leased_until" not in columns:
        db.execute("ALTER TABLE feeds ADD COLUMN leased_until REAL")
    columns = {row[1] for row in db.execute("PRAGMA table_info(sink_checkpoints)")}
    if "fingerprint" not in columns:
        db.execute("ALTER TABLE sink_checkpoints ADD COLUMN fingerprint TEXT")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
