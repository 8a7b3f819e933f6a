"""One feed's health, judged once: `ingest status --json`, the daemon's /status survey and
its ``ingest_feeds_stale``/``ingest_feeds_failing`` gauges agree on stale and failing."""

from __future__ import annotations

import json
import time

import pytest

from helpers.cli import run_cli
from helpers.newssite import write_config
from ingest.config.load import load_config
from ingest.daemon import feed_health, metrics
from ingest.models import FeedState
from ingest.state.sqlite import SqliteStore

M, H = 60.0, 3600.0


@pytest.mark.parametrize("last_new, since, interval, now, expected", [
    (None, None, 15 * M, 10 * H, False),        # never scheduled
    (0.0, None, 15 * M, 59 * M, False),
    (0.0, None, 15 * M, 61 * M, True),          # 4 expected intervals without a new item
    (None, 0.0, 1 * H, 5 * H, True),            # never anything new since scheduled
    (0.0, None, 6 * H, 20 * H, False),          # quiet feeds are judged by their own pace
    (None, 0.0, None, 61 * M, True),            # no adaptive interval yet: the base one
])
def test_is_stale(last_new, since, interval, now, expected):
    extra = {} if since is None else {"since": since}
    state = FeedState(url="u", last_new_at=last_new, interval=interval, extra=extra)
    assert feed_health.is_stale(state, 15 * M, now) is expected


def edge_cases(now: float) -> dict[str, tuple[dict | None, bool, bool]]:
    """Feed name -> (its stored state, or None for none; stale; failing), interval 1h."""
    polled = {"last_poll_at": now - M, "interval": H}
    failed = {**polled, "failures": 5, "last_error": "HTTP 500"}
    return {
        "never-scheduled": (None, False, False),
        "never-polled": ({"next_poll_at": now - 5 * H, "interval": H,
                          "extra": {"since": now - 5 * H, "base": H}}, True, False),
        "polled-never-new": ({**polled, "extra": {"since": now - 5 * H}}, True, False),
        "polled-never-new-lately": ({**polled, "extra": {"since": now - 2 * H}}, False, False),
        "quiet": ({**polled, "last_new_at": now - 5 * H}, True, False),
        "fresh": ({**polled, "last_new_at": now - 3 * H}, False, False),
        "quiet-at-its-own-pace": ({**polled, "interval": 6 * H, "last_new_at": now - 20 * H},
                                  False, False),
        "failing": ({**failed, "last_new_at": now - H}, False, True),
        "failing-and-quiet": ({**failed, "last_new_at": now - 10 * H}, True, True),
    }


def test_status_json_and_the_daemons_survey_agree_on_stale_and_failing(tmp_path):
    now = time.time()
    cases = edge_cases(now)
    urls = {name: f"http://127.0.0.1:9/{name}.xml" for name in cases}
    config = write_config(tmp_path / "config.yaml", list(urls.items()),
                          schedule={"interval": "1h"})
    cfg = load_config(config, env={})
    store = SqliteStore(cfg.state.path)
    for name, (fields, _, _) in cases.items():
        if fields is not None:
            store.put_feed(FeedState(url=urls[name], **fields))
    store.close()

    proc = run_cli("status", "--json", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    by_status = {row["feed"]: (row["stale"], row["failing"]) for row in json.loads(proc.stdout)}
    store = SqliteStore(cfg.state.path)
    try:
        survey = metrics.survey(list(cfg.feeds), store, cfg.schedule, time.time())
    finally:
        store.close()
    by_daemon = {row["feed"]: (row["stale"], row["failing"]) for row in survey}

    expected = {name: (stale, failing) for name, (_, stale, failing) in cases.items()}
    assert by_status == expected
    assert by_daemon == expected
    gauges = metrics.Metrics()
    gauges.record(survey)
    assert gauges.stale._value.get() == sum(stale for stale, _ in expected.values())
    assert gauges.failing._value.get() == sum(failing for _, failing in expected.values())
