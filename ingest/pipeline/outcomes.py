"""What a poll produced, counted in one place (scrapy's written / dropped / failed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ingest.models import Feed
from ingest.redact import redact_url, redactor_for

# Poll outcomes: "new" (something written), "nothing_new", "not_modified" (304),
# "unchanged" (same bytes as last time), "failed".
OK_OUTCOMES = ("new", "nothing_new", "not_modified", "unchanged")


@dataclass
class PollResult:
    feed: Feed
    outcome: str = "nothing_new"
    error: str | None = None  # human message, names the feed's URL and the reason
    error_kind: str | None = None  # short label: timeout, http_503, parse, sink...
    entries: int = 0
    written: int = 0
    already_seen: int = 0
    duplicates: int = 0
    story_sizes: list = field(default_factory=list)  # per near-duplicate: its story's size
    deferred: int = 0  # left for a later run (transient page failures, host backoff)
    pages: int = 0  # page requests made
    pages_saved: int = 0  # entries whose feed text stood in for a page (extract.feed_content)
    footers_removed: int = 0
    repaired: Counter = field(default_factory=Counter)  # texts with mojibake repaired: feed|page
    skipped: Counter = field(default_factory=Counter)
    retry_after: float | None = None  # the host asked us to wait this long
    hints: dict = field(default_factory=dict)  # ttl, update_period, max_age: seconds
    fetch_seconds: list = field(default_factory=list)  # per HTTP exchange (feed and pages)
    extract_seconds: list = field(default_factory=list)  # per page extraction
    seconds: float = 0.0
    saved: bool = True  # the feed's state after the poll reached the store
    hub: str | None = None  # the WebSub hub the feed named (links or Link header), when read
    topic: str | None = None  # its own URL as it named it (rel="self"), when read

    @property
    def near_duplicates(self) -> int:
        """Copies of a story already known (marked, or dropped)."""
        return len(self.story_sizes)

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES

    @property
    def texts_repaired(self) -> int:
        return sum(self.repaired.values())

    def fail(self, kind: str, message: str) -> PollResult:
        self.outcome, self.error_kind, self.error = "failed", kind, message
        return self


@dataclass(repr=False)
class RunStats:
    """Totals of one `ingest fetch` run (or of the daemon's lifetime)."""

    results: list[PollResult] = field(default_factory=list)
    seconds: float = 0.0
    recovered: int = 0  # records found on disk at start that the store did not know
    near_duplicate_action: str = "marked"  # "marked" or "dropped": what dedup.action does

    def __repr__(self) -> str:
        # Short: asyncio.run formats the repr of its result on the way out, and the
        # generated one would spell out every PollResult of the run.
        return f"RunStats({len(self.results)} polls, {self.seconds:.1f}s)"

    def add(self, result: PollResult) -> None:
        self.results.append(result)

    @property
    def failed(self) -> list[PollResult]:
        return [r for r in self.results if not r.ok]

    def total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.results)

    def skipped(self) -> Counter:
        total: Counter = Counter()
        for r in self.results:
            total.update(r.skipped)
        return total

    def summary(self) -> str:
        outcomes = Counter(r.outcome for r in self.results)
        ok = outcomes["new"] + outcomes["nothing_new"]
        not_modified = outcomes["not_modified"] + outcomes["unchanged"]
        lines = [
            f"feeds: {ok} ok, {not_modified} not modified, {len(self.failed)} failed",
            f"articles: {self.total('written')} written, {self.total('already_seen')} already seen, "
            f"{self.total('duplicates')} duplicates dropped, {self.total('deferred')} left for "
            f"a later run",
            f"footers removed: {self.total('footers_removed')}; page requests: "
            f"{self.total('pages')}{self._saved()}; {self.seconds:.1f}s",
        ]
        skipped = self.skipped()
        if skipped:
            lines.append("skipped: " + ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())))
        if self.total("texts_repaired"):
            lines.append(f"mojibake repaired: {self.total('texts_repaired')} texts")
        if self.total("near_duplicates"):
            lines.append(f"near-duplicates: {self.total('near_duplicates')} of stories already "
                         f"known ({self.near_duplicate_action})")
        if self.recovered:
            lines.append(f"recovered: {self.recovered} records written before a crash")
        lines += self._failures()
        return "\n".join(lines)

    def _saved(self) -> str:
        saved = self.total("pages_saved")
        return f" ({saved} saved: the feed carried the article)" if saved else ""

    def _failures(self) -> list[str]:
        """One line per failed feed, its URL shown without secrets (the summary goes to
        cron mails and CI logs)."""
        failed = self.failed
        redact = redactor_for(tuple(sorted({r.feed.url for r in failed})))
        lines = []
        for r in failed:
            error = redact(r.error or r.error_kind or "failed")
            shown = redact_url(r.feed.url)
            where = "" if shown in error else f" ({shown})"
            lines.append(f"FAILED {r.feed.name}{where}: {error}")
        return lines
