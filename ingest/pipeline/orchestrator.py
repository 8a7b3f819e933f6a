"""The one orchestrator: poll a feed → new entries → fetch → extract → clean → write → mark seen.

`Pipeline.poll_feed` is the per-feed function that both `ingest fetch` (via `run`) and the
daemon call. The pipeline package is the only one that imports the stages; the stages
never call each other. Order of work is cheapest first: conditional GET, body hash, seen
filter, then page requests and extraction. The work is split by level:

    the run                   `Pipeline.run`, after `Pipeline.recover` at start-up
    one poll of one feed      `Pipeline.poll_feed`, around a `ingest.pipeline.poll.Poll`
    one entry                 `ingest.pipeline.entries`: the seen filter, page, extraction
    a batch of ready drafts   `ingest.pipeline.batch`: footers per site, write, mark seen

Untrusted input meets only work in worker processes, each job under the pool's deadline
(`ingest.pipeline.jobs`): feed parsing, extraction and the footer stage, per text. A job
past its deadline costs its entry (skipped as ``deadline``) or, for a feed's parse, that
poll; bytes that failed to parse are remembered and not parsed again.

At most ``schedule.max_entries_per_poll`` new entries are worked on per poll, newest first;
the rest wait for the next poll (the feed's validators are not kept, so it is read again).
Drafts are handed to the batch writer as their pages complete, WRITE_BATCH at a time, so a
poll's pages are never all held to its end.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

from ingest.config.model import Config
from ingest.errors import FeedParseError, IngestError, JobDeadline, NotModified, StateError
from ingest.fetch.client import HttpClient
from ingest.models import Feed, FeedState, FetchResult, ParsedFeed
from ingest.pipeline import jobs
from ingest.pipeline.batch import BatchWriter
from ingest.pipeline.entries import EntryWork
from ingest.pipeline.events import EventCallback, no_events
from ingest.pipeline.marks import MarkQueue
from ingest.pipeline.outcomes import PollResult, RunStats
from ingest.pipeline.poll import Draft, Poll
from ingest.pipeline.records import cache_hints
from ingest.pipeline.sitemaps import SitemapReader
from ingest.sink.base import Sink
from ingest.state.store import Store
from ingest.urls import key_id, normalize_url
from ingest.websub.discovery import feed_links
from ingest.workers.pool import WorkerPool

log = logging.getLogger("ingest.pipeline")
WRITE_BATCH = 50  # records written and marked together: a poll's pages are not held to its end


class Pipeline:
    def __init__(self, cfg: Config, store: Store, http: HttpClient, workers: WorkerPool,
                 sink: Sink, *, clock: Callable[[], float] = time.time,
                 on_event: EventCallback | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.http = http
        self.workers = workers
        self.sink = sink
        self._clock = clock
        self._on_event = on_event or no_events
        self._marks = MarkQueue(store)
        self._entries = EntryWork(cfg, store, http, workers)
        self._sitemaps = SitemapReader(cfg.sitemap, http, workers, clock=clock)
        self._batches = BatchWriter(cfg.footers, cfg.dedup, store, sink, workers, self._marks,
                                    clock=clock,
                                    on_written=lambda count: self._on_event("article", count))

    # -- the run ------------------------------------------------------------------------
    def recover(self) -> int:
        """Repair torn lines, then mark seen what was written but not marked (exactly-once)."""
        self.sink.repair()
        recovered = 0
        for name, end, records in self.sink.unreconciled(self.store.checkpoints()):
            marks = _written_marks(records)
            unknown = self.store.unseen(marks)
            recovered += len({r["id"] for r in records} & unknown)
            self.store.mark_seen({k: marks[k] for k in unknown}, {name: end})
        if recovered:
            log.warning("sink: %d records on disk were not marked seen (a crash); marked now",
                        recovered)
        return recovered

    async def run(self, feeds_to_poll: list[Feed]) -> RunStats:
        """Poll every feed once (the `ingest fetch` command)."""
        stats = RunStats(near_duplicate_action="dropped" if self.cfg.dedup.action == "drop"
                         else "marked")
        started = time.monotonic()
        stats.recovered = self.recover()
        # the daemon prunes in its daily compaction; a run of `ingest fetch` has only this
        self.store.forget_stories_before(self._clock() - self.cfg.dedup.window)
        gate = asyncio.Semaphore(self.cfg.schedule.concurrency)
        states = {state.url: state for state in self.store.all_feeds()}  # one read, not one a poll

        async def one(feed: Feed) -> None:
            async with gate:
                state = states.get(feed.url) or FeedState(url=feed.url)
                stats.add(await self.poll_feed(feed, state=state))

        await asyncio.gather(*(one(f) for f in feeds_to_poll))
        self._marks.settle_at_exit()
        stats.seconds = time.monotonic() - started
        return stats

    # -- one poll of one feed -----------------------------------------------------------
    async def poll_feed(self, feed: Feed, *, state: FeedState | None = None,
                        unconditional: bool = False,
                        before_save: Callable[[FeedState, PollResult], object] | None = None
                        ) -> PollResult:
        """Poll one feed and write its new articles; never raises for bad input.

        ``state``: the feed's stored state, when the caller has read it already;
        ``before_save``: called with the state and result just before the state is stored
        (the daemon plans the next poll there), so that one write ends the poll."""
        started = time.monotonic()
        poll = Poll(feed, state if state is not None else self.store.get_feed(feed.url))
        if poll.state.last_poll_at is None:  # a new feed: its entries will need the workers,
            self.workers.start_soon()        # whose start overlaps its request now
        poll.state.last_poll_at = self._clock()
        try:
            await self._poll(poll, unconditional)
        except IngestError as exc:
            poll.fail(exc)
        poll.result.seconds = time.monotonic() - started
        self._store_state(poll, before_save)
        self._on_event("feed", poll.result)
        return poll.result

    async def _poll(self, poll: Poll, unconditional: bool) -> None:
        state, result = poll.state, poll.result
        try:
            fetched = await self.http.fetch_feed(
                poll.feed.url, etag=None if unconditional else state.etag,
                last_modified=None if unconditional else state.last_modified,
                access=poll.feed.access, cap=self._feed_cap(poll.feed))
        except NotModified:
            result.outcome = "not_modified"
            # an unchanged sitemap index: the sitemaps it lists may have changed all the same
            await self._sitemaps.recheck(poll, self._work_entries)
            return
        result.fetch_seconds.append(fetched.elapsed)
        result.hints.update(cache_hints(fetched.headers))
        body_hash = hashlib.sha256(fetched.content).hexdigest()
        if body_hash == state.body_hash and not unconditional:
            result.outcome = "unchanged"
            await self._sitemaps.recheck(poll, self._work_entries)
            return
        await self._take(poll, fetched, body_hash)

    def _feed_cap(self, feed: Feed) -> int | None:
        """A configured sitemap may be as large as the sitemap limit allows; None: a feed's."""
        if feed.type != "sitemap":
            return None
        return max(self.cfg.sitemap.max_bytes, self.cfg.http.max_feed_bytes)

    async def _take(self, poll: Poll, fetched: FetchResult, body_hash: str) -> None:
        """Read the feed's new bytes and work its entries (a poll's, or a pushed delivery's)."""
        state, result = poll.state, poll.result
        poll.parsed = parsed = await self._read(poll, fetched, body_hash)
        if parsed.warning:
            log.warning("feeds: %s: kept %d entries despite errors (%s)",
                        poll.feed.name, len(parsed.entries), parsed.warning)
        result.hints.update(ttl=parsed.ttl, update_period=parsed.update_period)
        result.hub, result.topic = feed_links(parsed, fetched.headers, fetched.final_url)
        result.entries = len(parsed.entries)
        await self._work_entries(poll)
        if not result.deferred:  # keep the validators only once every entry is settled
            state.etag, state.last_modified = fetched.etag, fetched.last_modified
            state.body_hash = body_hash
        result.outcome = "new" if result.written else "nothing_new"

    async def take_delivery(self, feed: Feed, content: bytes, content_type: str) -> PollResult:
        """Work a feed document a WebSub hub pushed for ``feed`` as a poll's body (parse,
        seen filter, pages, footers, write, mark); never raises for bad input. The feed's
        HTTP validators and next poll stay as they were: the next poll still asks the
        server for what changed since the last poll. A delivery of the same bytes as the
        last one is not worked again."""
        started = time.monotonic()
        poll = Poll(feed, self.store.get_feed(feed.url))
        state = poll.state
        kept = state.etag, state.last_modified, state.body_hash, state.next_poll_at
        body_hash = hashlib.sha256(content).hexdigest()
        fetched = FetchResult(url=feed.url, final_url=feed.url, status=200,
                              headers={"content-type": content_type}, content=content)
        try:
            if state.extra.get("delivery_hash") == body_hash:
                poll.result.outcome = "unchanged"
            else:
                await self._take(poll, fetched, body_hash)
                if not poll.result.deferred:
                    state.extra["delivery_hash"] = body_hash
        except IngestError as exc:
            poll.fail(exc)
        state.etag, state.last_modified, state.body_hash, state.next_poll_at = kept
        poll.result.seconds = time.monotonic() - started
        self._store_state(poll, None)
        self._on_event("feed", poll.result)
        return poll.result

    async def _read(self, poll: Poll, fetched: FetchResult, body_hash: str) -> ParsedFeed:
        """The entries of the fetched bytes: a feed's parsed in a worker, or a sitemap's (and
        its children's). Bytes that failed (unusable, or past the deadline) are remembered,
        so the same body costs no second parse on the next polls."""
        as_sitemap = self._sitemaps.wants(poll.feed, fetched)
        state = poll.state
        failed = state.extra.get("failed_body")
        if isinstance(failed, dict) and failed.get("hash") == body_hash:
            raise FeedParseError(f"{failed.get('error')} (the same bytes again: not parsed)")
        try:
            if as_sitemap:
                parsed = await self._sitemaps.read(poll, fetched, body_hash)
            else:
                parsed = await self.workers.run(jobs.parse_feed, fetched.content,
                                                fetched.final_url, fetched.content_type)
        except (FeedParseError, JobDeadline) as exc:
            state.extra["failed_body"] = {"hash": body_hash, "error": str(exc)}
            raise
        state.extra.pop("failed_body", None)
        return parsed

    def _store_state(self, poll: Poll,
                     before_save: Callable[[FeedState, PollResult], object] | None) -> None:
        state = poll.settle_state(self._clock())
        if before_save is not None:
            before_save(state, poll.result)
        try:
            self.store.put_feed(state)
        except StateError as exc:
            log.error("%s: %s", poll.feed.name, exc)
            poll.result.saved = False
            if poll.result.ok:
                poll.result.fail(exc.kind, str(exc))

    # -- the poll's entries, written in batches -----------------------------------------
    async def _work_entries(self, poll: Poll) -> None:
        """Work the new entries; write what is ready in batches as pages complete."""
        self._marks.settle()  # a StateError here fails the poll: nothing is claimed
        drafts = self._entries.claim_new(poll)
        if drafts:  # the feed's own texts (rights) count when the poll works on something
            poll.result.repaired["feed"] += poll.parsed.repaired
        tasks = [asyncio.ensure_future(self._entries.fetch_and_extract(d, poll)) for d in drafts]
        try:
            ready: list[Draft] = []
            for next_done in asyncio.as_completed(tasks):
                draft = await next_done
                if draft is not None:
                    ready.append(draft)
                    poll.result.repaired["feed"] += draft.entry.repaired
                    poll.result.repaired["page"] += draft.article.repaired if draft.article else 0
                if len(ready) >= WRITE_BATCH:
                    await self._batches.write(poll, ready)
                    ready = []
            await self._batches.write(poll, ready)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._marks.release(*(key for d in drafts for key in (d.id, d.final_id)))


def _written_marks(records: list[dict]) -> dict[str, str]:
    """The seen marks of records found on disk: each one's id, and its page's final URL."""
    marks = {}
    for rec in records:
        marks[rec["id"]] = "written"
        if rec.get("final_url"):
            marks[key_id(normalize_url(rec["final_url"]))] = "written"
    return marks
