"""The one orchestrator: poll a feed → new entries → fetch → extract → clean → write → mark seen.

`Pipeline.poll_feed` is the per-feed function that both `ingest fetch` (via
`run`) and the daemon call. It is the only module that imports the stages; the
stages never call each other. Order of work is cheapest first: conditional GET,
body hash, seen filter, then page requests and extraction.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from functools import cached_property, partial

from ingest.config import Config
from ingest.errors import (FeedParseError, FetchError, HostBackoff, IngestError,
                           NotModified, PermanentFetchError, SinkError, SkipEntry,
                           StateError)
from ingest.extract import extract_article
from ingest.fetch import HttpClient
from ingest.models import Article, Entry, Feed, FeedState, FetchResult, ParsedFeed
from ingest.outcomes import PollResult, RunStats
from ingest.records import build_record, cache_hints
from ingest.sink import JsonlSink
from ingest.state import Store
from ingest.urls import article_key, key_id, normalize_url, site_of
from ingest.workers import WorkerPool

log = logging.getLogger("ingest.pipeline")


@dataclass
class Draft:
    """A new entry on its way to becoming a record."""

    id: str
    url: str | None
    entry: Entry
    feed: str  # the feed's name, for log lines
    article: Article | None = None
    final_url: str | None = None
    final_id: str | None = None
    text: str = ""
    body_source: str = "page"
    feed_language: str | None = None  # the feed's <language>: detection is not needed


class Pipeline:
    def __init__(self, cfg: Config, store: Store, http: HttpClient, workers: WorkerPool,
                 sink: JsonlSink, *, clock=time.time, on_event=None) -> None:
        self.cfg = cfg
        # on_event(kind, value): "feed" with a PollResult when a poll ends,
        # "article" with a count when records are written (progress display).
        self._on_event = on_event or (lambda kind, value: None)
        self.store = store
        self.http = http
        self.workers = workers
        self.sink = sink
        self._clock = clock
        # pages being fetched or waiting for / in extraction: enough to keep every
        # connection and worker busy, few enough that memory stays flat
        self._page_slots = asyncio.Semaphore(max(4 * workers.size, cfg.http.max_connections))

    @cached_property
    def _rules(self):
        # Imported at first use: the footer stage compiles its multilingual patterns on
        # import (~50 ms), which a poll with nothing new (a run of 304s) never needs.
        # load_config has already checked cfg.footers.sites' patterns.
        from ingest import footers

        cfg = self.cfg.footers
        return footers.FooterRules.from_config(cfg.learn, cfg.min_count, cfg.sites)

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
        stats.seconds = time.monotonic() - started
        return stats

    # -- the per-feed function -------------------------------------------------
    async def poll_feed(self, feed: Feed, *, unconditional: bool = False) -> PollResult:
        """Poll one feed and write its new articles; never raises for bad input."""
        result = PollResult(feed=feed)
        started = time.monotonic()
        state = self.store.get_feed(feed.url)
        if state.last_poll_at is None:  # a new feed: its entries will need the workers,
            self.workers.start_soon()   # whose start (~0.6 s) overlaps its request now
        state.last_poll_at = self._clock()
        try:
            await self._poll(feed, state, result, unconditional)
        except IngestError as exc:
            kind = getattr(exc, "kind", None) or _kind_of(exc)
            result.fail(kind, str(exc))
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
        parsed = await self.workers.run(_parse, fetched.content, fetched.final_url,
                                        fetched.content_type)
        if parsed.warning:
            log.warning("feeds: %s: kept %d entries despite errors (%s)",
                        feed.name, len(parsed.entries), parsed.warning)
        result.hints.update(ttl=parsed.ttl, update_period=parsed.update_period)
        result.entries = len(parsed.entries)
        await self._work_entries(feed, parsed, result)
        if not result.deferred:  # keep the validators only once every entry is settled
            state.etag, state.last_modified = fetched.etag, fetched.last_modified
            state.body_hash = body_hash
        result.outcome = "new" if result.written else "nothing_new"

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
    async def _work_entries(self, feed: Feed, parsed: ParsedFeed, result: PollResult) -> None:
        drafts = self._claim_new(feed, parsed, result)
        try:
            marks: dict[str, str] = {}
            done = await asyncio.gather(*(self._work_entry(d, marks, result) for d in drafts))
            ready = [d for d in done if d is not None]
            self._write(feed, parsed, ready, marks, result)
        finally:
            for d in drafts:
                self.store.release(d.id)
                if d.final_id:
                    self.store.release(d.final_id)

    def _claim_new(self, feed: Feed, parsed: ParsedFeed, result: PollResult) -> list[Draft]:
        """Entries never seen and not in flight elsewhere, claimed for this poll."""
        keyed: dict[str, Draft] = {}
        for entry in parsed.entries:
            key = article_key(entry.link, entry.guid)
            if key is None:
                result.skipped["no_link_or_guid"] += 1
                continue
            draft_id = key_id(key)
            if draft_id in keyed:
                result.duplicates += 1
                continue
            url = key if not key.startswith("guid:") else None
            keyed[draft_id] = Draft(id=draft_id, url=url, entry=entry, feed=feed.name,
                                    feed_language=parsed.language)
        unseen = self.store.unseen(keyed)
        result.already_seen += len(keyed) - len(unseen)
        drafts = []
        for draft_id, draft in keyed.items():
            if draft_id not in unseen:
                continue
            if self.store.claim(draft_id):
                drafts.append(draft)
            else:  # the same story, being worked on for another feed right now
                result.duplicates += 1
        return drafts

    async def _work_entry(self, draft: Draft, marks: dict[str, str],
                          result: PollResult) -> Draft | None:
        """One page at a time per slot: pages fetched faster than the workers extract
        them would otherwise wait in memory (all of a run's pages, at worst)."""
        async with self._page_slots:
            return await self._fetch_and_extract(draft, marks, result)

    async def _fetch_and_extract(self, draft: Draft, marks: dict[str, str],
                                 result: PollResult) -> Draft | None:
        """Fetch and extract one page; fall back to the feed's own text."""
        if draft.url is None:
            return self._fallback(draft, "no_link", marks, result)
        try:
            page = await self.http.fetch_page(draft.url)
        except HostBackoff as exc:
            result.pages += exc.requested
            result.deferred += 1
            log.info("pipeline: %s: %s; left for a later run", draft.feed, exc)
            return None
        except PermanentFetchError as exc:
            result.pages += 1
            return self._fallback(draft, exc.kind, marks, result, str(exc))
        except FetchError as exc:
            result.pages += 1
            return self._transient(draft, exc, marks, result)
        result.pages += 1
        result.fetch_seconds.append(page.elapsed)
        if not self._claim_final_url(draft, page, result, marks):
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
            return self._fallback(draft, exc.reason, marks, result, exc.detail)
        except IngestError as exc:  # a worker died
            return self._transient(draft, exc, marks, result)
        result.extract_seconds.append(time.monotonic() - started)
        draft.text = draft.article.text
        return draft

    def _claim_final_url(self, draft: Draft, page: FetchResult, result: PollResult,
                         marks: dict[str, str]) -> bool:
        """After redirects the page may be an article we already have."""
        final = normalize_url(page.final_url)
        if final == draft.url:
            return True
        draft.final_url = page.final_url
        final_id = key_id(final)
        if not self.store.unseen([final_id]) or not self.store.claim(final_id):
            result.duplicates += 1
            marks[draft.id] = "duplicate"
            return False
        draft.final_id = final_id
        return True

    def _fallback(self, draft: Draft, reason: str, marks: dict[str, str],
                  result: PollResult, detail: str = "") -> Draft | None:
        """Use the feed's content when the page gave nothing; else skip for good."""
        entry = draft.entry
        minimum = self.cfg.extract.min_feed_text
        text = next((t for t in (entry.content, entry.summary) if len(t) >= minimum), "")
        if text:
            draft.text, draft.body_source = text, "feed"
            return draft
        result.skipped[reason] += 1
        marks[draft.id] = f"skipped:{reason}"
        log.info("pipeline: %s: skipped %s (%s%s)", draft.feed, draft.url or draft.entry.guid,
                 reason, f": {detail}" if detail else "")
        return None

    def _transient(self, draft: Draft, exc: IngestError, marks: dict[str, str],
                   result: PollResult) -> Draft | None:
        attempts = self.store.record_attempt(draft.id, str(exc))
        if attempts >= self.cfg.state.max_attempts:
            log.warning("pipeline: %s: giving up on %s after %d attempts (%s)",
                        draft.feed, draft.url, attempts, exc)
            return self._fallback(draft, "gave_up", marks, result)
        result.deferred += 1
        log.info("pipeline: %s: %s failed (%s); will retry on a later poll",
                 draft.feed, draft.url, exc)
        return None

    # -- clean, write, mark ------------------------------------------------------
    def _write(self, feed: Feed, parsed: ParsedFeed, drafts: list[Draft],
               marks: dict[str, str], result: PollResult) -> None:
        records, learned = self._clean(feed, parsed, drafts, marks, result)
        written = {rec.id for rec in records}
        for d in drafts:
            if d.id in written:
                marks[d.id] = "written"
                if d.final_id:
                    marks[d.final_id] = "written"
        try:
            checkpoints = self.sink.write([r.to_dict() for r in records])
        except SinkError as exc:
            result.deferred += len(records)
            raise exc
        self.store.mark_seen(marks, checkpoints)
        result.written += len(records)
        if records:
            self._on_event("article", len(records))
        for site, counts in learned.items():
            self.store.add_footer_counts(site, counts)

    def _clean(self, feed: Feed, parsed: ParsedFeed, drafts: list[Draft],
               marks: dict[str, str], result: PollResult):
        """Strip footers per site, as a batch, so this run's articles already count."""
        from ingest import footers  # see _rules

        by_site: dict[str, list[Draft]] = {}
        for d in drafts:
            by_site.setdefault(site_of(d.final_url or d.url or feed.url), []).append(d)
        records, learned = [], {}
        fetched_at = _iso_now(self._clock())
        for site, group in by_site.items():
            texts = [d.text for d in group]
            batch = footers.count_batch(texts)
            stored = (self.store.footer_counts(site, footers.learnable_keys(texts))
                      if self._rules.learn else {})
            counts = footers.merge_counts(stored, batch)
            if self._rules.learn and batch:
                learned[site] = batch
            for d in group:
                cleaned = footers.strip_footers(d.text, learned=counts, rules=self._rules,
                                                site=site, feed_rights=parsed.rights)
                if not cleaned.text.strip():
                    result.skipped["no_text"] += 1
                    marks[d.id] = "skipped:no_text"
                    continue
                result.footers_removed += len(cleaned.removed)
                records.append(build_record(feed, parsed, d, cleaned, fetched_at))
        return records, learned


def _parse(content: bytes, url: str, content_type: str) -> ParsedFeed:
    """Feed parsing, run in a worker process."""
    # Imported here: feedparser and lxml (~35 ms) are preloaded in the workers, and the
    # main process, where a run of 304s ends, never needs them.
    from ingest import feeds

    return feeds.parse_feed(content, url=url, content_type=content_type)


def _kind_of(exc: IngestError) -> str:
    if isinstance(exc, FeedParseError):
        return "parse"
    if isinstance(exc, SinkError):
        return "sink"
    if isinstance(exc, StateError):
        return "state"
    return "error"


def _iso_now(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
