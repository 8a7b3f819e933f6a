"""The per-entry work of a poll: which entries are new, and each new one's page fetched
and extracted, or the feed's own text in its place.

What becomes of one entry:

    never seen, page extracted          a draft with the page's text, for the batch writer
    seen before, or twice in the feed   counted, never fetched
    of a feed with fetch_pages: false   the feed's text (content, else summary), the page
                                          never asked for; none: skipped, "no_feed_text"
    whole in the feed's content         the feed's content, the page never asked for, as
                                          ``extract.feed_content`` says (`feed_content`)
    same story as another after the     a duplicate, marked seen
      page's redirects
    page refused for good (404, not     the feed's text when it has ``extract.min_feed_text``
      HTML, no article text, a job        characters, else skipped under that reason and
      past its deadline, disallowed       marked seen
      by robots.txt)
    transient failure (5xx, timeout,    not marked: tried again by a later poll, until
      a worker died)                      ``state.max_attempts``, then as refused ("gave_up")
    the host asked us to wait, or its   not marked, no attempt counted
      robots.txt could not be had
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from ingest.config.model import Config
from ingest.errors import FetchError, HostBackoff, IngestError, JobDeadline, PermanentFetchError, SkipEntry
from ingest.extract.langid import detect_language
from ingest.extract.page import extract_article
from ingest.fetch.client import HttpClient
from ingest.fetch.robots import ROBOTS_DISALLOWED
from ingest.models import Access, Feed, FetchResult
from ingest.pipeline import feed_content
from ingest.pipeline.poll import Draft, Poll
from ingest.state.store import Store
from ingest.urls import article_key, key_id, normalize_url, site_of
from ingest.workers.pool import WorkerPool

log = logging.getLogger("ingest.pipeline")


class EntryWork:
    def __init__(self, cfg: Config, store: Store, http: HttpClient, workers: WorkerPool) -> None:
        self._cfg = cfg
        self._store = store
        self._http = http
        self._workers = workers
        # pages being fetched or waiting for / in extraction: enough to keep every
        # connection and worker busy, few enough that memory stays flat
        self._page_slots = asyncio.Semaphore(max(4 * workers.size, cfg.http.max_connections))

    # -- which entries are new ----------------------------------------------------------
    def claim_new(self, poll: Poll) -> list[Draft]:
        """Entries never seen and not in flight elsewhere, claimed for this poll: the
        newest ``max_entries_per_poll`` of them."""
        keyed = _drafts_by_id(poll)
        unseen = self._store.unseen(keyed)
        poll.result.already_seen += len(keyed) - len(unseen)
        fresh = [d for i, d in keyed.items() if i in unseen]
        cap = self._cfg.schedule.max_entries_per_poll
        if len(fresh) > cap:
            fresh = _newest_first(fresh)
            poll.defer(len(fresh) - cap)
            log.info("pipeline: %s: %d new entries; the newest %d now, the rest at the next "
                     "poll", poll.feed.name, len(fresh), cap)
            fresh = fresh[:cap]
        claimed = self._store.claim_many(d.id for d in fresh)
        for _ in range(len(fresh) - len(claimed)):  # the same story, in flight elsewhere
            poll.duplicate()
        return [d for d in fresh if d.id in claimed]

    # -- one entry ----------------------------------------------------------------------
    async def fetch_and_extract(self, draft: Draft, poll: Poll) -> Draft | None:
        """The draft with its text, or None (see `_page_or_feed_text`); the feed's own text
        has its language read in a worker, as a page's text has in the extraction."""
        done = await self._page_or_feed_text(draft, poll)
        if done is not None and done.body_source == "feed":
            done.text_language = await self._text_language(done)
        return done

    async def _text_language(self, draft: Draft) -> str | None:
        try:
            return await self._workers.run(partial(detect_language,
                                                   declared=draft.feed_language is not None),
                                           draft.text)
        except IngestError:  # a worker failed: the feed's declaration, if any, stands
            return None

    async def _page_or_feed_text(self, draft: Draft, poll: Poll) -> Draft | None:
        """The draft with its text, or None when it is settled without a record or left
        for a later poll. One page at a time per slot: pages fetched faster than the
        workers extract them would otherwise wait in memory (all of a run's, at worst)."""
        if not poll.feed.fetch_pages:
            return self._feed_text(draft, poll)
        choice = feed_content.choose(feed_content.mode_of(poll.feed, self._cfg.extract),
                                     draft.entry.content, poll.state)
        if choice == feed_content.FEED:
            return self._feed_content(draft, poll)
        async with self._page_slots:
            if draft.url is None:
                return self._fallback(draft, "no_link", poll)
            try:
                page = await self._http.fetch_page(draft.url,
                                                   access=page_access(poll.feed, draft.url))
            except FetchError as exc:
                return self._page_failed(draft, exc, poll)
            poll.result.pages += 1
            poll.result.fetch_seconds.append(page.elapsed)
            if not self._claim_final_url(draft, page, poll):
                return None
            done = await self._extract(draft, page, poll)
        if choice == feed_content.SAMPLE and done is not None and done.article is not None:
            feed_content.judge(poll.state, done.entry.content, done.text,
                               about=f"{done.feed}: {done.url}")
        return done

    def _feed_content(self, draft: Draft, poll: Poll) -> Draft:
        """``extract.feed_content`` took the entry's content: no page request."""
        poll.result.pages_saved += 1
        draft.text, draft.body_source = draft.entry.content, "feed"
        return draft

    def _feed_text(self, draft: Draft, poll: Poll) -> Draft | None:
        """``fetch_pages: false``: the entry's content, else its summary, however short
        (``extract.min_feed_text`` judges the feed's text only as a failed page's stand-in)."""
        text = draft.entry.content or draft.entry.summary
        if not text.strip():
            poll.skip(draft, "no_feed_text")
            return None
        draft.text, draft.body_source = text, "feed"
        return draft

    def _page_failed(self, draft: Draft, exc: FetchError, poll: Poll) -> Draft | None:
        if isinstance(exc, HostBackoff):
            poll.result.pages += exc.requested
            poll.defer()
            log.info("pipeline: %s: %s; left for a later run", draft.feed, exc)
            return None
        if exc.kind != ROBOTS_DISALLOWED:  # a page its robots.txt disallows was not asked for
            poll.result.pages += 1
        if isinstance(exc, PermanentFetchError):
            return self._fallback(draft, exc.kind, poll, str(exc))
        return self._transient(draft, exc, poll)

    def _claim_final_url(self, draft: Draft, page: FetchResult, poll: Poll) -> bool:
        """After redirects the page may be an article we already have."""
        final = normalize_url(page.final_url)
        if final == draft.url:
            return True
        draft.final_url = page.final_url
        final_id = key_id(final)
        if not self._store.claim(final_id):  # marked seen already, or in flight
            poll.duplicate(draft)
            return False
        draft.final_id = final_id
        return True

    async def _extract(self, draft: Draft, page: FetchResult, poll: Poll) -> Draft | None:
        started = time.monotonic()
        try:
            draft.article = await self._workers.run(
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
        poll.result.extract_seconds.append(time.monotonic() - started)
        draft.text = draft.article.text
        return draft

    def _fallback(self, draft: Draft, reason: str, poll: Poll, detail: str = "") -> Draft | None:
        """Use the feed's content when the page gave nothing; else skip for good."""
        entry = draft.entry
        minimum = self._cfg.extract.min_feed_text
        text = next((t for t in (entry.content, entry.summary) if len(t) >= minimum), "")
        if text:
            draft.text, draft.body_source = text, "feed"
            return draft
        poll.skip(draft, reason, detail)
        return None

    def _transient(self, draft: Draft, exc: IngestError, poll: Poll) -> Draft | None:
        attempts = self._store.record_attempt(draft.id, str(exc))
        if attempts >= self._cfg.state.max_attempts:
            log.warning("pipeline: %s: giving up on %s after %d attempts (%s)",
                        draft.feed, draft.url, attempts, exc)
            return self._fallback(draft, "gave_up", poll)
        poll.defer()
        log.info("pipeline: %s: %s failed (%s); will retry on a later poll",
                 draft.feed, draft.url, exc)
        return None


def page_access(feed: Feed, url: str) -> Access | None:
    """The feed's request settings for one of its pages: only on the feed's own site (the
    same host, ignoring a leading ``www.`` and the port, as cookies do)."""
    return feed.access if site_of(url) == site_of(feed.url) else None


def _drafts_by_id(poll: Poll) -> dict[str, Draft]:
    """A draft per entry that has an identity, in the feed's order; an entry the feed
    lists twice is counted a duplicate."""
    keyed: dict[str, Draft] = {}
    for entry in poll.parsed.entries:
        key = article_key(entry.link, entry.guid)
        if key is None:
            poll.result.skipped["no_link_or_guid"] += 1
            continue
        draft_id = key_id(key)
        if draft_id in keyed:
            poll.duplicate()
            continue
        url = key if not key.startswith("guid:") else None
        keyed[draft_id] = Draft(id=draft_id, url=url, entry=entry, feed=poll.feed.name,
                                feed_language=entry.language or poll.parsed.language)
    return keyed


def _newest_first(drafts: list[Draft]) -> list[Draft]:
    """Dated entries newest first, then the undated in the feed's order (a stable sort)."""
    return sorted(drafts, key=lambda d: d.entry.published or "", reverse=True)
