"""The PostgreSQL store's robots.txt copies, one per origin (scheme://host[:port]).

Every replica reads the copy one of them fetched (ingest.fetch.robots), so a site's
robots.txt is asked for about once a day whatever the number of replicas. A row is
replaced whole by the next copy of its origin; times are wall-clock epoch seconds.
"""

from __future__ import annotations

from ingest.models import RobotsCopy
from ingest.state.postgres_base import PgBase, text


class RobotsRows(PgBase):
    def robots_file(self, origin: str) -> RobotsCopy | None:
        rows = self._read("SELECT origin, kind, body, fetched_at, expires_at FROM robots "
                          "WHERE origin = %s", (origin,))
        return RobotsCopy(*rows[0]) if rows else None

    def put_robots_file(self, copy: RobotsCopy) -> None:
        self._write(
            "INSERT INTO robots (origin, kind, body, fetched_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (origin) DO UPDATE SET "
            "kind = excluded.kind, body = excluded.body, fetched_at = excluded.fetched_at, "
            "expires_at = excluded.expires_at",
            (text(copy.origin), copy.kind, text(copy.body), copy.fetched_at, copy.expires_at))
