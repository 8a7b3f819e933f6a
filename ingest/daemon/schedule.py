"""When each feed is polled next: pure functions of feed state, poll result and ``now``.

The state store is the schedule (every feed has a ``next_poll_at``); the daemon
only applies what these functions decide. After a poll, the next interval is:

    failed        base x 2^(failures-1), at least Retry-After; max_interval once failing
    new items     previous / (1 + new/4)        more new items -> sooner
    nothing new   previous x 1.25               304, same bytes, or only seen entries
    then          raised to the feed's hints (<ttl>, sy:updatePeriod, max-age/Expires;
                  max_interval for a feed a WebSub hub pushes)
                  and clamped to [min_interval, max_interval]: the clamp wins over hints

plus +-10 % jitter (never earlier than a Retry-After). Feeds without a schedule
(new ones, or whose base interval changed) get first polls spread evenly over a
window that grows with their number. Per-feed bookkeeping lives in
``FeedState.extra``: ``hints``, ``base``, ``since`` and ``failing``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from ingest.config.model import ScheduleConfig
from ingest.models import Feed, FeedState
from ingest.pipeline.outcomes import PollResult

JITTER = 0.10  # +- fraction of every computed interval
GROW, NEW_ITEMS_HALVING = 1.25, 4  # nothing new: x1.25; 4 new items: /2
FIRST_POLLS_PER_SECOND = 4.0  # spread of first polls: 1,000 new feeds over 250 s
REFRESH_EVERY = 86400.0  # one unconditional fetch a day per feed
HINTS = ("ttl", "update_period", "max_age", "websub")  # websub: a pushed feed's floor


def clamp(seconds: float, sched: ScheduleConfig) -> float:
    return min(sched.max_interval, max(sched.min_interval, seconds))


def base_interval(feed: Feed, sched: ScheduleConfig) -> float:
    """The feed's own interval, else the schedule's, within the bounds."""
    return clamp(feed.interval or sched.interval, sched)


def adapt(previous: float, new_items: int) -> float:
    """The observed rate of new items moves the interval (before hints and clamp)."""
    if new_items > 0:
        return previous / (1 + new_items / NEW_ITEMS_HALVING)
    return previous * GROW


def hint_floor(hints: Mapping[str, float | None]) -> float:
    """The longest of the freshness hints the feed and its server gave (0 if none)."""
    return max((float(value) for k in HINTS if (value := hints.get(k))), default=0.0)


def error_interval(base: float, failures: int, sched: ScheduleConfig,
                   retry_after: float | None = None) -> float:
    """Exponential backoff; a Retry-After is honoured; failing feeds wait max_interval."""
    if failures >= sched.failing_after:
        return sched.max_interval
    backoff = base * 2 ** min(max(failures - 1, 0), 30)
    return clamp(max(backoff, retry_after or 0.0), sched)


def ok_interval(previous: float, new_items: int, hints: Mapping[str, float | None],
                sched: ScheduleConfig) -> float:
    """The adaptive interval after a successful poll: rate, then hints, then the clamp."""
    return clamp(max(adapt(previous, new_items), hint_floor(hints)), sched)


def jittered(seconds: float, sched: ScheduleConfig, rng: random.Random,
             not_before: float = 0.0) -> float:
    """``seconds`` +- JITTER, kept within the bounds and never below ``not_before``."""
    value = seconds * (1 + rng.uniform(-JITTER, JITTER))
    floor = min(sched.max_interval, max(sched.min_interval, not_before))
    return min(sched.max_interval, max(floor, value))


def new_items(result: PollResult) -> int:
    """Entries that were new this poll (written or skipped for good)."""
    skipped = sum(n for reason, n in result.skipped.items() if reason != "no_link_or_guid")
    return result.written + skipped


def merge_hints(old: Mapping, result: PollResult) -> dict:
    """Hints to keep: a body replaces them, a 304 or a failure keeps the last known."""
    fresh = {k: v for k, v in result.hints.items() if k in HINTS and v}
    if result.outcome in ("new", "nothing_new"):
        return fresh
    if result.outcome == "unchanged":  # same body (not parsed again): header hints only
        kept = {k: v for k, v in old.items() if k in ("ttl", "update_period")}
        return {**kept, **fresh}
    return dict(old)


def wants_refresh(state: FeedState, now: float) -> bool:
    """True when the daily unconditional fetch is due."""
    return state.last_unconditional_at is None or now - state.last_unconditional_at >= REFRESH_EVERY


@dataclass(frozen=True)
class Change:
    """What a poll changed that is worth a log line."""

    wait: float  # seconds until the next poll
    became_failing: bool = False
    recovered: bool = False


def plan_after_poll(state: FeedState, result: PollResult, base: float, sched: ScheduleConfig,
                    now: float, rng: random.Random, *, unconditional: bool = False,
                    pushed: bool = False) -> Change:
    """Set ``state``'s next poll from what the poll found (``state`` as the pipeline left it).
    ``pushed``: a WebSub hub pushes the feed, the poll is only its safety net, every
    max_interval (a floor like the hints', never stored with them)."""
    was_failing = bool(state.extra.get("failing"))
    hints = merge_hints(state.extra.get("hints", {}), result)
    previous = state.interval or base
    if result.ok:
        floor = {**hints, "websub": sched.max_interval} if pushed else hints
        state.interval = ok_interval(previous, new_items(result), floor, sched)
        wait = jittered(state.interval, sched, rng)
        if unconditional:
            state.last_unconditional_at = now
    else:
        retry = min(result.retry_after, sched.max_interval) if result.retry_after else 0.0
        wait = jittered(error_interval(base, state.failures, sched, retry), sched, rng,
                        not_before=retry)
    failing = not result.ok and is_failing(state, sched)
    state.extra.update(hints=hints, base=base, failing=failing)
    state.extra.setdefault("since", now)
    state.next_poll_at = now + wait
    return Change(wait, became_failing=failing and not was_failing,
                  recovered=was_failing and not failing)


# -- feeds without a schedule ---------------------------------------------------------


def needs_plan(state: FeedState, base: float, sched: ScheduleConfig, now: float) -> bool:
    """New or unscheduled feeds, changed base intervals, and schedules beyond max_interval."""
    if state.next_poll_at is None or state.extra.get("base") != base:
        return True
    return state.next_poll_at > now + sched.max_interval * (1 + JITTER)


def spread(count: int, now: float, window: float, rng: random.Random) -> list[float]:
    """``count`` start times over ``[now, now + window)``, one in each equal slice."""
    if count <= 0:
        return []
    width = window / count
    return [now + width * (i + rng.random()) for i in range(count)]


def first_poll_window(count: int, sched: ScheduleConfig) -> float:
    """Long enough that first polls come at FIRST_POLLS_PER_SECOND, at most one interval."""
    return min(sched.interval, count / FIRST_POLLS_PER_SECOND)


def plan_first_poll(state: FeedState, base: float, sched: ScheduleConfig, slot: float,
                    rng: random.Random) -> None:
    """Schedule a feed from ``slot``, or one base interval after its last poll if later."""
    state.interval = base
    start = slot
    if state.last_poll_at is not None:
        start = max(slot, state.last_poll_at + jittered(base, sched, rng))
    state.next_poll_at = min(start, slot + sched.max_interval)
    state.extra["base"] = base
    state.extra.setdefault("since", slot)


def plan_first_polls(pending: list[tuple[FeedState, float]], sched: ScheduleConfig, now: float,
                     rng: random.Random) -> float:
    """Give each ``(state, base interval)`` its first poll, spread; return the window."""
    window = first_poll_window(len(pending), sched)
    for (state, base), slot in zip(pending, spread(len(pending), now, window, rng),
                                    strict=True):
        plan_first_poll(state, base, sched, slot, rng)
    return window


def is_failing(state: FeedState, sched: ScheduleConfig) -> bool:
    """Flagged failing: `failing_after` failures in a row (still tried at max_interval)."""
    return state.failures >= sched.failing_after

