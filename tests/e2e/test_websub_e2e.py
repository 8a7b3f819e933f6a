"""WebSub end to end: `ingest run` in a subprocess against the real local hub of
tests/helpers/websubhub.py, which also serves the feed (naming the hub and itself) and
its article pages. One run goes through the whole life of a subscription; a second shows
that without ``server.public_url`` the hub never hears from ingest."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.daemonrun import Run, free_port, wait_for
from helpers.newssite import HTML, Item, plain_page, read_records, write_config
from helpers.websubhub import WebSubHub, websub_rss

pytestmark = pytest.mark.timeout(90)
RSS = "application/rss+xml; charset=utf-8"
LEASE, MAX_INTERVAL = 3600, 3600  # asked of the hub; the safety net's poll interval


@pytest.fixture
def hub():
    with WebSubHub() as server:
        yield server


@pytest.fixture
def runs():
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def item(hub: WebSubHub, n: int) -> Item:
    """Article ``n``: its page served by the hub's site, its entry for a feed document."""
    hub.add(f"/a/{n}.html", plain_page(f"Articolo {n}", n), HTML)
    return Item(f"Articolo {n}", hub.url(f"/a/{n}.html"), f"g{n}")


def start(tmp_path: Path, hub: WebSubHub, runs: list[Run], *, push: bool) -> tuple[Run, str]:
    """The daemon on a free port, its one feed the hub's /feed.xml (article 1); with
    ``push``, ``server.public_url`` is the daemon's own ops address."""
    topic = hub.url("/feed.xml")
    hub.add("/feed.xml", websub_rss([item(hub, 1)], hub.hub_url, topic), {"Content-Type": RSS})
    port = free_port()
    server = {"host": "127.0.0.1", "port": port}
    if push:
        server["public_url"] = f"http://127.0.0.1:{port}/"
    config = write_config(
        tmp_path / "config.yaml", [("pushed", topic)],
        schedule={"interval": "1s", "min_interval": "1s", "max_interval": f"{MAX_INTERVAL}s",
                  "shutdown_grace": "2s"},
        server=server, websub={"lease": f"{LEASE}s"}, extract={"workers": 1})
    run = Run(config, port, tmp_path / "run.log")
    runs.append(run)
    return run, topic


def titles(out: Path) -> set[str]:
    return {r["title"] for r in read_records(out)}


def verified(hub: WebSubHub) -> list:
    return [e for e in hub.events("verify") if e.detail["ok"] and e.detail["mode"] == "subscribe"]


def test_subscribe_renew_and_take_signed_pushes_only(tmp_path, hub, runs):
    hub.grant_leases(4)  # the first subscription is granted 4 s: it must be renewed in time
    run, topic = start(tmp_path, hub, runs, push=True)
    out, base = tmp_path / "out", f"http://127.0.0.1:{run.port}/websub/"
    describe = run.tail

    # Discovery from the feed, subscription, the hub's verification of intent.
    hub.wait_for(lambda: verified(hub), 15, describe)
    first = hub.events("subscribe")[0]
    assert first.topic == topic and first.callback.startswith(base)
    assert first.detail["lease"] == str(LEASE) and len(first.detail["secret"]) == 64
    assert first.detail["content_type"].startswith("application/x-www-form-urlencoded")

    # Renewal: a new subscription (new callback, new secret) asked and verified while the
    # first one's 4 s still run; the hub then drops the first when its lease ends.
    hub.wait_for(lambda: len(verified(hub)) >= 2, 15, describe)
    renewal = hub.events("subscribe")[1]
    assert renewal.callback.startswith(base) and renewal.callback != first.callback
    assert renewal.detail["secret"] != first.detail["secret"]
    assert renewal.at < verified(hub)[0].at + 4
    hub.wait_for(lambda: [s.callback for s in hub.active(topic)] == [renewal.callback], 10)

    # A signed push of a feed document with an entry the polled feed never shows.
    assert hub.publish(topic, websub_rss([item(hub, 2)], hub.hub_url, topic), RSS) == [202]
    wait_for(lambda: "Articolo 2" in titles(out), 20, describe)

    # Unsigned and wrongly signed pushes are refused and nothing of theirs is written:
    # the signed push after them is, and they are not.
    for n, sign in ((3, None), (4, "wrong")):
        body = websub_rss([item(hub, n)], hub.hub_url, topic)
        assert hub.publish(topic, body, RSS, sign=sign) == [403]
    assert hub.publish(topic, websub_rss([item(hub, 5)], hub.hub_url, topic), RSS,
                       sign="sha512") == [202]
    wait_for(lambda: "Articolo 5" in titles(out), 20, describe)
    assert titles(out) == {"Articolo 1", "Articolo 2", "Articolo 5"}
    assert post(f"{base}unknown-callback-id", b"<rss/>") == 404

    # The feed shows as pushed, is polled only at max_interval, and no secret shows.
    row = wait_for_status(run, lambda row: row["next_poll_at"] - time.time() > MAX_INTERVAL / 2)
    assert row_is_pushed(row), row
    metrics = run.get("/metrics")[1]
    assert 'ingest_websub_deliveries_total{outcome="accepted"} 2.0' in metrics
    assert 'ingest_websub_deliveries_total{outcome="rejected"} 2.0' in metrics
    assert 'ingest_websub_subscriptions{state="active"} 1.0' in metrics
    assert run.stop(timeout=10)[0] == 0
    shown = "\n".join([run.text(), json.dumps(row), metrics,
                       *(p.read_text() for p in out.rglob("*.jsonl"))])
    for event in hub.events("subscribe"):
        assert event.detail["secret"] not in shown


def test_without_public_url_the_hub_hears_nothing(tmp_path, hub, runs):
    run, _ = start(tmp_path, hub, runs, push=False)
    wait_for(lambda: titles(tmp_path / "out") == {"Articolo 1"}, 15, run.tail)
    # A second poll starts a second after the first one ended, which is when a
    # subscription would have been asked for.
    wait_for(lambda: hub.hits("/feed.xml") >= 2, 15, run.tail)
    assert run.stop(timeout=10)[0] == 0
    assert hub.events() == [] and hub.hits("/hub") == 0


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": RSS, "X-Hub-Signature": "sha256=00"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_status(run: Run, check) -> dict:
    """The /status row of the one feed once ``check(row)`` holds."""
    rows: list[dict] = []

    def ready() -> bool:
        code, text = run.get("/status")
        rows[:] = json.loads(text) if code == 200 else []
        return bool(rows) and check(rows[0])

    wait_for(ready, 15, lambda: f"{rows}\n{run.tail()}")
    return rows[0]


def row_is_pushed(row: dict) -> bool:
    return (row.get("websub") or {}).get("state") == "active"
