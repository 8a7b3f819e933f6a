"""The SQLite store's near-duplicate index: each record's MinHash signature, its LSH band
keys, and the story (cluster) it joined.

Two tables (sqlite_schema). ``stories`` holds one row per record; its integer ``id`` is
what the band rows refer to, so each of a record's many band rows costs a few bytes
rather than a copy of the record id. ``story_bands`` is keyed (band, id) WITHOUT ROWID, so
a lookup is a few probes of its key. ``stories`` is indexed on (story_id, indexed_at),
which answers a story's size and which stories are big and recent without the rows.

Pruning deletes a window's worth of records at once: their band rows lie all over the
band-ordered table, and one pass over it touches each of its pages once, where a delete
per band row would touch them once per row.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.models import Story, StoryEntry
from ingest.state.rows import stories_of, story_entry
from ingest.state.sqlite_base import SqliteBase, chunks

_BANDS_PER_QUERY = 500  # below SQLite's cap on the parameters of one statement
_ENTRY_COLUMNS = "record_id, story_id, signature, site, title, published, indexed_at"


class StoryRows(SqliteBase):
    def story_candidates(self, bands: Sequence[int], since: float) -> list[StoryEntry]:
        found: dict[str, StoryEntry] = {}
        for chunk in chunks(sorted(set(bands)), _BANDS_PER_QUERY):
            rows = self._read(
                f"SELECT {_ENTRY_COLUMNS} FROM stories WHERE id IN (SELECT id FROM story_bands "
                f"WHERE band IN ({','.join('?' * len(chunk))})) AND indexed_at >= ?",
                [*chunk, since])
            for row in rows:
                found.setdefault(row[0], story_entry(row))
        return sorted(found.values(), key=lambda e: (e.indexed_at, e.record_id))

    def add_stories(self, entries: Sequence[StoryEntry]) -> None:
        if not entries:
            return
        with self._writing():
            for e in entries:
                added = self._db.execute(
                    f"INSERT OR IGNORE INTO stories ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (e.record_id, e.story_id, e.signature, e.site, e.title, e.published,
                     e.indexed_at))
                if added.rowcount == 1:  # 0: the record was indexed already
                    self._db.executemany(
                        "INSERT OR IGNORE INTO story_bands (band, id) VALUES (?, ?)",
                        [(band, added.lastrowid) for band in e.bands])

    def forget_stories_before(self, cutoff: float) -> int:
        with self._writing("compaction of"):
            old = self._db.execute("SELECT count(*) FROM stories WHERE indexed_at < ?",
                                   (cutoff,)).fetchone()[0]
            if old:
                self._db.execute("DELETE FROM story_bands WHERE id IN "
                                 "(SELECT id FROM stories WHERE indexed_at < ?)", (cutoff,))
                self._db.execute("DELETE FROM stories WHERE indexed_at < ?", (cutoff,))
        return old

    def story_size(self, story_id: str) -> int:
        return self._read("SELECT count(*) FROM stories WHERE story_id = ?", (story_id,))[0][0]

    def stories(self, since: float, min_size: int) -> list[Story]:
        rows = self._read(
            "WITH big AS (SELECT story_id FROM stories GROUP BY story_id "
            "HAVING count(*) >= ? AND max(indexed_at) >= ?) "
            "SELECT story_id, site, title, published, indexed_at FROM stories "
            "WHERE story_id IN big ORDER BY indexed_at, id", (min_size, since))
        return stories_of(rows)

