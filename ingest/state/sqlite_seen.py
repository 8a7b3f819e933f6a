"""The SQLite store's seen marks, transient-failure counts and sink checkpoints.

A batch's seen marks and the sink checkpoints that cover its lines are stored in one
transaction, so after a crash the checkpoints never run ahead of the marks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingest.models import Checkpoint
from ingest.state.sqlite_base import SqliteBase, chunks


class SeenMarks(SqliteBase):
    def unseen(self, keys: Iterable[str]) -> set[str]:
        wanted = set(keys)
        if not wanted:
            return set()
        known: set[str] = set()
        for chunk in chunks(list(wanted), 500):
            marks = ",".join("?" * len(chunk))
            known.update(r[0] for r in self._read(
                f"SELECT key FROM seen WHERE key IN ({marks})", chunk))
        return wanted - known

    def mark_seen(self, keys: Mapping[str, str],
                  checkpoints: Mapping[str, Checkpoint] | None = None) -> None:
        now = self._clock()
        self._write([
            ("INSERT OR IGNORE INTO seen (key, status, seen_at) VALUES (?, ?, ?)",
             [(k, s, now) for k, s in keys.items()]),
            ("DELETE FROM attempts WHERE key = ?", [(k,) for k in keys]),
            ("INSERT INTO sink_checkpoints (path, offset, fingerprint) VALUES (?, ?, ?) "
             "ON CONFLICT (path) DO UPDATE SET offset = excluded.offset, "
             "fingerprint = excluded.fingerprint",
             [(path, c.offset, c.fingerprint) for path, c in (checkpoints or {}).items()]),
        ])

    def record_attempt(self, key: str, error: str) -> int:
        self._write([(
            "INSERT INTO attempts (key, count, last_error, updated_at) VALUES (?, 1, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET count = count + 1, "
            "last_error = excluded.last_error, updated_at = excluded.updated_at",
            [(key, error[:500], self._clock())])])
        return self._read("SELECT count FROM attempts WHERE key = ?", (key,))[0][0]

    def claim(self, key: str) -> bool:
        """Claim an article for this worker while it is in flight, unless it is in flight
        already or was marked seen."""
        return bool(self.claim_many([key]))

    def release(self, key: str) -> None:
        self._claims.discard(key)

    def claim_many(self, keys: Iterable[str]) -> set[str]:
        """`claim` for each key, with one look-up of the seen table per chunk."""
        free = set(keys) - self._claims
        claimed = self.unseen(free)
        self._claims |= claimed
        return claimed

    def release_many(self, keys: Iterable[str]) -> None:
        self._claims.difference_update(keys)

    def forget_seen_before(self, cutoff: float) -> int:
        """Compaction: drop seen marks older than ``cutoff``; return how many."""
        return self._compact("DELETE FROM seen WHERE seen_at < ?", (cutoff,))

    def checkpoints(self) -> dict[str, Checkpoint]:
        return {path: Checkpoint(offset, fingerprint) for path, offset, fingerprint
                in self._read("SELECT path, offset, fingerprint FROM sink_checkpoints")}
