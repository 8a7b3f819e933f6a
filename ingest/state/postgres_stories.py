"""The PostgreSQL store's near-duplicate index: each record's MinHash signature (bytea),
its LSH band keys (bigint), and the story it joined, laid out as in the SQLite store
(sqlite_stories): band rows refer to a record by its integer id, a lookup is a probe of
``story_bands``'s (band, id) key per band (``band = ANY(...)``).

A batch is one statement: the records not indexed yet are inserted, and the band rows of
exactly those, so a record indexed already (by this replica or another) keeps its bands.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.models import Story, StoryEntry
from ingest.state.postgres_base import PgBase, text
from ingest.state.rows import stories_of, story_entry

_ENTRY_COLUMNS = "record_id, story_id, signature, site, title, published, indexed_at"
_ADD = (
    f"WITH added AS (INSERT INTO stories ({_ENTRY_COLUMNS}) SELECT {_ENTRY_COLUMNS} FROM unnest("
    "%(ids)s::text[], %(stories)s::text[], %(sigs)s::bytea[], %(sites)s::text[], "
    "%(titles)s::text[], %(published)s::text[], %(at)s::float8[]) WITH ORDINALITY "
    f"AS u ({_ENTRY_COLUMNS}, n) ORDER BY n "  # ids in the order given
    "ON CONFLICT (record_id) DO NOTHING RETURNING id, record_id) "
    "INSERT INTO story_bands (band, id) SELECT b.band, added.id "
    "FROM unnest(%(band_ids)s::text[], %(bands)s::bigint[]) AS b (record_id, band) "
    "JOIN added USING (record_id) ON CONFLICT DO NOTHING")


class StoryRows(PgBase):
    def story_candidates(self, bands: Sequence[int], since: float) -> list[StoryEntry]:
        if not bands:
            return []
        rows = self._read(
            f"SELECT {_ENTRY_COLUMNS} FROM stories WHERE id IN (SELECT id FROM story_bands "
            "WHERE band = ANY(%s::bigint[])) AND indexed_at >= %s",
            (sorted(set(bands)), since))
        found = [story_entry(row) for row in rows]
        return sorted(found, key=lambda e: (e.indexed_at, e.record_id))

    def add_stories(self, entries: Sequence[StoryEntry]) -> None:
        first: dict[str, StoryEntry] = {}
        for e in entries:
            first.setdefault(e.record_id, e)  # a record twice in one batch: as first given
        if not first:
            return
        chosen = list(first.values())  # in the order given: ids (and ties) as in SQLite
        band_rows = list(dict.fromkeys((e.record_id, band) for e in chosen for band in e.bands))
        self._write(_ADD, {
            "ids": [e.record_id for e in chosen], "stories": [e.story_id for e in chosen],
            "sigs": [e.signature for e in chosen], "sites": [text(e.site) for e in chosen],
            "titles": [None if e.title is None else text(e.title) for e in chosen],
            "published": [e.published for e in chosen], "at": [e.indexed_at for e in chosen],
            "band_ids": [r for r, _ in band_rows], "bands": [b for _, b in band_rows]})

    def forget_stories_before(self, cutoff: float) -> int:
        _, rows = self._write(
            "WITH old AS (DELETE FROM stories WHERE indexed_at < %(cutoff)s RETURNING id), "
            "bands AS (DELETE FROM story_bands WHERE id IN (SELECT id FROM old)) "
            "SELECT count(*) FROM old", {"cutoff": cutoff}, "compaction of")
        return rows[0][0]

    def story_size(self, story_id: str) -> int:
        return self._read("SELECT count(*) FROM stories WHERE story_id = %s", (story_id,))[0][0]

    def stories(self, since: float, min_size: int) -> list[Story]:
        rows = self._read(
            "WITH big AS (SELECT story_id FROM stories GROUP BY story_id "
            "HAVING count(*) >= %s AND max(indexed_at) >= %s) "
            "SELECT story_id, site, title, published, indexed_at FROM stories "
            "WHERE story_id IN (SELECT story_id FROM big) ORDER BY indexed_at, id",
            (min_size, since))
        return stories_of(rows)

