"""What both views of the PostgreSQL store share: statements run through the link
(postgres_link), each in autocommit, so a call is one round trip and one transaction.

The tables' methods are mixins over `PgBase` (postgres_seen, postgres_feeds,
postgres_footers, postgres_stories, postgres_hosts); `PostgresStore` (the writer) and
`ReadOnlyPostgresStore` combine them. Rows are written in key order, so two replicas
writing overlapping keys at once lock them in the same order and never deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ingest.state.postgres_identity import DB_NOW
from ingest.state.postgres_link import Link

__all__ = ["DB_NOW", "PgBase", "text"]

Args = Sequence[Any] | Mapping[str, Any]


class PgBase:
    #: the replica identity leases and claims are held under
    replica: str = ""
    #: seconds a lease or claim of a replica that died still holds
    lease_seconds: float = 10.0

    def __init__(self, link: Link, clock: Callable[[], float]) -> None:
        self._link = link
        self._clock = clock

    @property
    def where(self) -> str:
        """The database as messages name it: ``user@host:port/dbname``."""
        return self._link.where

    def _read(self, sql: str, args: Args = ()) -> list[tuple]:
        with self._link.connection("read from") as conn:
            return conn.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Args = (), what: str = "write to") -> tuple[int, list[tuple]]:
        """Run one statement that writes: (rows it touched, rows it returned)."""
        self._writing(what)
        with self._link.connection(what) as conn:
            cur = conn.execute(sql, args)
            return cur.rowcount, cur.fetchall() if cur.description else []

    def _writing(self, what: str) -> None:
        """Before a write (the read-only view refuses it here)."""

    def ping(self) -> None:
        self._read("SELECT 1")


def text(value: str) -> str:
    """``value`` as PostgreSQL text takes it: NUL characters (which it cannot store, and
    which lines taken from the network may hold) dropped."""
    return value.replace("\x00", "") if "\x00" in value else value
