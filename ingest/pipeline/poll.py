"""The per-poll objects of the pipeline: one poll of one feed, and each new entry's draft."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ingest.models import Article, Entry, Feed, ParsedFeed
from ingest.pipeline.outcomes import PollResult

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


@dataclass
class Poll:
    """One poll of one feed's entries: what the feed said, what it counts, what it will mark."""

    feed: Feed
    parsed: ParsedFeed
    result: PollResult
    marks: dict[str, str] = field(default_factory=dict)  # settled without a record

    def skip(self, draft: Draft, reason: str, detail: str = "") -> None:
        """Drop ``draft`` for good: counted, and marked seen with the next write."""
        self.result.skipped[reason] += 1
        self.marks[draft.id] = f"skipped:{reason}"
        log.info("pipeline: %s: skipped %s (%s%s)", draft.feed, draft.url or draft.entry.guid,
                 reason, f": {detail}" if detail else "")
