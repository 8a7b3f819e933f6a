"""The SQLite store's host rests: hosts left alone until a wall-clock time, and why.

The fetch stage writes a rest through to the store when it decides one (a Retry-After,
or timeouts in a row), and reads them back when it starts, so a rest outlives the
process that was told to wait. Times are wall-clock epoch seconds: the only clock two
runs share.
"""

from __future__ import annotations

from ingest.state.sqlite_base import SqliteBase


class HostRows(SqliteBase):
    def rest_host(self, host: str, until: float, why: str) -> None:
        self._write([(
            "INSERT INTO hosts (host, rest_until, why) VALUES (?, ?, ?) "
            "ON CONFLICT (host) DO UPDATE SET rest_until = excluded.rest_until, "
            "why = excluded.why WHERE excluded.rest_until > hosts.rest_until",
            [(host, until, why[:500])])])

    def resting_hosts(self, now: float) -> dict[str, tuple[float, str]]:
        rows = self._read("SELECT host, rest_until, why FROM hosts WHERE rest_until > ?", (now,))
        return {host: (until, why) for host, until, why in rows}

    def _forget_rests_over(self) -> None:
        """Drop the rests that are over (a rest is read only while it lasts), when the
        writer opens the store; raises sqlite3.Error."""
        self._db.execute("DELETE FROM hosts WHERE rest_until <= ?", (self._clock(),))
