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

Each listed sitemap keeps its own validators and body hash in ``FeedState.extra["sitemaps"]``
(``{"root": <the configured sitemap's body hash>, "files": {url: {...}}}``). A sitemap not
modified, or with the same bytes, gives no entries: its URLs met the seen filter before.
The files' validators are trusted only when the poll that stored them deferred nothing,
which shows as that poll's body hash having been kept as the feed's (``state.body_hash``):
otherwise entries left for later would never be read again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

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
from ingest.models import Entry, Feed, FeedState, FetchResult, ParsedFeed
from ingest.pipeline import jobs
from ingest.pipeline.entries import page_access
from ingest.pipeline.poll import Poll
from ingest.urls import article_key, normalize_url
from ingest.workers.pool import WorkerPool

log = logging.getLogger("ingest.pipeline")


@dataclass
class _Walk:
    """What one poll's walk has read, queued and noted so far."""

    poll: Poll
    since: float  # wall clock: older URLs and sitemaps are not taken
    known: dict[str, dict]  # validators of the sitemaps the last complete poll read
    parents: dict[str, str | None] = field(default_factory=dict)  # sitemap taken -> lister
    queue: deque[tuple[str, int]] = field(default_factory=deque)  # (url, index depth)
    kept: dict[str, dict] = field(default_factory=dict)  # validators to keep
    entries: dict[str, Entry] = field(default_factory=dict)  # by article key, first kept
    notes: list[str] = field(default_factory=list)
    files: int = 1  # sitemaps fetched, the configured one included
    old: int = 0  # URLs and sitemaps older than the window, not taken
    undated: int = 0  # URLs without a date, not taken


class SitemapReader:
    """Reads sitemap sources for the orchestrator (`Pipeline._read`)."""

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
        walk = _Walk(poll, self._clock() - self._cfg.window, _known(poll.state))
        root = await self._root(walk, fetched, body_hash)
        walk.parents.update(dict.fromkeys({normalize_url(poll.feed.url),
                                           normalize_url(fetched.final_url)}))
        self._take(walk, fetched.final_url, root, depth=0)
        while walk.queue:
            if walk.files >= self._cfg.max_sitemaps:
                walk.notes.append(f"max_sitemaps ({self._cfg.max_sitemaps}) reached:"
                                  f" {len(walk.queue)} listed sitemaps not read this poll")
                break
            url, depth = walk.queue.popleft()
            sitemap = await self._child(walk, url)
            if sitemap is not None:
                self._take(walk, url, sitemap, depth)
        poll.state.extra["sitemaps"] = {"root": body_hash, "files": walk.kept}
        log.info("sitemap: %s: %d sitemaps fetched, %d recent URLs (not taken: %d older, "
                 "%d undated)", poll.feed.name, walk.files, len(walk.entries), walk.old,
                 walk.undated)
        return ParsedFeed(entries=tuple(walk.entries.values()),
                          warning="; ".join(walk.notes) or None)

    async def _root(self, walk: _Walk, fetched: FetchResult, body_hash: str) -> Sitemap:
        """The configured sitemap parsed. Bytes that failed are remembered (as a feed's are),
        so the same body costs no second parse on the next polls."""
        state = walk.poll.state
        failed = state.extra.get("failed_body")
        if isinstance(failed, dict) and failed.get("hash") == body_hash:
            raise FeedParseError(f"{failed.get('error')} (the same bytes again: not parsed)")
        try:
            sitemap = await self._parse(fetched, walk.since)
        except (FeedParseError, JobDeadline) as exc:
            state.extra["failed_body"] = {"hash": body_hash, "error": str(exc)}
            raise
        state.extra.pop("failed_body", None)
        return sitemap

    async def _child(self, walk: _Walk, url: str) -> Sitemap | None:
        """A listed sitemap, or None when it gives nothing this poll (not modified, the
        same bytes, or failed: noted)."""
        walk.files += 1
        key = normalize_url(url)
        known = walk.known.get(key, {})
        try:
            fetched = await self._http.fetch_feed(
                url, etag=known.get("etag"), last_modified=known.get("last_modified"),
                access=page_access(walk.poll.feed, url), cap=self._cfg.max_bytes)
        except NotModified:
            walk.kept[key] = known
            return None
        except FetchError as exc:
            _failed(walk, url, exc, transient=isinstance(exc, TransientFetchError))
            return None
        walk.poll.result.fetch_seconds.append(fetched.elapsed)
        validators = {"etag": fetched.etag, "last_modified": fetched.last_modified,
                      "hash": hashlib.sha256(fetched.content).hexdigest()}
        if validators["hash"] == known.get("hash"):
            walk.kept[key] = validators
            return None
        try:
            sitemap = await self._parse(fetched, walk.since)
        except (FeedParseError, JobDeadline) as exc:
            _failed(walk, url, exc, transient=False)
            return None
        except WorkerError as exc:  # the worker died: worth another try
            _failed(walk, url, exc, transient=True)
            return None
        walk.kept[key] = validators
        return sitemap

    async def _parse(self, fetched: FetchResult, since: float) -> Sitemap:
        cfg = self._cfg
        return await self._workers.run(jobs.parse_sitemap, fetched.content, fetched.final_url,
                                       since, cfg.max_urls, cfg.max_bytes)

    def _take(self, walk: _Walk, url: str, sitemap: Sitemap, depth: int) -> None:
        """A sitemap's recent URLs into the entries; an index's sitemaps into the queue."""
        if sitemap.warning:
            walk.notes.append(f"{url}: {sitemap.warning}")
        walk.old += sitemap.old
        walk.undated += sitemap.undated
        for entry in sitemap.entries:
            walk.entries.setdefault(article_key(entry.link, None) or "", entry)
        if not sitemap.children:
            return
        if depth >= self._cfg.max_depth:
            walk.notes.append(f"{url}: an index {depth} levels down; max_depth"
                              f" ({self._cfg.max_depth}) reached: its {len(sitemap.children)}"
                              " sitemaps not read")
            return
        for child in sitemap.children:
            key = normalize_url(child.url)
            if key in walk.parents:  # fetched, or queued, once in a poll
                if key in _lineage(walk, normalize_url(url)):
                    walk.notes.append(f"sitemap loop: {url} lists {child.url}, which lists it"
                                      " (read once)")
                continue
            walk.parents[key] = normalize_url(url)
            walk.queue.append((child.url, depth + 1))


def _lineage(walk: _Walk, key: str) -> set[str]:
    """``key`` and the sitemaps that listed it, up to the configured one."""
    lineage: set[str] = set()
    current: str | None = key
    while current is not None and current not in lineage:
        lineage.add(current)
        current = walk.parents.get(current)
    return lineage


def _known(state: FeedState) -> dict[str, dict]:
    """The sitemaps' validators kept by the last poll, if it deferred nothing."""
    saved = state.extra.get("sitemaps")
    if not isinstance(saved, dict) or saved.get("root") != state.body_hash:
        return {}
    files = saved.get("files")
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def _failed(walk: _Walk, url: str, exc: Exception, *, transient: bool) -> None:
    """A listed sitemap failed: noted; a transient failure leaves the poll to be read again."""
    if transient:
        walk.poll.defer()
        walk.notes.append(f"{url}: not read ({exc}); read again at the next poll")
    else:
        walk.notes.append(f"{url}: not read ({exc})")
