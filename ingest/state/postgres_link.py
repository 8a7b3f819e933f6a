"""The PostgreSQL store's connections: a small pool for the callers and, for a writer, the
identity session and the keeper thread that looks after it.

The store is called from the daemon's event loop, so no call may wait long on a database
that went away. A call that finds it gone (its connection broke, or none could be had
within a second) marks the link down and raises StateError; while it is down every call
fails at once, without trying to connect, and the keeper tries again in the background
(1 s doubling to 5 s). When the database answers, the keeper takes the identity again
(refused, and staying down, while another live process holds it), replaces the pool's
connections, and the link is up again.

While up, the keeper renews this replica's feed leases and article claims every quarter
lease on the identity session: a replica that dies stops renewing, and what it held is
free within `lease_seconds`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ingest.errors import StateError
from ingest.state.postgres_conn import (
    CONNECT_TIMEOUT,
    GETCONN_TIMEOUT,
    connect,
    connect_waiting,
    open_pool,
    reason,
    unreachable,
)
from ingest.state.postgres_identity import hand_back, renew, take_identity
from ingest.state.postgres_schema import check_readable, migrate

log = logging.getLogger("ingest.state")

_RETRY_FIRST, _RETRY_MAX = 1.0, 5.0  # seconds between the keeper's tries while down


class Link:
    def __init__(self, url: str, where: str, application: str) -> None:
        self.url, self.where, self._application = url, where, application
        self.failure: str | None = None  # why calls fail, while the link is down
        self.closed = False
        self._pool: ConnectionPool | None = None
        self._identity: psycopg.Connection | None = None
        self._replica = ""
        self._lease = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    # -- opening and closing -----------------------------------------------------------
    def open_writer(self, replica: str, lease_seconds: float, connect_timeout: float) -> None:
        """Wait for the database, migrate it, take the identity, start the keeper."""
        self._replica, self._lease = replica, lease_seconds
        conn = connect_waiting(self.url, self.where, self._application, connect_timeout)
        try:
            migrate(conn, self.where)
            take_identity(conn, replica, self.where)
            # What the name still holds was left by a process that died (the lock was
            # free): its polls and articles are in flight nowhere.
            hand_back(conn, replica)
            self._identity = conn
            self._pool = open_pool(self.url, self.where, self._application, read_only=False)
        except BaseException as exc:
            conn.close()
            self._identity = None
            if isinstance(exc, psycopg.Error):
                raise StateError(f"state: cannot open the store at {self.where}: "
                                 f"{reason(exc)}") from exc
            raise
        self._keeper = threading.Thread(target=self._keep, name=f"ingest-state-{replica}",
                                        daemon=True)
        self._keeper.start()

    def open_reader(self) -> None:
        self._pool = open_pool(self.url, self.where, self._application, read_only=True)
        with self.connection("read") as conn:
            check_readable(conn, self.where)

    def close(self) -> None:
        """Stop the keeper, hand back what this replica holds, let every connection go."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._wake.set()
        if self._keeper is not None:
            self._keeper.join(timeout=2 * CONNECT_TIMEOUT)
        identity, self._identity = self._identity, None
        if identity is not None:
            try:
                if self.failure is None:
                    hand_back(identity, self._replica)
            except psycopg.Error as exc:
                log.warning("state: could not hand back the leases of replica %r at %s (%s); "
                            "they expire within %g s", self._replica, self.where,
                            reason(exc), self._lease)
            finally:
                identity.close()  # the session ends: so does the identity lock
        if self._pool is not None:
            self._pool.close(timeout=1.0)

    # -- calls ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def connection(self, what: str) -> Iterator[psycopg.Connection]:
        """A pooled connection (autocommit); psycopg errors become StateError naming the
        database and ``what`` was being done; a lost database marks the link down."""
        if self.closed or self._pool is None:
            raise StateError(f"state: the store at {self.where} is closed")
        if self.failure is not None:
            raise StateError(self.failure)
        try:
            with self._pool.connection(timeout=GETCONN_TIMEOUT) as conn:
                try:
                    yield conn
                except psycopg.Error as exc:
                    if conn.broken or isinstance(exc, psycopg.errors.AdminShutdown):
                        raise self._lost(reason(exc)) from exc
                    raise StateError(f"state: {what} {self.where} failed: {reason(exc)}") from exc
        except PoolTimeout as exc:
            raise self._lost(f"no connection within {GETCONN_TIMEOUT:g} s") from exc

    def _lost(self, why: str) -> StateError:
        message = unreachable(self.where, why)
        if self._keeper is None:  # a reader: the next call simply tries again
            return StateError(message)
        if self.failure is None:
            log.warning("%s; calls fail until it answers again (retrying in the background)",
                        message)
            self.failure = message
            self._wake.set()
        return StateError(self.failure or message)

    # -- the keeper ------------------------------------------------------------------------
    def _keep(self) -> None:
        pause = _RETRY_FIRST
        while not self._stop.is_set():
            if self.failure is None:
                self._wake.wait(self._lease / 4)
                self._wake.clear()
                if self._stop.is_set() or self.failure is not None:
                    continue
                try:
                    assert self._identity is not None
                    renew(self._identity, self._replica, self._lease)
                except psycopg.Error as exc:
                    self._lost(reason(exc))
                continue
            try:
                self._recover()
                pause = _RETRY_FIRST
            except StateError as exc:
                if str(exc) != self.failure:  # a new reason (another holder, say): say it once
                    log.warning("%s", exc)
                self.failure = str(exc)
                self._stop.wait(pause)
                pause = min(pause * 2, _RETRY_MAX)

    def _recover(self) -> None:
        """Up again: the identity still held (or taken anew), the pool's connections new.
        This process's leases and claims stay its own: its polls are still running."""
        conn = self._identity
        if conn is None or conn.broken or not _answers(conn):
            if conn is not None:
                conn.close()
            self._identity = None
            conn = connect(self.url, self.where, self._application)
            try:
                take_identity(conn, self._replica, self.where)
            except psycopg.Error as exc:
                conn.close()
                raise StateError(unreachable(self.where, reason(exc))) from exc
            except StateError:
                conn.close()
                raise
            self._identity = conn
        assert self._pool is not None
        self._pool.drain()
        self.failure = None
        log.warning("state: PostgreSQL at %s answers again; the store works again", self.where)


def _answers(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
