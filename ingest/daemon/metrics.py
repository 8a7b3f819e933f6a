"""What operators see of the daemon: Prometheus metrics, the per-feed survey, log lines.

`Metrics` lives in a registry of its own (never the global one): `observe`
counts one PollResult, `record` sets the feed gauges from a `survey` (also the
``/status`` document), and `render` gives the text format for ``/metrics``.
`log_poll` writes the one line per poll: ``poll ansa-mondo: failed (http_503): ...``;
`log_newly_stale` one line per feed that turned stale since the last survey.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ingest.config.model import ScheduleConfig
from ingest.daemon import schedule
from ingest.daemon.feed_health import feed_health, health_redactor
from ingest.models import Feed, FeedState
from ingest.pipeline.outcomes import PollResult
from ingest.state.store import Store
from ingest.units import format_duration

log = logging.getLogger("ingest.poll")
daemon_log = logging.getLogger("ingest.daemon")

_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_STORY_SIZES = (2, 3, 5, 10, 20, 50, 100, 500)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.polls = Counter("ingest_polls", "Feed polls by outcome; kind is the failure's kind",
                             ["outcome", "kind"], registry=r)
        self.written = Counter("ingest_articles_written", "Articles written", registry=r)
        self.skipped = Counter("ingest_articles_skipped", "New entries skipped, by reason",
                               ["reason"], registry=r)
        self.duplicates = Counter("ingest_duplicates", "Entries dropped as duplicates",
                                  registry=r)
        self.footers = Counter("ingest_footers_removed", "Footer lines removed", registry=r)
        self.pages_saved = Counter("ingest_pages_saved", "Page requests saved: entries whose "
                                   "feed text was the article (extract.feed_content)",
                                   registry=r)
        self.repairs = Counter("ingest_text_repairs", "Texts whose mojibake was repaired, by "
                               "where they came from (feed or page)", ["where"], registry=r)
        for where in ("feed", "page"):  # both series from the start, at 0
            self.repairs.labels(where)
        self.near_duplicates = Counter(
            "ingest_near_duplicates", "Records of a story already known (near-duplicates), "
            "written as marked or dropped as dedup.action says", registry=r)
        self.story_size = Histogram(
            "ingest_story_size", "Records of a story (in dedup.window) when a near-duplicate "
            "joins it", buckets=_STORY_SIZES, registry=r)
        self.extract = Histogram("ingest_extract_seconds", "Extraction time per page",
                                 buckets=_SECONDS, registry=r)
        self.http = Histogram("ingest_http_seconds", "HTTP exchange latency (feeds and pages)",
                              buckets=_SECONDS, registry=r)
        self.last_success = Gauge("ingest_feed_last_success_timestamp_seconds",
                                  "Last successful poll of a feed (Unix time)", ["feed"],
                                  registry=r)
        self.failures = Gauge("ingest_feed_consecutive_failures",
                              "Failed polls of a feed in a row", ["feed"], registry=r)
        self.stale = Gauge("ingest_feeds_stale",
                           "Feeds with no new item for several expected intervals", registry=r)
        self.failing = Gauge("ingest_feeds_failing",
                             "Feeds flagged failing (failing_after failures in a row)",
                             registry=r)
        self.in_flight = Gauge("ingest_polls_in_flight", "Polls running now", registry=r)
        self.deliveries = Counter("ingest_websub_deliveries", "WebSub deliveries by outcome "
                                  "(accepted, rejected, unknown, too_large)", ["outcome"],
                                  registry=r)
        self.subscriptions = Gauge("ingest_websub_subscriptions", "WebSub subscriptions by "
                                   "state (pending, active, unsubscribing)", ["state"],
                                   registry=r)

    def observe(self, result: PollResult, state: FeedState) -> None:
        """Count one poll and update its feed's gauges."""
        self.polls.labels(result.outcome, result.error_kind or "").inc()
        self.count_work(result)
        self.feed(result.feed.name, state)

    def count_work(self, result: PollResult) -> None:
        """Count what a poll, or a pushed delivery (`ingest.websub`), wrote and measured."""
        self.written.inc(result.written)
        for reason, count in result.skipped.items():
            self.skipped.labels(reason).inc(count)
        self.duplicates.inc(result.duplicates)
        self.footers.inc(result.footers_removed)
        self.pages_saved.inc(result.pages_saved)
        for where, count in result.repaired.items():
            self.repairs.labels(where).inc(count)
        self.near_duplicates.inc(result.near_duplicates)
        for size in result.story_sizes:
            self.story_size.observe(size)
        for seconds in result.extract_seconds:
            self.extract.observe(seconds)
        for seconds in result.fetch_seconds:
            self.http.observe(seconds)

    def feed(self, name: str, state: FeedState) -> None:
        if state.last_success_at is not None:
            self.last_success.labels(name).set(state.last_success_at)
        self.failures.labels(name).set(state.failures)

    def forget(self, name: str) -> None:
        """Drop a removed feed's labelled gauges."""
        for gauge in (self.last_success, self.failures):
            try:
                gauge.remove(name)
            except KeyError:
                pass

    def record(self, survey: list[dict]) -> None:
        """Stale and failing counts, and every feed's gauges, from `survey`."""
        self.stale.set(sum(row["stale"] for row in survey))
        self.failing.set(sum(row["failing"] for row in survey))
        for row in survey:
            if row["last_success_at"] is not None:
                self.last_success.labels(row["feed"]).set(row["last_success_at"])
            self.failures.labels(row["feed"]).set(row["failures"])

    def render(self) -> bytes:
        return generate_latest(self.registry)


