"""Connecting to the PostgreSQL store: the URL as libpq takes it, the session settings,
connecting once or waiting for a database that is still starting, the callers' pool.

The URL (or keyword conninfo) goes to libpq as given, so every form libpq reads works, and
so do the ``PG*`` environment variables and the passfile. Messages name a database as
``user@host:port/dbname`` (`ingest.redact.describe_conninfo`) and never repeat the URL: it
may hold a password.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from ingest.errors import StateError

log = logging.getLogger("ingest.state")

CONNECT_TIMEOUT = 5  # seconds libpq waits for a server that does not answer (unless the URL says)
GETCONN_TIMEOUT = 1.0  # seconds a call waits for a pooled connection before the database counts as gone
STATEMENT_TIMEOUT_MS = 30_000  # no statement holds a caller for longer
_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 10.0  # seconds between tries while waiting at start


def connect_kwargs(url: str, application: str) -> dict[str, Any]:
    """What psycopg.connect gets besides the URL: our defaults where the URL sets none."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        # libpq's own message may quote the part it could not read: a password, perhaps
        raise StateError("state: state.url is not a PostgreSQL URL or connection string "
                         "libpq can read (postgresql://user@host:port/dbname, or "
                         "'host=... dbname=...')") from exc
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in params:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT
    if "tcp_user_timeout" not in params:
        # a server gone silent (no reset: a lost host) fails a call rather than hanging it
        kwargs["tcp_user_timeout"] = CONNECT_TIMEOUT * 1000
    if "application_name" not in params:
        kwargs["application_name"] = application[:63]
    return kwargs


def configure(conn: psycopg.Connection) -> None:
    """Session settings of every connection of the store."""
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")


def unreachable(where: str, reason: str) -> str:
    return f"state: PostgreSQL at {where} is unreachable: {reason}"


def reason(exc: BaseException) -> str:
    """The first line of a psycopg error (libpq adds hints and detail lines)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(url: str, where: str, application: str) -> psycopg.Connection:
    """One try; StateError when the database does not answer or refuses us."""
    kwargs = connect_kwargs(url, application)
    try:
        conn = psycopg.connect(url, **kwargs)
    except psycopg.Error as exc:
        raise StateError(unreachable(where, reason(exc))) from exc
    try:
        configure(conn)
    except psycopg.Error as exc:
        conn.close()
        raise StateError(unreachable(where, reason(exc))) from exc
    return conn


def connect_waiting(url: str, where: str, application: str, timeout: float) -> psycopg.Connection:
    """Connect, trying again with backoff (1 s doubling to 10 s) for up to ``timeout``
    seconds, each failed try logged; 0: one try."""
    connect_kwargs(url, application)  # a URL libpq cannot read is not worth waiting for
    deadline = time.monotonic() + timeout
    pause = _BACKOFF_FIRST
    while True:
        try:
            return connect(url, where, application)
        except StateError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                if timeout > 0:
                    raise StateError(f"{exc} (waited {timeout:g} s for it)") from exc.__cause__
                raise
            pause = min(pause, left)
            log.warning("%s; trying again in %.3g s", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, _BACKOFF_MAX)


def open_pool(url: str, where: str, application: str, *, read_only: bool) -> ConnectionPool:
    """The callers' connections: a few (one for a reader), opened before it returns."""
    def setup(conn: psycopg.Connection) -> None:
        configure(conn)
        if read_only:  # the server refuses writes too, whatever a caller tries
            conn.execute("SET default_transaction_read_only = on")

    pool = ConnectionPool(url, kwargs=connect_kwargs(url, application), min_size=1,
                          max_size=1 if read_only else 4, open=False, configure=setup,
                          timeout=GETCONN_TIMEOUT, num_workers=1, name=f"ingest-state {where}")
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT)
    except PoolTimeout as exc:
        pool.close()
        raise StateError(unreachable(where, f"no connection within {CONNECT_TIMEOUT} s")) from exc
    return pool
