"""`ingest status` (and `ingest footers`) from the state store, also while another
ingest process holds the store's lock."""

import json
import re
import time

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, write_config
from ingest.cli import status
from ingest.config.load import load_config
from ingest.models import FeedState
from ingest.state.sqlite import SqliteStore

NO_WAIT = {"INGEST_STATE_LOCK_TIMEOUT": "0"}


def test_status_table_and_json_beside_a_lock_holder(tmp_path):
    with FaultServer() as server:
        feeds = add_small_site(server, feeds=2) + [("down", server.url("/status/500"))]
        config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1})
        fresh = run_cli("status", "--config", str(config))  # no state store yet
        assert fresh.returncode == 0, fresh.stderr
        assert fresh.stdout.endswith("\n3 feeds: 0 failing, 0 stale, 3 never polled\n")
        fetch = run_cli("fetch", "--config", str(config), "--feed", "small-0", "--feed", "down")
        assert fetch.returncode == 1 and "FAILED down" in fetch.stderr

    # Another process (this test) holds the store, as `ingest run` would.
    holder = SqliteStore(tmp_path / "state" / "state.sqlite", lock_timeout=0)
    try:
        blocked = run_cli("fetch", "--config", str(config), env=NO_WAIT)
        assert blocked.returncode == 1 and "held by another ingest process" in blocked.stderr
        table = run_cli("status", "--config", str(config), env=NO_WAIT)
        as_json = run_cli("status", "--json", "--config", str(config), env=NO_WAIT)
        footers = run_cli("footers", "--config", str(config), env=NO_WAIT)
    finally:
        holder.close()

    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["FEED", "LAST POLL", "LAST OK", "FAILS", "NEXT POLL",
                                             "ARTICLES", "STALE", "LAST ERROR"]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert re.search(r"^small-0\s+\d+s ago\s+\d+s ago\s+0\s+-\s+3\s+no\s+-$", rows["small-0"])
    assert re.search(r"^down\s+\d+s ago\s+never\s+1\s+-\s+0\s+no\s+.*HTTP 500$", rows["down"])
    assert re.search(r"^small-1\s+never polled", rows["small-1"])
    assert lines[-1] == "3 feeds: 0 failing, 0 stale, 1 never polled"

    assert as_json.returncode == 0, as_json.stderr
    by_name = {row["feed"]: row for row in json.loads(as_json.stdout)}
    assert list(by_name) == ["small-0", "small-1", "down"]
    ok, down, never = by_name["small-0"], by_name["down"], by_name["small-1"]
    assert ok["polled"] and ok["articles_written"] == 3 and ok["failures"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ok["last_success_at"])
    assert ok["stale"] is False and ok["last_error"] is None and ok["configured"] is True
    assert down["failures"] == 1 and "HTTP 500" in down["last_error"]
    assert down["last_success_at"] is None and down["failing"] is False
    assert never["polled"] is False and never["last_poll_at"] is None

    assert footers.returncode == 0, footers.stderr

    # A feed dropped from the config still shows, marked as such.
    smaller = write_config(tmp_path / "smaller.yaml", [("down", down["url"])])
    proc = run_cli("status", "--config", str(smaller))
    assert proc.returncode == 0 and f"{ok['url']} (not in config)" in proc.stdout


def test_stale_means_no_new_item_for_four_expected_intervals(tmp_path):
    config = write_config(tmp_path / "config.yaml", [("a", "https://a.example/rss"),
                                                     ("b", "https://b.example/rss")],
                          schedule={"interval": "1h"})
    cfg = load_config(config, env={})
    now = 1_764_000_000.0
    states = [FeedState(url="https://a.example/rss", last_poll_at=now, last_new_at=now - 5 * 3600),
              FeedState(url="https://b.example/rss", last_poll_at=now, last_new_at=now - 3 * 3600)]
    rows = status.feed_rows(cfg, states, now)
    assert [(r["feed"], r["stale"]) for r in rows] == [("a", True), ("b", False)]
    table = status.render_table(rows, now)
    assert "a  " in table and "stale" in table.splitlines()[1]
    assert table.splitlines()[-1] == "2 feeds: 0 failing, 1 stale, 0 never polled"
    never = status.render_table(status.feed_rows(cfg, [], time.time()), now).splitlines()
    assert [line.split()[1:3] for line in never[1:-1]] == [["never", "polled"]] * 2


def test_a_feed_scheduled_long_ago_and_never_polled_is_stale_in_the_table_too(tmp_path):
    config = write_config(tmp_path / "config.yaml", [("a", "https://a.example/rss")],
                          schedule={"interval": "1h"})
    cfg = load_config(config, env={})
    now = 1_764_000_000.0
    state = FeedState(url="https://a.example/rss", next_poll_at=now - 5 * 3600,
                      extra={"since": now - 5 * 3600})
    rows = status.feed_rows(cfg, [state], now)
    assert rows[0]["polled"] is False and rows[0]["stale"] is True
    lines = status.render_table(rows, now).splitlines()
    assert re.split(r"\s{2,}", lines[1]) == ["a", "never polled", "-", "-", "-", "-", "stale"]
    assert lines[-1] == "1 feeds: 0 failing, 1 stale, 1 never polled"
