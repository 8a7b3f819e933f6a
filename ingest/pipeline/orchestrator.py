"""The one orchestrator: poll a feed → new entries → fetch → extract → clean → write → mark seen.

`Pipeline.poll_feed` is the per-feed function that both `ingest fetch` (via
`run`) and the daemon call. It is the only module that imports the stages; the
stages never call each other. Order of work is cheapest first: conditional GET,
body hash, seen filter, then page requests and extraction.

Untrusted input meets only work in worker processes, each job under the pool's
deadline (`ingest.pipeline.jobs`): feed parsing, extraction and the footer stage, per text. A
job past its deadline costs its entry (skipped as ``deadline``) or, for a feed's
parse, that poll; bytes that failed to parse are remembered and not parsed again.

At most ``schedule.max_entries_per_poll`` new entries are worked on per poll, newest
first; the rest wait for the next poll (the feed's validators are not kept, so it is
read again). Drafts are handed to the batch writer (`ingest.pipeline.batch`) as their pages
complete, WRITE_BATCH at a time, so a poll's pages are never all held to its end.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from functools import partial

from ingest.pipeline import jobs
from ingest.config.model import Config
from ingest.pipeline.batch import BatchWriter
from ingest.errors import (FeedParseError, FetchError, HostBackoff, IngestError, JobDeadline,
                           NotModified, PermanentFetchError, SinkError, SkipEntry, StateError)
from ingest.extract.page import extract_article
from ingest.fetch.client import HttpClient
from ingest.pipeline.marks import MarkQueue
from ingest.models import Feed, FeedState, FetchResult, ParsedFeed
from ingest.pipeline.outcomes import PollResult, RunStats
from ingest.pipeline.poll import Draft, Poll
from ingest.pipeline.records import cache_hints
from ingest.redact import Redactor
from ingest.sink.base import Sink
from ingest.state.store import Store
from ingest.urls import article_key, key_id, normalize_url
from ingest.workers.pool import WorkerPool

log = logging.getLogger("ingest.pipeline")
WRITE_BATCH = 50  # records written and marked together: a poll's pages are not held to its end


class Pipeline:
    def __init__(self, cfg: Config, store: Store, http: HttpClient, workers: WorkerPool,
                 sink: Sink, *, clock=time.time, on_event=None) -> None:
        self.cfg = cfg
        # on_event(kind, value): "feed" with a PollResult when a poll ends,
        # "article" with a count when records are written (progress display).
        self._on_event = on_event or (lambda kind, value: None)
        self.store = store
        self.http = http
        self.workers = workers
        self.sink = sink
        self._clock = clock
        self._marks = MarkQueue(store)
        self._batches = BatchWriter(cfg.footers, store, sink, workers, self._marks, clock=clock,
                                    on_written=lambda count: self._on_event("article", count))
        # pages being fetched or waiting for / in extraction: enough to keep every
        # connection and worker busy, few enough that memory stays flat
        self._page_slots = asyncio.Semaphore(max(4 * workers.size, cfg.http.max_connections))

    # -- start-up -----------------------------------------------------------------
    def recover(self) -> int:
        """Repair torn lines, then mark seen what was written but not marked (exactly-once)."""
        self.sink.repair()
        recovered = 0
        for name, end, records in self.sink.unreconciled(self.store.checkpoints()):
            marks = {}
            for rec in records:
                marks[rec["id"]] = "written"
                if rec.get("final_url"):
                    marks[key_id(normalize_url(rec["final_url"]))] = "written"
            unknown = self.store.unseen(marks)
            recovered += len({r["id"] for r in records} & unknown)
            self.store.mark_seen({k: marks[k] for k in unknown}, {name: end})
        if recovered:
            log.warning("sink: %d records on disk were not marked seen (a crash); marked now",
                        recovered)
        return recovered

    # -- one-shot ------------------------------------------------------------------
    async def run(self, feeds_to_poll: list[Feed]) -> RunStats:
        """Poll every feed once (the `ingest fetch` command)."""
        stats = RunStats()
        started = time.monotonic()
        stats.recovered = self.recover()
        gate = asyncio.Semaphore(self.cfg.schedule.concurrency)

        async def one(feed: Feed) -> None:
            async with gate:
                stats.add(await self.poll_feed(feed))

        await asyncio.gather(*(one(f) for f in feeds_to_poll))
        self._marks.settle_at_exit()
        stats.seconds = time.monotonic() - started
        return stats

    # -- the per-feed function -------------------------------------------------
    async def poll_feed(self, feed: Feed, *, unconditional: bool = False) -> PollResult:
        """Poll one feed and write its new articles; never raises for bad input."""
        result = PollResult(feed=feed)
        started = time.monotonic()
        state = self.store.get_feed(feed.url)
        if state.last_poll_at is None:  # a new feed: its entries will need the workers,
            self.workers.start_soon()   # whose start overlaps its request now
        state.last_poll_at = self._clock()
        try:
            await self._poll(feed, state, result, unconditional)
        except IngestError as exc:
            kind = getattr(exc, "kind", None) or _kind_of(exc)
            result.fail(kind, Redactor([feed.url])(str(exc)))
            if isinstance(exc, HostBackoff):
                result.retry_after = exc.retry_after
        result.seconds = time.monotonic() - started
        self._finish(feed, state, result)
        self._on_event("feed", result)
        return result

    async def _poll(self, feed: Feed, state: FeedState, result: PollResult,
                    unconditional: bool) -> None:
        try:
            fetched = await self.http.fetch_feed(
                feed.url, etag=None if unconditional else state.etag,
                last_modified=None if unconditional else state.last_modified)
        except NotModified:
            result.outcome = "not_modified"
            return
        result.fetch_seconds.append(fetched.elapsed)
        result.hints.update(cache_hints(fetched.headers))
        body_hash = hashlib.sha256(fetched.content).hexdigest()
        if body_hash == state.body_hash and not unconditional:
            result.outcome = "unchanged"
            return
        parsed = await self._parse(fetched, state, body_hash)
        if parsed.warning:
            log.warning("feeds: %s: kept %d entries despite errors (%s)",
                        feed.name, len(parsed.entries), parsed.warning)
        result.hints.update(ttl=parsed.ttl, update_period=parsed.update_period)
        result.entries = len(parsed.entries)
        await self._work_entries(Poll(feed, parsed, result))
        if not result.deferred:  # keep the validators only once every entry is settled
            state.etag, state.last_modified = fetched.etag, fetched.last_modified
            state.body_hash = body_hash
        result.outcome = "new" if result.written else "nothing_new"

    async def _parse(self, fetched: FetchResult, state: FeedState, body_hash: str) -> ParsedFeed:
        """The feed parsed in a worker. Bytes that failed (unusable, or past the deadline)
        are remembered, so the same body costs no second parse on the next polls."""
        failed = state.extra.get("failed_body")
        if isinstance(failed, dict) and failed.get("hash") == body_hash:
            raise FeedParseError(f"{failed.get('error')} (the same bytes again: not parsed)")
        try:
            parsed = await self.workers.run(jobs.parse_feed, fetched.content,
                                            fetched.final_url, fetched.content_type)
        except (FeedParseError, JobDeadline) as exc:
            state.extra["failed_body"] = {"hash": body_hash, "error": str(exc)}
            raise
        state.extra.pop("failed_body", None)
        return parsed

    def _finish(self, feed: Feed, state: FeedState, result: PollResult) -> None:
        now = self._clock()
        if result.ok:
            state.failures, state.last_error = 0, None
            state.last_success_at = now
            if result.written:
                state.last_new_at = now
                state.articles_written += result.written
        else:
            state.failures += 1
            state.last_error = result.error
            log.error("%s: %s", feed.name, result.error)
        try:
            self.store.put_feed(state)
        except StateError as exc:
            log.error("%s: %s", feed.name, exc)
            if result.ok:
                result.fail("state", str(exc))

    # -- entries ---------------------------------------------------------------------
    async def _work_entries(self, poll: Poll) -> None:
        """Work the new entries; write what is ready in batches as pages complete."""
        self._marks.settle()  # a StateError here fails the poll: nothing is claimed
        drafts = self._claim_new(poll)
        tasks = [asyncio.ensure_future(self._work_entry(d, poll)) for d in drafts]
        try:
            ready: list[Draft] = []
            for next_done in asyncio.as_completed(tasks):
                draft = await next_done
                if draft is not None:
                    ready.append(draft)
                if len(ready) >= WRITE_BATCH:
                    await self._batches.write(poll, ready)
                    ready = []
            await self._batches.write(poll, ready)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for d in drafts:
                self._marks.release(d.id, d.final_id)

    def _claim_new(self, poll: Poll) -> list[Draft]:
        """Entries never seen and not in flight elsewhere, claimed for this poll: the
        newest ``max_entries_per_poll`` of them."""
        result, keyed = poll.result, {}
        for entry in poll.parsed.entries:
            key = article_key(entry.link, entry.guid)
            if key is None:
                result.skipped["no_link_or_guid"] += 1
                continue
            draft_id = key_id(key)
            if draft_id in keyed:
                result.duplicates += 1
                continue
            url = key if not key.startswith("guid:") else None
            keyed[draft_id] = Draft(id=draft_id, url=url, entry=entry, feed=poll.feed.name,
                                    feed_language=poll.parsed.language)
        unseen = self.store.unseen(keyed)
        result.already_seen += len(keyed) - len(unseen)
        fresh = [d for i, d in keyed.items() if i in unseen]
        cap = self.cfg.schedule.max_entries_per_poll
        if len(fresh) > cap:
            fresh = _newest_first(fresh)
            result.deferred += len(fresh) - cap
            log.info("pipeline: %s: %d new entries; the newest %d now, the rest at the next "
                     "poll", poll.feed.name, len(fresh), cap)
            fresh = fresh[:cap]
        drafts = []
        for draft in fresh:
            if self.store.claim(draft.id):
                drafts.append(draft)
            else:  # the same story, being worked on for another feed right now
                result.duplicates += 1
        return drafts

    async def _work_entry(self, draft: Draft, poll: Poll) -> Draft | None:
        """One page at a time per slot: pages fetched faster than the workers extract
        them would otherwise wait in memory (all of a run's pages, at worst)."""
        async with self._page_slots:
            return await self._fetch_and_extract(draft, poll)

    async def _fetch_and_extract(self, draft: Draft, poll: Poll) -> Draft | None:
        """Fetch and extract one page; fall back to the feed's own text."""
        result = poll.result
        if draft.url is None:
            return self._fallback(draft, "no_link", poll)
        try:
            page = await self.http.fetch_page(draft.url)
        except HostBackoff as exc:
            result.pages += exc.requested
            result.deferred += 1
            log.info("pipeline: %s: %s; left for a later run", draft.feed, exc)
            return None
        except PermanentFetchError as exc:
            result.pages += 1
            return self._fallback(draft, exc.kind, poll, str(exc))
        except FetchError as exc:
            result.pages += 1
            return self._transient(draft, exc, poll)
        result.pages += 1
        result.fetch_seconds.append(page.elapsed)
        if not self._claim_final_url(draft, page, poll):
            return None
        started = time.monotonic()
        try:
            draft.article = await self.workers.run(
                partial(extract_article, need_date=draft.entry.published is None,
                        need_language=draft.feed_language is None,
                        need_authors=not draft.entry.authors),
                page.content, page.final_url, page.content_type,
                draft.entry.title)
        except SkipEntry as exc:
            return self._fallback(draft, exc.reason, poll, exc.detail)
        except JobDeadline as exc:  # the page itself is the trouble: trying again won't help
            return self._fallback(draft, exc.kind, poll, str(exc))
        except IngestError as exc:  # a worker died
            return self._transient(draft, exc, poll)
        result.extract_seconds.append(time.monotonic() - started)
        draft.text = draft.article.text
        return draft

    def _claim_final_url(self, draft: Draft, page: FetchResult, poll: Poll) -> bool:
        """After redirects the page may be an article we already have."""
        final = normalize_url(page.final_url)
        if final == draft.url:
            return True
        draft.final_url = page.final_url
        final_id = key_id(final)
        if not self.store.unseen([final_id]) or not self.store.claim(final_id):
            poll.result.duplicates += 1
            poll.marks[draft.id] = "duplicate"
            return False
        draft.final_id = final_id
        return True

    def _fallback(self, draft: Draft, reason: str, poll: Poll, detail: str = "") -> Draft | None:
        """Use the feed's content when the page gave nothing; else skip for good."""
        entry = draft.entry
        minimum = self.cfg.extract.min_feed_text
        text = next((t for t in (entry.content, entry.summary) if len(t) >= minimum), "")
        if text:
            draft.text, draft.body_source = text, "feed"
            return draft
        poll.skip(draft, reason, detail)
        return None

    def _transient(self, draft: Draft, exc: IngestError, poll: Poll) -> Draft | None:
        attempts = self.store.record_attempt(draft.id, str(exc))
        if attempts >= self.cfg.state.max_attempts:
            log.warning("pipeline: %s: giving up on %s after %d attempts (%s)",
                        draft.feed, draft.url, attempts, exc)
            return self._fallback(draft, "gave_up", poll)
        poll.result.deferred += 1
        log.info("pipeline: %s: %s failed (%s); will retry on a later poll",
                 draft.feed, draft.url, exc)
        return None


def _newest_first(drafts: list[Draft]) -> list[Draft]:
    """Dated entries newest first, then the undated in the feed's order (a stable sort)."""
    return sorted(drafts, key=lambda d: d.entry.published or "", reverse=True)


def _kind_of(exc: IngestError) -> str:
    if isinstance(exc, FeedParseError):
        return "parse"
    if isinstance(exc, SinkError):
        return "sink"
    if isinstance(exc, StateError):
        return "state"
    return "error"
