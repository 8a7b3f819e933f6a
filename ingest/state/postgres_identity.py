"""A replica's identity on the database, and what it holds while it lives.

The identity is a session advisory lock, (REPLICAS, hashtext(name)), held by one
connection for the life of the store: it dies with the process's session, so a replica
restarted after a kill -9 takes it again at once, while a second live process with the
same name is refused. The holder writes its pid, host and start time into ``replicas``,
which is what the refused one is told.

The granted locks of that namespace are the live replicas; `claim_due_feeds` divides the
due feeds by their number. (Two names with the same 32-bit hash would refuse each other
as if they were one: the message names the holder, and another name settles it.)
"""

from __future__ import annotations

import os
import socket
import time

import psycopg

from ingest.errors import StateLocked
from ingest.state.postgres_schema import REPLICAS
from ingest.units import utc_iso

# The database's clock, in Unix seconds: the one clock every replica shares (leases,
# claims and host slots run by it); one value throughout a statement.
DB_NOW = "extract(epoch FROM statement_timestamp())::float8"

LIVE_REPLICAS = (
    "SELECT greatest(count(*), 1) FROM pg_locks WHERE locktype = 'advisory' "
    f"AND classid = {REPLICAS} AND objsubid = 2 AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")

# A session ended by a kill -9 is gone once its server process reads the closed socket:
# a moment, which a restart right after the kill may still fall into.
_GRACE = 2.0  # seconds
_STEP = 0.1


def take_identity(conn: psycopg.Connection, replica: str, where: str) -> None:
    """Hold ``replica``'s lock on ``conn`` (autocommit) and say who holds it; StateLocked
    naming the holder if another live session has it. Raises psycopg.Error."""
    deadline = time.monotonic() + _GRACE
    while not _try_lock(conn, replica):
        if time.monotonic() >= deadline:
            raise StateLocked(holder_message(conn, replica, where))
        time.sleep(_STEP)
    conn.execute(
        "INSERT INTO replicas (name, pid, hostname, started_at) VALUES (%s, %s, %s, "
        f"{DB_NOW}) ON CONFLICT (name) DO UPDATE SET pid = excluded.pid, "
        "hostname = excluded.hostname, started_at = excluded.started_at",
        (replica, os.getpid(), socket.gethostname()))


def holder_message(conn: psycopg.Connection, replica: str, where: str) -> str:
    row = conn.execute("SELECT pid, hostname, started_at FROM replicas WHERE name = %s",
                       (replica,)).fetchone()
    holder = (f"pid {row[0]} on {row[1]}, since {utc_iso(row[2])}" if row and row[2]
              else "another process")
    return (f"state: replica {replica!r} is already running against {where} ({holder}); "
            "stop it, or give this process another state.replica")


def renew(conn: psycopg.Connection, replica: str, lease_seconds: float) -> None:
    """Extend this replica's feed leases and article claims by ``lease_seconds``."""
    conn.execute(
        f"WITH f AS (UPDATE feeds SET leased_until = {DB_NOW} + %(s)s WHERE leased_by = %(r)s) "
        f"UPDATE claims SET until = {DB_NOW} + %(s)s WHERE owner = %(r)s",
        {"s": lease_seconds, "r": replica})


def hand_back(conn: psycopg.Connection, replica: str) -> None:
    """End every lease, claim and host slot this replica holds: its feeds are due again
    at once, its articles may be claimed by another replica."""
    conn.execute(
        "WITH f AS (UPDATE feeds SET leased_by = NULL, leased_until = NULL "
        "WHERE leased_by = %(r)s), c AS (DELETE FROM claims WHERE owner = %(r)s) "
        "DELETE FROM host_slots WHERE owner = %(r)s", {"r": replica})


def _try_lock(conn: psycopg.Connection, replica: str) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                       (REPLICAS, replica)).fetchone()
    return bool(row and row[0])
