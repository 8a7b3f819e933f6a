"""The bookkeeping of one poll's walk of a sitemap source (`ingest.pipeline.sitemaps`):
what it queued, read and noted, without any request of its own.

The queue is first in, first out: an index's sitemaps (newest first) are read before what
they list, level by level, and each URL (normalised) is queued at most once a poll. The
sitemaps an index listed come from its reading, or, when it did not change, from the
memory of the last complete poll (`ingest.pipeline.sitemap_memory`), within the window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ingest.extract.sitemap import Sitemap, SitemapChild
from ingest.models import Entry, ParsedFeed
from ingest.pipeline.poll import Poll
from ingest.pipeline.sitemap_memory import Memory
from ingest.urls import article_key, normalize_url


@dataclass
class Walk:
    """What one poll's walk has read, queued and noted so far."""

    poll: Poll
    since: float  # wall clock: older URLs and sitemaps are not taken
    known: Memory  # what the last complete poll remembered
    max_depth: int
    parents: dict[str, str | None] = field(default_factory=dict)  # sitemap taken -> lister
    queue: deque[tuple[str, int]] = field(default_factory=deque)  # (url, index depth)
    taken: list[dict] = field(default_factory=list)  # the sitemaps queued, for the memory
    visited: dict[str, dict] = field(default_factory=dict)  # validators got this poll
    entries: dict[str, Entry] = field(default_factory=dict)  # by article key, first kept
    notes: list[str] = field(default_factory=list)
    files: int = 1  # sitemaps fetched, the configured one included
    changed: bool = False  # a listed sitemap answered with new bytes (or failed)
    old: int = 0  # URLs and sitemaps older than the window, not taken
    undated: int = 0  # URLs without a date, not taken

    def parsed(self) -> ParsedFeed:
        """The walk's recent URLs as the poll's entries, its notes as the warning."""
        return ParsedFeed(entries=tuple(self.entries.values()),
                          warning="; ".join(self.notes) or None)

    def take(self, url: str, sitemap: Sitemap, depth: int, validators: dict) -> None:
        """A sitemap read: its recent URLs into the entries, an index's sitemaps queued."""
        self.visited[normalize_url(url)] = validators
        if sitemap.warning:
            self.notes.append(f"{url}: {sitemap.warning}")
        self.old += sitemap.old
        self.undated += sitemap.undated
        for entry in sitemap.entries:
            self.entries.setdefault(article_key(entry.link, None) or "", entry)
        self.queue_listed(url, sitemap.children, depth)

    def unchanged(self, url: str, depth: int, validators: dict) -> None:
        """A listed sitemap not modified (or the same bytes): no entries; if it is an index,
        the sitemaps it listed before are queued from the memory."""
        self.visited[normalize_url(url)] = validators
        self.queue_remembered(url, normalize_url(url), depth)

    def queue_remembered(self, url: str, key: str | None, depth: int) -> None:
        """The remembered sitemaps of the index ``key`` (None: the configured one), queued
        if they are still within the window (as its reading would have them)."""
        listed = self.known.listed_by(key)
        recent = tuple(c for c in listed if c.lastmod is None or c.lastmod >= self.since)
        self.old += len(listed) - len(recent)
        self.queue_listed(url, recent, depth)

    def queue_listed(self, url: str, children: tuple[SitemapChild, ...], depth: int) -> None:
        """The sitemaps an index at ``depth`` lists into the queue, each once a poll."""
        if not children:
            return
        if depth >= self.max_depth:
            self.notes.append(f"{url}: an index {depth} levels down; max_depth"
                              f" ({self.max_depth}) reached: its {len(children)}"
                              " sitemaps not read")
            return
        parent = normalize_url(url)
        for child in children:
            key = normalize_url(child.url)
            if key in self.parents:  # fetched, or queued, once in a poll
                if key in self._lineage(parent):
                    self.notes.append(f"sitemap loop: {url} lists {child.url}, which lists"
                                      " it (read once)")
                continue
            self.parents[key] = parent
            self.queue.append((child.url, depth + 1))
            self.taken.append({"key": key, "url": child.url, "depth": depth + 1,
                               "parent": parent if depth else None, "lastmod": child.lastmod})

    def failed(self, url: str, exc: Exception, *, transient: bool) -> None:
        """A listed sitemap failed: noted (no validators kept); a transient failure leaves
        the poll to be read again."""
        self.changed = True
        self.visited[normalize_url(url)] = {}
        if transient:
            self.poll.defer()
            self.notes.append(f"{url}: not read ({exc}); read again at the next poll")
        else:
            self.notes.append(f"{url}: not read ({exc})")

    def _lineage(self, key: str) -> set[str]:
        """``key`` and the sitemaps that listed it, up to the configured one."""
        lineage: set[str] = set()
        current: str | None = key
        while current is not None and current not in lineage:
            lineage.add(current)
            current = self.parents.get(current)
        return lineage
