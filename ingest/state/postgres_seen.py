"""The PostgreSQL store's seen marks, transient-failure counts, article claims and sink
checkpoints.

A batch's seen marks, the end of their failure counts and the sink checkpoints that cover
their lines are one statement, hence one transaction: after a crash the checkpoints never
run ahead of the marks. A claim is a row of ``claims`` owned by this replica until its
lease runs out (the keeper renews it while the process lives), so an article is in
flight in at most one replica, and never once it is marked seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingest.models import Checkpoint
from ingest.state.postgres_base import DB_NOW, PgBase, text

_MARK = (
    "WITH s AS (INSERT INTO seen (key, status, seen_at) "
    "SELECT k, s, %(now)s FROM unnest(%(keys)s::text[], %(statuses)s::text[]) AS t (k, s) "
    "ON CONFLICT (key) DO NOTHING), "
    "a AS (DELETE FROM attempts WHERE key = ANY(%(keys)s::text[])) "
    "INSERT INTO sink_checkpoints (path, file_offset, fingerprint) "
    "SELECT * FROM unnest(%(paths)s::text[], %(offsets)s::bigint[], %(prints)s::text[]) "
    "ON CONFLICT (path) DO UPDATE SET file_offset = excluded.file_offset, "
    "fingerprint = excluded.fingerprint")

# Taken when the key is not seen and no live claim holds it (an expired one is taken
# over); keys in order, so that two replicas claiming the same keys never deadlock.
_CLAIM = (
    f"INSERT INTO claims (key, owner, until) SELECT k, %(me)s, {DB_NOW} + %(lease)s "
    "FROM unnest(%(keys)s::text[]) AS t (k) "
    "WHERE NOT EXISTS (SELECT 1 FROM seen WHERE seen.key = t.k) ORDER BY k "
    "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    f"WHERE claims.until <= {DB_NOW} RETURNING key")


class SeenMarks(PgBase):
    def unseen(self, keys: Iterable[str]) -> set[str]:
        wanted = set(keys)
        if not wanted:
            return set()
        known = self._read("SELECT key FROM seen WHERE key = ANY(%s::text[])", (list(wanted),))
        return wanted - {row[0] for row in known}

    def mark_seen(self, keys: Mapping[str, str],
                  checkpoints: Mapping[str, Checkpoint] | None = None) -> None:
        if not keys and not checkpoints:
            return
        ordered = sorted(keys)
        paths = sorted(checkpoints or {})
        marks = checkpoints or {}
        self._write(_MARK, {
            "now": self._clock(), "keys": ordered, "statuses": [keys[k] for k in ordered],
            "paths": paths, "offsets": [marks[p].offset for p in paths],
            "prints": [marks[p].fingerprint for p in paths]})

    def record_attempt(self, key: str, error: str) -> int:
        _, rows = self._write(
            "INSERT INTO attempts (key, count, last_error, updated_at) VALUES (%s, 1, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET count = attempts.count + 1, "
            "last_error = excluded.last_error, updated_at = excluded.updated_at "
            "RETURNING count", (key, text(error[:500]), self._clock()))
        return rows[0][0]

    def claim(self, key: str) -> bool:
        return bool(self.claim_many([key]))

    def release(self, key: str) -> None:
        self.release_many([key])

    def claim_many(self, keys: Iterable[str]) -> set[str]:
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        _, rows = self._write(_CLAIM, {"keys": wanted, "me": self.replica,
                                       "lease": self.lease_seconds}, "claiming articles in")
        return {row[0] for row in rows}

    def release_many(self, keys: Iterable[str]) -> None:
        gone = sorted(set(keys))
        if gone:
            self._write("DELETE FROM claims WHERE key = ANY(%s::text[]) AND owner = %s",
                        (gone, self.replica))

    def forget_seen_before(self, cutoff: float) -> int:
        """Compaction: drop seen marks older than ``cutoff``; return how many. Claims and
        host slots that ran out before it go too: left by replicas that never came back."""
        _, rows = self._write(
            "WITH c AS (DELETE FROM claims WHERE until < %(cutoff)s), "
            "h AS (DELETE FROM host_slots WHERE until < %(cutoff)s), "
            "s AS (DELETE FROM seen WHERE seen_at < %(cutoff)s RETURNING 1) "
            "SELECT count(*) FROM s", {"cutoff": cutoff}, "compaction of")
        return rows[0][0]

    def checkpoints(self) -> dict[str, Checkpoint]:
        return {path: Checkpoint(offset, fingerprint) for path, offset, fingerprint
                in self._read("SELECT path, file_offset, fingerprint FROM sink_checkpoints")}
