"""One feed's health, the same wherever it shows: `ingest status` and the daemon's /status,
``ingest_feeds_stale``/``ingest_feeds_failing`` and the "feed ... is stale" log line.

    failing   ``schedule.failing_after`` failures in a row (`schedule.is_failing`)
    stale     no new item for more than STALE_INTERVALS (4) expected intervals (the feed's
              adaptive interval, else its base interval), counted from its last new item,
              else from when the daemon first scheduled it (``FeedState.extra["since"]``).
              Stale speaks of items, not polls: a feed scheduled long ago and never polled
              since has brought nothing new either. A feed with no item that the daemon
              never scheduled is not called stale: there is nothing to count from.

URLs show as `redact_url` gives them (no userinfo, no query values); errors pass through
`health_redactor`, which knows the feeds' URLs and the ops server's token: what the store
holds is redacted again on the way out, whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ingest.config.model import ScheduleConfig
from ingest.daemon import schedule
from ingest.models import Feed, FeedState
from ingest.redact import Redactor, redact_url, redactor_for

STALE_INTERVALS = 4  # no new item for this many expected intervals -> stale


def quiet_since(state: FeedState) -> float | None:
    """Since when the feed has brought nothing new; None if it never did and was never
    scheduled."""
    return state.last_new_at if state.last_new_at is not None else state.extra.get("since")


def is_stale(state: FeedState, base: float, now: float) -> bool:
    """No new item for STALE_INTERVALS expected intervals (the adaptive one)."""
    since = quiet_since(state)
    if since is None:
        return False
    return now - since > STALE_INTERVALS * (state.interval or base)


def health_redactor(urls: Iterable[str], token: str | None) -> Redactor:
    """The redactor for errors shown beside these feeds: their URLs' secrets and the token.
    Shared between calls with the same URLs (/status builds one on every request)."""
    return redactor_for(tuple(sorted(set(urls))), (token,))


@dataclass(frozen=True)
class FeedHealth:
    """What the state store says of one feed, judged and redacted."""

    state: FeedState
    url: str  # the display form
    polled: bool
    failing: bool
    stale: bool
    quiet_since: float | None
    last_error: str | None  # redacted


def feed_health(feed: Feed, state: FeedState | None, sched: ScheduleConfig, now: float,
                redact: Redactor) -> FeedHealth:
    """The health of ``feed`` from its ``state`` (None: the store has never seen it)."""
    state = state or FeedState(url=feed.url)
    error = redact(state.last_error) if state.last_error is not None else None
    return FeedHealth(
        state=state, url=redact_url(feed.url), polled=state.last_poll_at is not None,
        failing=schedule.is_failing(state, sched),
        stale=is_stale(state, schedule.base_interval(feed, sched), now),
        quiet_since=quiet_since(state), last_error=error)