def survey(feeds: list[Feed], store: Store, sched: ScheduleConfig, now: float, *,
           token: str | None = None, websub: Mapping[str, dict] | None = None) -> list[dict]:
    """One row per configured feed: its schedule, health and counts (``/status``), and
    with ``websub`` (feed URL: its subscription, when WebSub is on) whether it is pushed.

    URLs and errors show without secrets: whoever may read /status need not see them.
    """
    redact = health_redactor((feed.url for feed in feeds), token)
    states = {state.url: state for state in store.all_feeds()}  # one read, not one per feed
    leases = store.leases()
    rows = []
    for feed in feeds:
        health = feed_health(feed, states.get(feed.url), sched, now, redact)
        s = health.state
        row: dict[str, object] = {
            "feed": feed.name, "url": health.url, "polled_by": leases.get(feed.url),
            "failing": health.failing, "stale": health.stale, "failures": s.failures,
            "last_error": health.last_error,
            "last_success_at": s.last_success_at, "last_new_at": s.last_new_at,
            "quiet_since": health.quiet_since,
            "next_poll_at": s.next_poll_at, "interval": s.interval,
            "articles_written": s.articles_written}
        if websub is not None:
            row["websub"] = websub.get(feed.url)
        rows.append(row)
    return rows


def log_newly_stale(rows: list[dict], known: set[str], now: float) -> set[str]:
    """A warning for each feed of the survey ``rows`` that is stale and not in ``known``
    (the stale feeds of the last survey); the names of the stale feeds."""
    stale = {row["feed"]: row for row in rows if row["stale"]}
    for name in sorted(stale.keys() - known):
        quiet = format_duration(round(now - stale[name]["quiet_since"]))
        daemon_log.warning("feed %s is stale: no new item for %s", name, quiet)
    return set(stale)


def log_poll(result: PollResult, change: schedule.Change, failures: int,
             max_interval: float) -> None:
    name, wait = result.feed.name, format_duration(round(change.wait))
    if result.ok:
        log.info("poll %s: %s, %d written, %.1fs; next in %s", name, result.outcome,
                 result.written, result.seconds, wait)
    else:
        log.warning("poll %s: failed (%s): %s; retry in %s", name, result.error_kind,
                    result.error, wait)
    if change.became_failing:
        log.error("feed %s is failing: %d failures in a row; still tried every %s", name,
                  failures, format_duration(max_interval))
    elif change.recovered:
        log.info("feed %s recovered", name)
