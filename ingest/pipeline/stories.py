"""Which story a record belongs to: its near-duplicates among the records of the window.

Each record's fingerprint (MinHash signature and LSH band keys, made in a worker by
`ingest.dedup`) is looked up in the store's index and among the records assigned but not yet
stored; the most similar one at or above ``dedup.threshold`` gives the record its story.
Ties go to the one indexed first, then to the smaller id, so a given arrival order always
gives the same clusters.

Records are assigned one at a time, in the order their batches reach this object, and each
is held as pending (visible to every later lookup) from its assignment until its batch is
stored or dropped. Two copies of one story in one batch, or in two polls' batches at once,
therefore never both start a story: the second one finds the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ingest.config.model import DedupConfig
from ingest.dedup.fingerprint import Fingerprint, similarity
from ingest.models import StoryEntry
from ingest.state.store import Store


@dataclass(frozen=True)
class Assignment:
    story_id: str
    near_duplicate_of: str | None = None
    similarity: float | None = None
    seen_on_site: bool = False  # a similar record of this story came from the same site
    story_size: int = 1  # records of the story in the window, this one included


class StoryIndex:
    def __init__(self, cfg: DedupConfig, store: Store, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._cfg = cfg
        self._store = store
        self._clock = clock
        self._pending: dict[str, StoryEntry] = {}  # record id -> assigned, not yet stored

    def assign(self, record_id: str, fp: Fingerprint | None, *, site: str,
               title: str | None, published: str | None) -> Assignment:
        """The story of a record; a record without a fingerprint (too short) is its own."""
        if fp is None:
            return Assignment(record_id)
        now = self._clock()
        similar = self._similar(record_id, fp, since=now - self._cfg.window)
        if not similar:
            found = Assignment(record_id)
        else:
            score, entry = similar[0]
            on_site = any(e.site == site and e.story_id == entry.story_id for _, e in similar)
            found = Assignment(entry.story_id, entry.record_id, round(score, 4), on_site,
                               self._size(entry.story_id) + 1)
        self._pending[record_id] = StoryEntry(
            record_id, found.story_id, fp.signature, fp.bands, site=site, title=title,
            published=published, indexed_at=now)
        return found

    def store(self, record_ids: Iterable[str]) -> None:
        """Add these assigned records to the store's index (their batch was written)."""
        entries = [self._pending.pop(r) for r in record_ids if r in self._pending]
        if entries:
            self._store.add_stories(entries)

    def drop(self, record_ids: Iterable[str]) -> None:
        """Forget these assignments: their batch was not written."""
        for record_id in record_ids:
            self._pending.pop(record_id, None)

    def _size(self, story_id: str) -> int:
        pending = sum(e.story_id == story_id for e in self._pending.values())
        return self._store.story_size(story_id) + pending

    def _similar(self, record_id: str, fp: Fingerprint, since: float
                 ) -> list[tuple[float, StoryEntry]]:
        """The records at or above the threshold, most similar first (then the one indexed
        first, then the smaller id)."""
        bands = set(fp.bands)
        candidates = {e.record_id: e for e in self._store.story_candidates(fp.bands, since)}
        candidates.update((e.record_id, e) for e in self._pending.values()
                          if bands.intersection(e.bands))
        candidates.pop(record_id, None)
        scored = [(similarity(fp.signature, e.signature), e) for e in candidates.values()]
        scored = [(s, e) for s, e in scored if s >= self._cfg.threshold]
        return sorted(scored, key=lambda se: (-se[0], se[1].indexed_at, se[1].record_id))
