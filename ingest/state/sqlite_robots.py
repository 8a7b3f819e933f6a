"""The SQLite store's robots.txt copies, one per origin (scheme://host[:port]).

The fetch stage keeps each site's robots.txt here for a day (ingest.fetch.robots), so a
one-shot run does not ask for it again on every run. A row is replaced whole by the next
copy of its origin; times are wall-clock epoch seconds.
"""

from __future__ import annotations

from ingest.models import RobotsCopy
from ingest.state.sqlite_base import SqliteBase


class RobotsRows(SqliteBase):
    def robots_file(self, origin: str) -> RobotsCopy | None:
        rows = self._read("SELECT origin, kind, body, fetched_at, expires_at FROM robots "
                          "WHERE origin = ?", (origin,))
        return RobotsCopy(*rows[0]) if rows else None

    def put_robots_file(self, copy: RobotsCopy) -> None:
        self._write([(
            "INSERT INTO robots (origin, kind, body, fetched_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET kind = excluded.kind, "
            "body = excluded.body, fetched_at = excluded.fetched_at, "
            "expires_at = excluded.expires_at",
            [(copy.origin, copy.kind, copy.body, copy.fetched_at, copy.expires_at)])])
