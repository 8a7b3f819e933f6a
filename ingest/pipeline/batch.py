"""A batch of a poll's ready drafts: footers stripped per site, records written, marks handed over.

The footer stage runs on untrusted text, so its work per text is a worker job under the
pool's deadline (`ingest.pipeline.jobs`): first each text's candidate lines, then, with the site's
stored counts merged in, the stripping. A job that fails costs its draft only (skipped,
counted by the job's error kind). The records are written, then marked seen in write
order (`ingest.pipeline.marks.MarkQueue`), then the batch's line counts are added for learning.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import cached_property

from ingest.config.model import FootersConfig
from ingest.errors import SinkError, WorkerError
from ingest.models import Cleaned
from ingest.pipeline import jobs
from ingest.pipeline.marks import MarkQueue
from ingest.pipeline.poll import Draft, Poll
from ingest.pipeline.records import build_record
from ingest.sink.base import Sink
from ingest.state.store import Store
from ingest.units import utc_iso
from ingest.urls import site_of
from ingest.workers.pool import WorkerPool


class BatchWriter:
    def __init__(self, footers: FootersConfig, store: Store, sink: Sink, workers: WorkerPool,
                 marks: MarkQueue, *, clock: Callable[[], float] = time.time,
                 on_written: Callable[[int], None] = lambda count: None) -> None:
        self._footers = footers
        self._store = store
        self._sink = sink
        self._workers = workers
        self._marks = marks
        self._clock = clock
        self._on_written = on_written

    @cached_property
    def _rules(self):
        # Imported at first use: the footer stage compiles its multilingual patterns on
        # import, which a poll with nothing new (a run of 304s) never needs.
        # load_config has already checked the footers.sites patterns.
        from ingest.footers import strip as footers

        cfg = self._footers
        return footers.FooterRules.from_config(cfg.learn, cfg.min_count, cfg.sites)

    async def write(self, poll: Poll, drafts: list[Draft]) -> None:
        """Strip footers, write the records, then mark them (and the skipped) seen."""
        records, learned = await self._clean(poll, drafts)
        written = {rec.id for rec in records}
        marks = poll.take_marks()
        for d in drafts:
            if d.id in written:
                marks[d.id] = "written"
                if d.final_id:
                    marks[d.final_id] = "written"
        try:
            checkpoints = self._sink.write([r.to_dict() for r in records])
        except SinkError:
            poll.defer(len(records))
            raise
        poll.result.written += len(records)
        if records:
            self._on_written(len(records))
        self._marks.add(marks, checkpoints)
        for site, counts in learned.items():
            self._store.add_footer_counts(site, counts)

    async def _clean(self, poll: Poll, drafts: list[Draft]):
        """Strip footers per site, as a batch, so this batch's articles already count."""
        by_site: dict[str, list[Draft]] = {}
        for d in drafts:
            by_site.setdefault(site_of(d.final_url or d.url or poll.feed.url), []).append(d)
        records, learned = [], {}
        fetched_at = utc_iso(self._clock())
        for site, group in by_site.items():
            cleaned, batch = await self._strip_site(poll, site, group)
            if batch:
                learned[site] = batch
            for d, c in zip(group, cleaned, strict=True):
                if c is None:
                    continue
                if not c.text.strip():
                    poll.skip(d, "no_text")
                    continue
                poll.result.footers_removed += len(c.removed)
                records.append(build_record(poll.feed, poll.parsed, d, c, fetched_at))
        return records, learned

    async def _strip_site(self, poll: Poll, site: str, group: list[Draft]
                          ) -> tuple[list[Cleaned | None], dict]:
        """The footer stage for one site's drafts: the cleaned texts (None for a draft the
        stage dropped) and the batch's line counts to learn."""
        from ingest.footers import strip as footers  # see _rules

        rules = self._rules.for_site(site)
        if not rules.learn:  # no counts to read or to add: each text is stripped at once
            return await self._strip(poll, group, [{}] * len(group), rules, site), {}
        keys = await asyncio.gather(*(self._job(poll, d, jobs.footer_keys, d.text)
                                      for d in group))
        batch = footers.count_candidates(k[0] for k in keys if k is not None)
        wanted = set().union(*(k[1] for k in keys if k is not None))
        counts = footers.merge_counts(self._store.footer_counts(site, wanted), batch)
        learned = [None if k is None else {key: counts[key] for key in k[1] if key in counts}
                   for k in keys]
        return await self._strip(poll, group, learned, rules, site), batch

    async def _strip(self, poll: Poll, group: list[Draft], learned: list[dict | None],
                     rules, site: str) -> list[Cleaned | None]:
        """Each draft's text stripped in a worker, with the counts of its own lines; None
        for a draft without counts (its keys job failed) or whose job failed."""
        return await asyncio.gather(*(
            self._job(poll, d, jobs.strip_footers, d.text, counts, rules, site,
                      poll.parsed.rights)
            if counts is not None else _nothing()
            for d, counts in zip(group, learned, strict=True)))

    async def _job(self, poll: Poll, draft: Draft, func, *args):
        """``func(*args)`` in a worker; None when it failed, and ``draft`` is skipped."""
        try:
            return await self._workers.run(func, *args)
        except WorkerError as exc:
            poll.skip(draft, exc.kind, str(exc))
            return None


async def _nothing() -> None:
    return None
