"""A batch of a poll's ready drafts: footers stripped per site, stories found, records
written, marks handed over.

Per site, `ingest.pipeline.site_clean` runs the footer stage and assigns each text to its
story. The records are written, then marked seen in write order
(`ingest.pipeline.marks.MarkQueue`), then the batch's stories and line counts are stored.
With ``dedup.action: drop``, a near-duplicate is not written: it is marked seen, counted,
and kept in the story index (its story's size and outlets count it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property

from ingest.config.model import DedupConfig, FootersConfig
from ingest.errors import SinkError
from ingest.models import Record
from ingest.pipeline.marks import MarkQueue
from ingest.pipeline.poll import Draft, Poll
from ingest.pipeline.records import build_record
from ingest.pipeline.site_clean import Cleaning, SiteCleaner
from ingest.pipeline.stories import StoryIndex
from ingest.sink.base import Sink
from ingest.state.store import Store
from ingest.units import utc_iso
from ingest.urls import site_of
from ingest.workers.pool import WorkerPool


class BatchWriter:
    def __init__(self, footers: FootersConfig, dedup: DedupConfig, store: Store, sink: Sink,
                 workers: WorkerPool, marks: MarkQueue, *, clock: Callable[[], float] = time.time,
                 on_written: Callable[[int], None] = lambda count: None) -> None:
        self._footers = footers
        self._dedup = dedup
        self._store = store
        self._sink = sink
        self._marks = marks
        self._clock = clock
        self._on_written = on_written
        self._stories = StoryIndex(dedup, store, clock=clock)
        self._cleaner = SiteCleaner(dedup, store, workers, self._stories)

    @cached_property
    def _rules(self):
        # Imported at first use: the footer stage compiles its multilingual patterns on
        # import, which a poll with nothing new (a run of 304s) never needs.
        # load_config has already checked the footers.sites patterns.
        from ingest.footers import strip as footers

        cfg = self._footers
        return footers.FooterRules.from_config(cfg.learn, cfg.min_count, cfg.sites)

    async def write(self, poll: Poll, drafts: list[Draft]) -> None:
        """Strip footers, find stories, write the records, then mark them (and the skipped)
        seen and store the batch's stories and line counts."""
        cleanings, learned = await self._clean(poll, drafts)
        records, dropped = self._records(poll, cleanings)
        marks = poll.take_marks()
        for d in drafts:
            if d.id in records:
                marks[d.id] = "written"
                if d.final_id:
                    marks[d.final_id] = "written"
            elif d.id in dropped:
                marks[d.id] = "near_duplicate"
        indexed = [c.draft.id for c in cleanings if c.story is not None
                   and (c.draft.id in records or c.draft.id in dropped)]
        self._stories.drop(c.draft.id for c in cleanings if c.draft.id not in indexed)
        try:
            checkpoints = self._sink.write([r.to_dict() for r in records.values()])
        except SinkError:
            self._stories.drop(indexed)
            poll.defer(len(records))
            raise
        poll.result.written += len(records)
        if records:
            self._on_written(len(records))
        self._marks.add(marks, checkpoints)
        self._stories.store(indexed)
        for site, counts in learned.items():
            self._store.add_footer_counts(site, counts)

    async def _clean(self, poll: Poll, drafts: list[Draft]) -> tuple[list[Cleaning], dict]:
        """The footer stage per site, as a batch, so this batch's articles already count."""
        by_site: dict[str, list[Draft]] = {}
        for d in drafts:
            by_site.setdefault(site_of(d.final_url or d.url or poll.feed.url), []).append(d)
        cleanings, learned = [], {}
        for site, group in by_site.items():
            done, batch = await self._cleaner.clean(poll, site, group, self._rules.for_site(site))
            if batch:
                learned[site] = batch
            cleanings += done
        return cleanings, learned

    def _records(self, poll: Poll, cleanings: list[Cleaning]
                 ) -> tuple[dict[str, Record], set[str]]:
        """The records to write, by id; and the ids of near-duplicates dropped."""
        records: dict[str, Record] = {}
        dropped: set[str] = set()
        fetched_at = utc_iso(self._clock())
        for c in cleanings:
            if not c.cleaned.text.strip():
                poll.skip(c.draft, "no_text")
                continue
            story = c.story
            if story is not None and story.near_duplicate_of is not None:
                poll.result.story_sizes.append(story.story_size)
                if self._dedup.action == "drop":
                    dropped.add(c.draft.id)
                    continue
            poll.result.footers_removed += len(c.cleaned.removed)
            record = build_record(poll.feed, poll.parsed, c.draft, c.cleaned, fetched_at)
            if story is not None:
                record = replace(record, story_id=story.story_id,
                                 near_duplicate_of=story.near_duplicate_of,
                                 similarity=story.similarity)
            records[record.id] = record
        return records, dropped
