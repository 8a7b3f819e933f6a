"""The per-poll objects of the pipeline: one poll of one feed, and each new entry's draft.

A `Poll` owns what one poll produces: its PollResult (the counts, the outcome) and the
seen marks of the entries it settled without a record (skipped, duplicates), which go to
the store with its next write. The steps of the poll record through it; none is handed
a result or a dict of marks to fill in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ingest.errors import HostBackoff, IngestError
from ingest.models import Article, Entry, Feed, FeedState, ParsedFeed
from ingest.pipeline.outcomes import PollResult
from ingest.redact import Redactor

log = logging.getLogger("ingest.pipeline")
NOT_PARSED = ParsedFeed(entries=())


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
    text_language: str | None = None  # detected in the feed's text, when that is the record's


@dataclass
class Poll:
    """One poll of one feed: its stored state, what the feed said, what the poll counts and
    what it will mark seen."""

    feed: Feed
    state: FeedState
    parsed: ParsedFeed = NOT_PARSED  # the feed's entries, once its bytes are parsed
    result: PollResult = field(init=False)
    _marks: dict[str, str] = field(init=False, default_factory=dict)  # settled without a record

    def __post_init__(self) -> None:
        self.result = PollResult(feed=self.feed)

    def skip(self, draft: Draft, reason: str, detail: str = "") -> None:
        """Drop ``draft`` for good: counted, and marked seen with the next write."""
        self.result.skipped[reason] += 1
        self._marks[draft.id] = f"skipped:{reason}"
        log.info("pipeline: %s: skipped %s (%s%s)", draft.feed, draft.url or draft.entry.guid,
                 reason, f": {detail}" if detail else "")

    def duplicate(self, draft: Draft | None = None) -> None:
        """Count a second copy of a story; ``draft`` (known for one only after its page's
        redirects) is marked seen with the next write."""
        self.result.duplicates += 1
        if draft is not None:
            self._marks[draft.id] = "duplicate"

    def defer(self, count: int = 1) -> None:
        """Leave ``count`` entries for a later poll: unmarked, so they are new again then."""
        self.result.deferred += count

    def take_marks(self) -> dict[str, str]:
        """The marks waiting for a write, handed over once."""
        marks, self._marks = self._marks, {}
        return marks

    def fail(self, exc: IngestError) -> None:
        """The poll failed: counted under the error's kind, the feed's URL without secrets."""
        self.result.fail(exc.kind, Redactor([self.feed.url])(str(exc)))
        if isinstance(exc, HostBackoff):
            self.result.retry_after = exc.retry_after

    def settle_state(self, now: float) -> FeedState:
        """The feed's state after this poll, to be stored."""
        state, result = self.state, self.result
        if result.ok:
            state.failures, state.last_error = 0, None
            state.last_success_at = now
            if result.written:
                state.last_new_at = now
                state.articles_written += result.written
        else:
            state.failures += 1
            state.last_error = result.error
            log.error("%s: %s", self.feed.name, result.error)
        return state
