"""A real PostgreSQL for the tests: ``TEST_POSTGRES_URL`` when set, else a throwaway
PostgreSQL 16 started from the ``pgserver`` wheel (a test extra).

Each test gets a database of its own (`PostgresServer.new_database`), so tests never see
each other's rows. Only a pgserver-started server can be stopped and started again
(`stop`, `start`), for the tests of a database that goes away. On CI (``CI=true``) a
PostgreSQL that cannot be had fails the run; elsewhere its tests are skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

_names = itertools.count()


class PostgresServer:
    def __init__(self, url: str, pgserver=None) -> None:
        self.url = url  # the maintenance database's URL
        self._pgserver = pgserver

    def new_database(self) -> str:
        """A fresh, empty database; its URL (libpq keyword form kept as given)."""
        name = f"ingest_test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def database_url(self, name: str) -> str:
        params = conninfo_to_dict(self.url)
        params["dbname"] = name
        if "host" in params and params["host"].startswith("/"):
            # the URL form keeps a socket folder in the query, as users write it
            user = params.pop("user", "postgres")
            rest = "&".join(f"{k}={v}" for k, v in params.items() if k not in ("dbname", "password"))
            return f"postgresql://{user}:@/{name}?{rest}"
        return make_conninfo(**params)

    @property
    def can_restart(self) -> bool:
        return self._pgserver is not None

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are cut)."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._pgserver.pgdata,
               user=self._pgserver.system_user, timeout=30)

    def start(self) -> None:
        self._pgserver.ensure_postgres_running()

    def make_throwaway(self) -> None:
        """Skip the flushes that only an operating-system crash needs: a throwaway server
        never outlives the session, and a server process that dies still recovers from
        its WAL. Databases (one per test) are then created at the speed of a copy."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in ("fsync", "full_page_writes", "synchronous_commit"):
                conn.execute(f"ALTER SYSTEM SET {name} = off")
            conn.execute("SELECT pg_reload_conf()")

    def discard(self) -> None:
        """Stop at once, without the shutdown checkpoint that would write out every test's
        database only for the folder to be deleted."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self._pgserver.pgdata,
               user=self._pgserver.system_user, timeout=30)
        # Stopped (pg_ctl waited): pgserver's cleanup then only deletes the folder, rather
        # than wait for the postmaster's zombie to be reaped.
        self._pgserver._postmaster_info = None


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL (see the module docstring)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield PostgresServer(url)
        return
    try:
        import pgserver
    except ImportError as exc:
        _unavailable(f"pgserver is not installed ({exc}); pip install '.[test]'")
    folder = Path(tempfile.mkdtemp(prefix="ingest-pg-"))
    try:
        server = pgserver.get_server(folder, cleanup_mode="delete")
    except Exception as exc:  # noqa: BLE001 - any failure to start means no PostgreSQL
        _unavailable(f"pgserver could not start PostgreSQL in {folder}: {exc}")
    throwaway = PostgresServer(server.get_uri(), server)
    try:
        throwaway.make_throwaway()
        yield throwaway
    finally:
        with contextlib.suppress(Exception):
            throwaway.discard()
        with contextlib.suppress(Exception):
            server.cleanup()


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required on CI: {why}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {why}")
