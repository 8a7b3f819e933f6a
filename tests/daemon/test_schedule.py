"""The schedule policy as pure functions: intervals, hints, backoff, jitter, first polls."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ingest.config.model import ScheduleConfig
from ingest.daemon import schedule
from ingest.models import Feed, FeedState
from ingest.pipeline.outcomes import PollResult

M, H = 60.0, 3600.0
SCHED = ScheduleConfig(interval=15 * M, min_interval=2 * M, max_interval=6 * H, failing_after=5)
FEED = Feed("f", "http://127.0.0.1/feed.xml")


def result(outcome="nothing_new", written=0, hints=None, kind=None, retry_after=None,
           skipped=None) -> PollResult:
    r = PollResult(feed=FEED, outcome=outcome, written=written, hints=dict(hints or {}),
                   retry_after=retry_after)
    r.skipped.update(skipped or {})
    if outcome == "failed":
        r.fail(kind or "http_500", "http://127.0.0.1/feed.xml: HTTP 500")
        r.retry_after = retry_after
    return r


@pytest.mark.parametrize("previous, new, hints, expected", [
    (15 * M, 0, {}, 18.75 * M),                       # nothing new: later
    (15 * M, 4, {}, 7.5 * M),                         # 4 new items: twice as often
    (15 * M, 1, {}, 12 * M),                          # 1 new item: a little sooner
    (15 * M, 40, {}, 2 * M),                          # a flood: down to min_interval
    (5 * H, 0, {}, 6 * H),                            # growth stops at max_interval
    (15 * M, 4, {"ttl": 60 * M}, 60 * M),             # <ttl> is a lower bound
    (15 * M, 4, {"update_period": 30 * M}, 30 * M),   # sy:updatePeriod too
    (15 * M, 4, {"max_age": 20 * M, "ttl": 10 * M}, 20 * M),  # the longest hint wins
    (15 * M, 0, {"ttl": 24 * H}, 6 * H),              # the clamp wins over a hint
    (15 * M, 40, {"max_age": 30.0}, 2 * M),           # ... in both directions
    (15 * M, 0, {"ttl": None, "max_age": 0}, 18.75 * M),  # absent hints are ignored
])
def test_ok_interval(previous, new, hints, expected):
    assert schedule.ok_interval(previous, new, hints, SCHED) == pytest.approx(expected)


@pytest.mark.parametrize("failures, retry_after, expected", [
    (1, None, 15 * M),           # first failure: one base interval
    (2, None, 30 * M),           # then doubling
    (4, None, 2 * H),
    (3, 3 * H, 3 * H),           # Retry-After longer than the backoff is honoured
    (1, 60.0, 15 * M),           # ... and shorter is not a reason to come back sooner
    (2, 48 * H, 6 * H),          # capped at max_interval
    (5, None, 6 * H),            # failing (failing_after=5): max_interval
    (50, None, 6 * H),
])
def test_error_interval(failures, retry_after, expected):
    assert schedule.error_interval(15 * M, failures, SCHED, retry_after) == pytest.approx(expected)


def test_error_backoff_never_goes_below_min_interval():
    assert schedule.error_interval(1.0, 1, SCHED) == SCHED.min_interval


@pytest.mark.parametrize("interval, not_before", [
    (15 * M, 0.0), (SCHED.min_interval, 0.0), (SCHED.max_interval, 0.0), (15 * M, 16 * M),
    (10 * M, 7 * H),
])
def test_jitter_is_bounded_and_deterministic(interval, not_before):
    rng = random.Random(7)
    values = [schedule.jittered(interval, SCHED, rng, not_before) for _ in range(2000)]
    floor = min(SCHED.max_interval, max(SCHED.min_interval, not_before))
    lo = max(floor, interval * (1 - schedule.JITTER))
    hi = max(floor, min(SCHED.max_interval, interval * (1 + schedule.JITTER)))
    assert all(lo <= v <= hi for v in values)
    assert values == [schedule.jittered(interval, SCHED, r, not_before)
                      for r in [random.Random(7)] for _ in range(2000)]
    if lo < hi:
        assert len(set(values)) > 200  # really jittered, not a constant


def test_plan_after_new_items_sets_interval_hints_and_next_poll():
    state = FeedState(url=FEED.url, interval=15 * M)
    change = schedule.plan_after_poll(state, result("new", written=4, hints={"ttl": 5 * M}),
                                      15 * M, SCHED, 1000.0, random.Random(1))
    assert state.interval == pytest.approx(7.5 * M)
    assert state.extra["hints"] == {"ttl": 5 * M}
    assert 0.9 * 7.5 * M <= change.wait <= 1.1 * 7.5 * M
    assert state.next_poll_at == pytest.approx(1000.0 + change.wait)
    assert state.last_unconditional_at is None


def test_a_304_still_honours_the_last_known_hints():
    state = FeedState(url=FEED.url, interval=15 * M,
                      extra={"hints": {"ttl": 2 * H, "max_age": 10 * M}})
    schedule.plan_after_poll(state, result("not_modified"), 15 * M, SCHED, 0.0, random.Random(1))
    assert state.interval == 2 * H and state.extra["hints"] == {"ttl": 2 * H, "max_age": 10 * M}


def test_same_bytes_keep_feed_hints_and_take_new_header_hints():
    state = FeedState(url=FEED.url, extra={"hints": {"ttl": 2 * H, "max_age": 10 * M}})
    schedule.plan_after_poll(state, result("unchanged", hints={"max_age": 30 * M}), 15 * M,
                             SCHED, 0.0, random.Random(1))
    assert state.extra["hints"] == {"ttl": 2 * H, "max_age": 30 * M}


def test_a_new_body_replaces_the_hints():
    state = FeedState(url=FEED.url, extra={"hints": {"ttl": 2 * H}})
    schedule.plan_after_poll(state, result("nothing_new"), 15 * M, SCHED, 0.0, random.Random(1))
    assert state.extra["hints"] == {}


def test_retry_after_is_never_shortened_by_jitter():
    for seed in range(200):
        state = FeedState(url=FEED.url, failures=1)
        change = schedule.plan_after_poll(state, result("failed", retry_after=40 * M), 15 * M,
                                          SCHED, 0.0, random.Random(seed))
        assert 40 * M <= change.wait <= 44 * M


def test_failing_is_flagged_once_and_cleared_on_success():
    state = FeedState(url=FEED.url, failures=4)
    first = schedule.plan_after_poll(state, result("failed"), 15 * M, SCHED, 0.0,
                                     random.Random(1))
    assert not first.became_failing and not state.extra["failing"]
    state.failures = 5
    change = schedule.plan_after_poll(state, result("failed"), 15 * M, SCHED, 0.0,
                                      random.Random(1))
    assert change.became_failing and state.extra["failing"]
    assert 0.9 * 6 * H <= change.wait <= 6 * H  # kept being tried, at max_interval
    state.failures = 6
    again = schedule.plan_after_poll(state, result("failed"), 15 * M, SCHED, 0.0,
                                     random.Random(1))
    assert not again.became_failing
    state.failures = 0  # the pipeline resets it on success
    back = schedule.plan_after_poll(state, result("nothing_new"), 15 * M, SCHED, 0.0,
                                    random.Random(1))
    assert back.recovered and not state.extra["failing"]


@pytest.mark.parametrize("last, now, expected", [
    (None, 1000.0, True), (0.0, 86399.0, False), (0.0, 86400.0, True),
])
def test_daily_unconditional_fetch(last, now, expected):
    assert schedule.wants_refresh(FeedState(url=FEED.url, last_unconditional_at=last), now) \
        is expected


def test_a_successful_unconditional_poll_is_remembered_a_failed_one_is_not():
    state = FeedState(url=FEED.url)
    schedule.plan_after_poll(state, result("failed"), 15 * M, SCHED, 50.0, random.Random(1),
                             unconditional=True)
    assert state.last_unconditional_at is None
    schedule.plan_after_poll(state, result("new", written=1), 15 * M, SCHED, 90.0,
                             random.Random(1), unconditional=True)
    assert state.last_unconditional_at == 90.0


def test_new_items_ignore_entries_without_link_or_guid():
    r = result("new", written=2, skipped={"no_text": 1, "no_link_or_guid": 5})
    assert schedule.new_items(r) == 3


def test_first_polls_of_1000_new_feeds_are_spread():
    now, rng = 1_000_000.0, random.Random(3)
    window = schedule.first_poll_window(1000, SCHED)
    assert window == 250.0  # FIRST_POLLS_PER_SECOND = 4
    slots = schedule.spread(1000, now, window, rng)
    assert all(now <= s < now + window for s in slots)
    per_second = Counter(int(s - now) for s in slots)
    assert len(per_second) == 250 and max(per_second.values()) <= 5
    assert slots == schedule.spread(1000, now, window, random.Random(3))


def test_a_few_new_feeds_start_almost_at_once_but_never_past_one_interval():
    assert schedule.first_poll_window(2, SCHED) == 0.5
    assert schedule.first_poll_window(10**6, SCHED) == SCHED.interval


def test_first_poll_waits_one_interval_after_a_recent_poll():
    rng = random.Random(5)
    fresh = FeedState(url=FEED.url)
    schedule.plan_first_poll(fresh, 15 * M, SCHED, slot=100.0, rng=rng)
    assert fresh.next_poll_at == 100.0 and fresh.interval == 15 * M
    polled = FeedState(url=FEED.url, last_poll_at=50.0)  # by `ingest fetch`, say
    schedule.plan_first_poll(polled, 15 * M, SCHED, slot=100.0, rng=rng)
    assert 50.0 + 0.9 * 15 * M <= polled.next_poll_at <= 50.0 + 1.1 * 15 * M


@pytest.mark.parametrize("state, base, expected", [
    (FeedState(url="u"), 15 * M, True),                                          # new
    (FeedState(url="u", next_poll_at=500.0, extra={"base": 15 * M}), 15 * M, False),
    (FeedState(url="u", next_poll_at=500.0, extra={"base": 15 * M}), 5 * M, True),  # re-timed
    (FeedState(url="u", next_poll_at=30 * H, extra={"base": 15 * M}), 15 * M, True),  # > max
])
def test_needs_plan(state, base, expected):
    assert schedule.needs_plan(state, base, SCHED, 0.0) is expected


@pytest.mark.parametrize("feed_interval, expected", [
    (None, 15 * M), (30 * M, 30 * M), (10.0, 2 * M), (48 * H, 6 * H),
])
def test_base_interval_is_the_feeds_or_the_schedules_within_bounds(feed_interval, expected):
    feed = Feed("f", "http://127.0.0.1/f.xml", interval=feed_interval)
    assert schedule.base_interval(feed, SCHED) == expected
