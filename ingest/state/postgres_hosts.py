"""The PostgreSQL store's hosts: politeness shared by every replica.

A host rests (Retry-After, or timeouts in a row) until a wall-clock time every replica
reads. Its turns are handed out by `take_host_turn`, one round trip to a function the
schema defines (postgres_schema): ``concurrency`` slots per host, each held by one
replica until `end_host_turn` (or, should that replica die, ``hold`` seconds), and a
start time reserved per turn, ``delay`` after the previous one, on the database's clock,
so requests to a host start ``delay`` apart whichever replica sends them.
"""

from __future__ import annotations

from ingest.models import HostTurn
from ingest.state.postgres_base import PgBase, text


class HostRows(PgBase):
    def rest_host(self, host: str, until: float, why: str) -> None:
        self._write(
            "INSERT INTO hosts (host, rest_until, rest_why) VALUES (%s, %s, %s) "
            "ON CONFLICT (host) DO UPDATE SET rest_until = excluded.rest_until, "
            "rest_why = excluded.rest_why "
            "WHERE hosts.rest_until IS NULL OR hosts.rest_until < excluded.rest_until",
            (host, until, text(why[:500])))

    def resting_hosts(self, now: float) -> dict[str, tuple[float, str]]:
        rows = self._read("SELECT host, rest_until, rest_why FROM hosts WHERE rest_until > %s",
                          (now,))
        return {host: (until, why or "") for host, until, why in rows}

    def take_host_turn(self, host: str, delay: float, concurrency: int, hold: float) -> HostTurn:
        """A turn at ``host`` for this replica: a slot and the seconds to wait before the
        request starts; no slot, and how long to wait before asking again, while the host
        rests (with until when and why) or all of its ``concurrency`` slots are busy. A
        slot is held until `end_host_turn`, at most ``hold`` seconds."""
        _, rows = self._write(
            "SELECT o_slot, o_wait, o_until, o_why "
            "FROM ingest_take_host_turn(%s, %s, %s, %s, %s, %s)",
            (host, self.replica, delay, concurrency, hold, self._clock()), "taking a host turn in")
        slot, wait, until, why = rows[0]
        return HostTurn(slot, max(wait, 0.0), (until, why or "") if until is not None else None)

    def end_host_turn(self, host: str, slot: int) -> None:
        """Free a slot this replica took (one another replica took over is left alone)."""
        self._write("DELETE FROM host_slots WHERE host = %s AND slot = %s AND owner = %s",
                    (host, slot, self.replica))
