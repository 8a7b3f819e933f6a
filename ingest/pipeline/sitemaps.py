"""One poll of a sitemap source: the configured sitemap, the sitemaps its index lists
(within limits), and their recent URLs as the poll's entries (a ParsedFeed).

A feed whose ``type`` is ``sitemap`` is read here; so is a ``type: feed`` whose URL answers
with a sitemap (`ingest.extract.sitemap_bytes.is_sitemap`; said once at info). The walk:

    the configured URL      fetched by the orchestrator with the feed's validators, as a feed
    an index's sitemaps     newest <lastmod> first, undated after; older than the window: not
                            fetched. ``max_depth`` index levels below the configured URL,
                            ``max_sitemaps`` files a poll (the configured one included)
    each URL at most once   normalised; one listed again (an index listing itself or a
                            parent) is not fetched, and named in the poll's warning
    a failing sitemap       costs that sitemap (a warning), not the poll; a transient failure
                            defers the poll (its validators are not kept: it is read again)

Each listed sitemap keeps its own validators and body hash (`ingest.pipeline.sitemap_memory`):
one not modified, or with the same bytes, gives no entries (its URLs met the seen filter
before), and the sitemaps an unchanged index listed are taken from that memory. So when the
configured index itself is unchanged (304 or the same bytes), `SitemapReader.recheck` still
asks the sitemaps it listed, conditionally, within the same limits: sites often leave their
index alone when a news sitemap it lists changes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from ingest.config.model import SitemapConfig
from ingest.errors import (
    FeedParseError,
    FetchError,
    JobDeadline,
    NotModified,
    TransientFetchError,
    WorkerError,
)
from ingest.extract.sitemap import Sitemap
from ingest.extract.sitemap_bytes import is_sitemap
from ingest.fetch.client import HttpClient
from ingest.models import Feed, FetchResult, ParsedFeed
from ingest.pipeline import jobs
from ingest.pipeline.entries import page_access
from ingest.pipeline.poll import Poll
from ingest.pipeline.sitemap_memory import Memory, recall, remember
from ingest.pipeline.sitemap_walk import Walk
from ingest.urls import normalize_url
from ingest.workers.pool import WorkerPool

log = logging.getLogger("ingest.pipeline")
WorkEntries = Callable[[Poll], Awaitable[None]]


class SitemapReader:
    """Reads sitemap sources for the orchestrator (`Pipeline._read`, `Pipeline._poll`)."""

    def __init__(self, cfg: SitemapConfig, http: HttpClient, workers: WorkerPool, *,
                 clock: Callable[[], float]) -> None:
        self._cfg = cfg
        self._http = http
        self._workers = workers
        self._clock = clock
        self._told: set[str] = set()  # feeds whose sitemap answer was logged

    def wants(self, feed: Feed, fetched: FetchResult) -> bool:
        """Whether ``fetched`` is to be read as a sitemap: the feed says so, or it is one."""
        if feed.type == "sitemap":
            return True
        if not is_sitemap(fetched.content):
            return False
        if feed.url not in self._told:
            self._told.add(feed.url)
            log.info("sitemap: %s: its URL answers with a sitemap, read as one "
                     "(type: sitemap in its config says so)", feed.name)
        return True

    async def read(self, poll: Poll, fetched: FetchResult, body_hash: str) -> ParsedFeed:
        """The recent URLs of the sitemap and of those it lists, as the poll's entries."""
        walk = self._walk(poll, recall(poll.state))
        root = await self._parse(fetched, walk.since)  # a failure is remembered by the caller
        walk.parents.update(dict.fromkeys({normalize_url(poll.feed.url),
                                           normalize_url(fetched.final_url)}))
        walk.take(fetched.final_url, root, 0, {})
        await self._drain(walk)
        self._remember(walk, body_hash)
        return self._parsed(walk)

    async def recheck(self, poll: Poll, work: WorkEntries) -> None:
        """The configured sitemap did not change (304, or the same bytes). If it is an index,
        ask the sitemaps it listed at the last complete poll, each with its validators, and
        ``work`` their new entries; the poll's outcome stays as it is when none changed.
        Nothing to do for a feed or a plain sitemap (nothing else to ask)."""
        known = recall(poll.state)
        if not known.listed_by(None):
            return
        walk = self._walk(poll, known)
        walk.parents.update(dict.fromkeys({normalize_url(poll.feed.url), *known.roots}))
        walk.queue_remembered(poll.feed.url, None, 0)
        await self._drain(walk)
        root = str(poll.state.body_hash)
        if not walk.changed:
            self._remember(walk, root)
            log.info("sitemap: %s: the index and the %d sitemaps asked are unchanged",
                     poll.feed.name, walk.files - 1)
            return
        poll.parsed = parsed = self._parsed(walk)
        if parsed.warning:
            log.warning("sitemap: %s: kept %d entries despite errors (%s)",
                        poll.feed.name, len(parsed.entries), parsed.warning)
        poll.result.entries = len(parsed.entries)
        await work(poll)
        if not poll.result.deferred:  # else the next poll asks them all again, as here
            self._remember(walk, root)
        poll.result.outcome = "new" if poll.result.written else "nothing_new"

    def _walk(self, poll: Poll, known: Memory) -> Walk:
        return Walk(poll, self._clock() - self._cfg.window, known, self._cfg.max_depth)

    async def _drain(self, walk: Walk) -> None:
        """Visit the queued sitemaps, within max_sitemaps."""
        while walk.queue:
            if walk.files >= self._cfg.max_sitemaps:
                walk.notes.append(f"max_sitemaps ({self._cfg.max_sitemaps}) reached:"
                                  f" {len(walk.queue)} listed sitemaps not read this poll")
                break
            url, depth = walk.queue.popleft()
            await self._visit(walk, url, depth)

    def _remember(self, walk: Walk, root: str) -> None:
        roots = [key for key, lister in walk.parents.items() if lister is None]
        remember(walk.poll.state, root, roots, walk.taken, walk.visited, walk.known,
                 cap=2 * self._cfg.max_sitemaps)

    def _parsed(self, walk: Walk) -> ParsedFeed:
        log.info("sitemap: %s: %d sitemaps fetched, %d recent URLs (not taken: %d older, "
                 "%d undated)", walk.poll.feed.name, walk.files, len(walk.entries), walk.old,
                 walk.undated)
        return walk.parsed()

    async def _visit(self, walk: Walk, url: str, depth: int) -> None:
        """A listed sitemap, asked with its validators; read only when it changed."""
        walk.files += 1
        known = walk.known.validators(normalize_url(url))
        try:
            fetched = await self._http.fetch_feed(
                url, etag=known.get("etag"), last_modified=known.get("last_modified"),
                access=page_access(walk.poll.feed, url), cap=self._cfg.max_bytes)
        except NotModified:
            walk.unchanged(url, depth, known)
            return
        except FetchError as exc:
            walk.failed(url, exc, transient=isinstance(exc, TransientFetchError))
            return
        walk.poll.result.fetch_seconds.append(fetched.elapsed)
        validators = {"etag": fetched.etag, "last_modified": fetched.last_modified,
                      "hash": hashlib.sha256(fetched.content).hexdigest()}
        if validators["hash"] == known.get("hash"):
            walk.unchanged(url, depth, validators)
            return
        walk.changed = True
        try:
            sitemap = await self._parse(fetched, walk.since)
        except (FeedParseError, JobDeadline) as exc:
            walk.failed(url, exc, transient=False)
        except WorkerError as exc:  # the worker died: worth another try
            walk.failed(url, exc, transient=True)
        else:
            walk.take(url, sitemap, depth, validators)

    async def _parse(self, fetched: FetchResult, since: float) -> Sitemap:
        cfg = self._cfg
        return await self._workers.run(jobs.parse_sitemap, fetched.content, fetched.final_url,
                                       since, cfg.max_urls, cfg.max_bytes)
