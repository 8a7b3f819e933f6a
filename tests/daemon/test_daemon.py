"""The daemon: dispatch, leases, shutdown and reload in-process, then `ingest run` end to end.

In-process tests drive `Daemon` with a real SqliteStore, a frozen clock and a stand-in
pipeline whose polls the test releases. End-to-end tests start the installed CLI in a
subprocess against a news site on 127.0.0.1 whose feeds answer 304 to If-None-Match.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import random
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from helpers.daemonrun import Run, free_port, wait_for
from helpers.faultserver import FaultServer
from helpers.newssite import HTML, RSS, Item, article, read_records, rss, write_config
from ingest.config.load import load_config
from ingest.daemon.housekeeping import FOOTER_LINES_KEPT
from ingest.daemon.http_server import OpsServer, Reply
from ingest.daemon.service import Daemon
from ingest.logs import setup_logging
from ingest.pipeline.outcomes import PollResult
from ingest.state.sqlite import SqliteStore

# -- in-process: the daemon around a stand-in pipeline -------------------------------


class Polls:
    """The pipeline as the daemon sees it: a store, recover(), poll_feed(); polls wait
    for ``gate`` and succeed unless their feed is in ``failing``."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.gate = asyncio.Event()
        self.calls: list[tuple[str, bool]] = []
        self.failing: set[str] = set()

    def recover(self) -> int:
        return 0

    async def poll_feed(self, feed, *, state=None, unconditional: bool = False,
                        before_save=None) -> PollResult:
        self.calls.append((feed.name, unconditional))
        await self.gate.wait()
        state = state or self.store.get_feed(feed.url)
        result = PollResult(feed=feed)
        if feed.name in self.failing:
            state.failures += 1
            result.fail("http_500", f"{feed.url}: HTTP 500")
        else:
            state.failures = 0
        if before_save is not None:
            before_save(state, result)
        self.store.put_feed(state)
        return result


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_daemon(tmp_path: Path, names, clock: Clock, monotonic: Clock | None = None,
                **schedule) -> Daemon:
    path = write_config(tmp_path / "config.yaml",
                        [(n, f"http://127.0.0.1:9/{n}.xml") for n in names],
                        schedule={"interval": "1m", "min_interval": "1m", "max_interval": "1h",
                                  **schedule}, server={"port": 0})
    cfg = load_config(path)
    store = SqliteStore(cfg.state.path, clock=clock)
    return Daemon(cfg, Polls(store), clock=clock, monotonic=monotonic or Clock(0.0),
                  rng=random.Random(4))


async def settle(daemon: Daemon) -> None:
    while len(daemon._polls):
        await asyncio.sleep(0)


def test_claiming_due_feeds_leases_them_in_one_transaction(tmp_path):
    from ingest.models import FeedState

    store = SqliteStore(tmp_path / "s.sqlite")
    for url, at in (("a", 10.0), ("b", 20.0), ("c", 99.0), ("parked", None)):
        store.put_feed(FeedState(url=url, next_poll_at=at, etag=f"e-{url}"))
    assert [f.url for f in store.claim_due_feeds(50.0, 10)] == ["a", "b"]
    assert [f.url for f in store.claim_due_feeds(50.0, 10)] == []  # leased until 350
    leased = store.get_feed("a")
    assert leased.next_poll_at == 10.0 and leased.etag == "e-a"  # the schedule is untouched
    # A lease whose poller died expires; earliest first, within the limit.
    assert [f.url for f in store.claim_due_feeds(400.0, 1)] == ["a"]
    store.put_feed(store.get_feed("b"))  # saving a feed's state ends its lease
    assert [f.url for f in store.claim_due_feeds(60.0, 10)] == ["b"]
    assert store.get_feed("parked").next_poll_at is None
    store.close()
    # Reopened (the lock proves no other process polls): stale leases are gone.
    store = SqliteStore(tmp_path / "s.sqlite")
    assert [f.url for f in store.claim_due_feeds(60.0, 10)] == ["a", "b"]
    store.close()


def test_dispatch_leases_due_feeds_within_the_concurrency_cap(tmp_path):
    clock = Clock()
    daemon = make_daemon(tmp_path, [f"f{i}" for i in range(10)], clock, concurrency=3)
    polls = daemon.pipeline

    async def scenario() -> None:
        daemon.sync_feeds()
        clock.now += 60  # first polls are spread over a few seconds: all due now
        assert daemon.dispatch() == 3 and daemon.dispatch() == 0
        until = clock.now + daemon.store.lease_seconds
        leased = sqlite3.connect(daemon.store.path).execute(
            "SELECT count(*) FROM feeds WHERE leased_until = ?", (until,)).fetchone()[0]
        assert leased == 3
        polls.gate.set()  # each finished poll frees a slot that is filled at once
        await settle(daemon)

    asyncio.run(scenario())
    assert sorted(name for name, _ in polls.calls) == sorted(f"f{i}" for i in range(10))
    assert all(unconditional for _, unconditional in polls.calls)  # the first of the day
    for state in daemon.store.all_feeds():
        assert clock.now + 67.5 <= state.next_poll_at <= clock.now + 82.5  # 1m x 1.25 +- 10 %
        assert state.last_unconditional_at == clock.now
    daemon.store.close()


def test_stop_cancels_late_polls_and_makes_their_feeds_due_again(tmp_path):
    clock = Clock()
    daemon = make_daemon(tmp_path, ["slow", "slower"], clock, shutdown_grace="100ms")

    async def scenario() -> None:
        daemon.sync_feeds()
        clock.now += 60
        assert daemon.dispatch() == 2
        await asyncio.sleep(0)
        started = time.monotonic()
        await daemon.stop()
        assert time.monotonic() - started < 1.0
        assert daemon.dispatch() == 0  # stopped: nothing new starts

    asyncio.run(scenario())
    assert [s.next_poll_at for s in daemon.store.all_feeds()] == [clock.now, clock.now]
    daemon.store.close()


def test_a_wall_clock_stepped_back_moves_the_schedule_back_with_it(tmp_path, caplog):
    """Stored poll times are wall times: a clock set back an hour would stop every poll for
    that hour (while /healthz stays green) unless the schedule moves with it."""
    wall, mono = Clock(), Clock(0.0)
    daemon = make_daemon(tmp_path, ["a"], wall, mono)
    polls = daemon.pipeline
    polls.gate.set()

    async def scenario() -> None:
        daemon.sync_feeds()
        wall.now += 60
        mono.now += 60
        assert daemon.dispatch() == 1
        await settle(daemon)
        planned = daemon.store.get_feed("http://127.0.0.1:9/a.xml").next_poll_at
        assert wall.now + 60 <= planned <= wall.now + 90  # ~1m x 1.25 +- 10 %
        mono.now += 100  # 100 s later, by a clock that was stepped back an hour meanwhile
        wall.now += 100 - 3600
        assert daemon.dispatch() == 1  # due, as it would have been without the step
        await settle(daemon)

    with caplog.at_level(logging.WARNING, logger="ingest.daemon"):
        asyncio.run(scenario())
    assert [name for name, _ in polls.calls] == ["a", "a"]
    assert "the wall clock went back 1h; 1 scheduled polls moved back with it" in caplog.text
    daemon.store.close()


def test_a_feed_flagged_failing_keeps_being_tried_at_max_interval(tmp_path, caplog):
    clock = Clock()
    daemon = make_daemon(tmp_path, ["down"], clock, failing_after=2)
    daemon.pipeline.failing.add("down")
    daemon.pipeline.gate.set()

    async def scenario() -> None:
        daemon.sync_feeds()
        for _ in range(3):
            clock.now += 3600
            assert daemon.dispatch() == 1
            await settle(daemon)

    with caplog.at_level(logging.INFO, logger="ingest"):
        asyncio.run(scenario())
    [row] = daemon.status()
    assert row["failing"] and row["failures"] == 3
    assert clock.now + 0.9 * 3600 <= row["next_poll_at"] <= clock.now + 3600
    assert daemon.metrics.failing._value.get() == 1
    assert sum("feed down is failing" in r.message for r in caplog.records) == 1
    assert "poll down: failed (http_500)" in caplog.text
    daemon.store.close()


def test_reload_applies_feeds_and_keeps_the_old_config_when_the_new_one_is_bad(tmp_path, caplog):
    clock = Clock()
    daemon = make_daemon(tmp_path, ["a", "b"], clock)
    daemon.sync_feeds()
    write_config(tmp_path / "config.yaml", [("a", "http://127.0.0.1:9/a.xml"),
                                            ("c", "http://127.0.0.1:9/c.xml")],
                 schedule={"interval": "5m", "min_interval": "1m", "max_interval": "1h"})
    assert daemon.reload()
    states = {s.url.rsplit("/", 1)[1]: s for s in daemon.store.all_feeds()}
    assert states["b.xml"].next_poll_at is None  # removed: state kept, not scheduled
    assert states["c.xml"].next_poll_at is not None and states["a.xml"].interval == 300
    clock.now += 3600
    assert sorted([f.url for f in daemon.store.claim_due_feeds(clock.now, 10)]) == [
        "http://127.0.0.1:9/a.xml", "http://127.0.0.1:9/c.xml"]

    (tmp_path / "config.yaml").write_text("feeds: [{url: ftp://nope}]\n")
    with caplog.at_level(logging.ERROR, logger="ingest.daemon"):
        assert not daemon.reload()
    assert "reload failed, still running the previous config" in caplog.text
    assert [f.name for f in daemon.cfg.feeds] == ["a", "c"]
    daemon.store.close()


def test_a_feed_added_by_a_reload_keeps_its_secrets_out_of_the_log(tmp_path, monkeypatch):
    root = logging.getLogger("ingest")
    for attr in ("handlers", "propagate", "level"):  # setup_logging changes them: put back
        monkeypatch.setattr(root, attr, getattr(root, attr))
    setup_logging(logging.INFO)
    stream = io.StringIO()
    root.handlers[0].setStream(stream)
    daemon = make_daemon(tmp_path, ["a"], Clock())
    added = "http://127.0.0.1:9/c.xml?edition=private-edition-42"
    write_config(tmp_path / "config.yaml", [("a", "http://127.0.0.1:9/a.xml"), ("c", added)],
                 schedule={"interval": "5m", "min_interval": "1m", "max_interval": "1h"})
    assert daemon.reload()
    logging.getLogger("ingest.pipeline").error("c: %s: HTTP 500", added)
    assert "private-edition-42" not in stream.getvalue() and "127.0.0.1:9/c.xml" in stream.getvalue()
    daemon.store.close()


def test_a_restart_keeps_the_schedule_it_finds(tmp_path):
    clock = Clock()
    first = make_daemon(tmp_path, ["a", "b"], clock)
    first.sync_feeds()
    before = {s.url: s.next_poll_at for s in first.store.all_feeds()}
    first.store.close()
    clock.now += 5
    again = make_daemon(tmp_path, ["a", "b"], clock)
    again.sync_feeds()
    assert {s.url: s.next_poll_at for s in again.store.all_feeds()} == before
    again.store.close()


# -- the operations server ---------------------------------------------------------------


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_ops_server_answers_get_only():
    async def scenario() -> list[bytes]:
        server = OpsServer("127.0.0.1", 0, {"/healthz": lambda: Reply(200, b"ok\n"),
                                            "/boom": lambda: 1 / 0})
        await server.start()
        try:
            asks = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /healthz?verbose=1 HTTP/1.0\r\n\r\n",
                    b"POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    b"GET /nope HTTP/1.1\r\n\r\n", b"GET /boom HTTP/1.1\r\n\r\n",
                    b"garbage\r\n\r\n"]
            return [await asyncio.to_thread(raw_request, server.port, a) for a in asks]
        finally:
            await server.close()

    answers = asyncio.run(scenario())
    heads = [a.split(b"\r\n", 1)[0] for a in answers]
    assert heads == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK", b"HTTP/1.1 405 Method Not Allowed",
                     b"HTTP/1.1 404 Not Found", b"HTTP/1.1 500 Internal Server Error",
                     b"HTTP/1.1 400 Bad Request"]
    assert answers[0].endswith(b"\r\n\r\nok\n") and b"Allow: GET" in answers[2]


def test_readiness_needs_an_open_store_and_a_writable_output_folder(tmp_path):
    from ingest.daemon.endpoints import readiness

    store = SqliteStore(tmp_path / "s.sqlite")
    assert readiness(store, tmp_path) is None
    (tmp_path / "file").write_text("")
    assert "not writable" in readiness(store, tmp_path / "file")
    store.close()
    assert "state" in readiness(store, tmp_path)


# -- end to end: `ingest run` in a subprocess -------------------------------------------------


class Site(FaultServer):
    """The fault server plus feeds at /cond/<name> that answer 304 to a matching ETag."""

    def __init__(self) -> None:
        super().__init__()
        self.feeds: dict[str, bytes] = {}
        self.not_modified = 0

    def publish(self, name: str, numbers) -> None:
        for i in numbers:
            self.add(f"/a/{i}.html", article(i), HTML)
        self.feeds[name] = rss([Item(f"Articolo {i}", self.url(f"/a/{i}.html"), f"g{i}")
                                for i in numbers])

    def page_hits(self) -> int:
        return sum(1 for _, path, _ in self.requests if path.startswith("/a/"))

    def _route_cond(self, h, arg: str, query: dict) -> None:
        body = self.feeds[arg]
        etag = f'"{hashlib.sha1(body).hexdigest()[:12]}"'
        if h.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return h.send(304, b"", {"ETag": etag})
        return h.send(200, body, {**RSS, "ETag": etag})


@pytest.fixture
def site():
    with Site() as server:
        yield server


@pytest.fixture
def daemon_config(tmp_path, site):
    port = free_port()

    def write(feeds=("news",), **schedule) -> Path:
        return write_config(
            tmp_path / "config.yaml", [(n, site.url(f"/cond/{n}")) for n in feeds],
            schedule={"interval": "1s", "min_interval": "1s", "max_interval": "5s",
                      "shutdown_grace": "3s", **schedule},
            server={"host": "127.0.0.1", "port": port}, extract={"workers": 2})
    write.port = port
    return write


@pytest.fixture
def runs():
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def whole_lines(out: Path) -> list[dict]:
    for path in out.rglob("*.jsonl"):
        assert path.read_bytes().endswith(b"\n"), f"torn last line in {path}"
    return read_records(out)


@pytest.mark.timeout(60)
def test_run_polls_conditionally_writes_new_items_and_stops_cleanly(tmp_path, site,
                                                                    daemon_config, runs):
    site.publish("news", [1, 2])
    run = Run(daemon_config(), daemon_config.port, tmp_path / "run.log")
    runs.append(run)
    out = tmp_path / "out"
    wait_for(lambda: len(read_records(out)) == 2, 15, run.text)
    assert run.get("/readyz") == (200, "ok\n")

    # Idle polls are conditional: 304s, and no page is fetched again.
    pages = site.page_hits()
    wait_for(lambda: site.not_modified >= 2, 15, run.text)
    assert site.page_hits() == pages
    assert all("if-none-match" in headers for _, path, headers in site.requests[-2:]
               if path.startswith("/cond/"))

    site.publish("news", [1, 2, 3])  # a new item is written within a few seconds
    wait_for(lambda: len(read_records(out)) == 3, 10, run.text)
    assert site.page_hits() == pages + 1

    code, body = run.get("/metrics")
    assert code == 200 and "ingest_articles_written_total 3.0" in body
    assert 'ingest_polls_total{kind="",outcome="not_modified"}' in body
    assert 'ingest_feed_consecutive_failures{feed="news"} 0.0' in body
    assert "ingest_http_seconds_count" in body and "ingest_extract_seconds_count" in body
    status = json.loads(run.get("/status")[1])
    assert status[0]["feed"] == "news" and status[0]["articles_written"] == 3

    code, seconds = run.stop(timeout=10)
    assert code == 0 and seconds < 3 + 2
    records = whole_lines(out)
    assert sorted(r["title"] for r in records) == ["Articolo 1", "Articolo 2", "Articolo 3"]
    log = run.text()
    assert "poll news: new, 2 written" in log and "poll news: not_modified, 0 written" in log
    assert "daemon: stopped" in log


@pytest.mark.timeout(60)
def test_sighup_adds_feeds_and_a_bad_config_is_kept_out(tmp_path, site, daemon_config, runs):
    site.publish("news", [1])
    site.publish("more", [11, 12])
    config = daemon_config(["news"])
    run = Run(config, daemon_config.port, tmp_path / "run.log")
    runs.append(run)
    out = tmp_path / "out"
    wait_for(lambda: len(read_records(out)) == 1, 15, run.text)

    daemon_config(["news", "more"])
    run.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(read_records(out)) == 3, 10, run.text)
    assert "config reloaded: 2 feeds (1 added, 0 removed)" in run.text()

    config.write_text("feeds: [{url: ftp://nope}]\n")
    run.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in run.text(), 5, run.text)
    assert run.get("/healthz") == (200, "ok\n")
    assert run.stop(timeout=10)[0] == 0


@pytest.mark.timeout(60)
def test_sigterm_cancels_a_hung_poll_and_a_restart_writes_no_duplicate(tmp_path, site,
                                                                       daemon_config, runs):
    site.publish("news", [1, 2])
    config = daemon_config(shutdown_grace="1s")
    first = Run(config, daemon_config.port, tmp_path / "run.log")
    runs.append(first)
    out = tmp_path / "out"
    wait_for(lambda: len(read_records(out)) == 2, 15, first.text)

    # A new item whose page never finishes: the poll is in flight when SIGTERM comes.
    site.feeds["news"] = rss([Item(f"Articolo {i}", site.url(f"/a/{i}.html"), f"g{i}")
                              for i in (1, 2)] + [Item("Lento", site.url("/drip"), "slow")])
    wait_for(lambda: site.hits("/drip") >= 1, 10, first.text)
    code, seconds = first.stop(timeout=10)
    assert code == 0 and seconds < 1 + 2.5, first.text()
    assert "cancelled 1 polls" in first.text()
    store = SqliteStore(tmp_path / "state" / "state.sqlite")
    assert store.get_feed(site.url("/cond/news")).next_poll_at <= time.time()  # due again
    store.close()

    site.publish("news", [1, 2, 3])
    second = Run(config, daemon_config.port, tmp_path / "run2.log")
    runs.append(second)
    wait_for(lambda: len(read_records(out)) == 3, 15, second.text)
    time.sleep(1.5)  # a few more polls
    assert second.stop(timeout=10)[0] == 0
    records = whole_lines(out)
    assert len({r["id"] for r in records}) == len(records) == 3


def test_daily_compaction_forgets_old_seen_marks_and_footer_lines_that_did_not_recur(tmp_path):
    clock = Clock()
    daemon = make_daemon(tmp_path, ["a"], clock)
    store = daemon.store
    store.add_footer_counts("ansa.it", {"riproduzione riservata": (3, "Riproduzione riservata"),
                                        "a body line": (1, "A body line")})
    store.mark_seen({"old story": "written"})
    clock.now += max(FOOTER_LINES_KEPT, daemon.cfg.state.retention) + 1
    store.add_footer_counts("ansa.it", {"a fresh line": (1, "A fresh line")})
    store.mark_seen({"new story": "written"})
    daemon.compact()
    assert store.footer_counts("ansa.it") == {"riproduzione riservata": 3, "a fresh line": 1}
    assert store.unseen(["old story", "new story"]) == {"old story"}
    store.close()


def test_check_feeds_says_once_that_a_feed_turned_stale(tmp_path, caplog):
    clock = Clock()
    daemon = make_daemon(tmp_path, ["a", "b"], clock)  # interval 1m
    daemon.sync_feeds()  # first polls within the second: "since" is now
    with caplog.at_level(logging.WARNING, logger="ingest.daemon"):
        daemon.check_feeds()
        assert daemon.metrics.stale._value.get() == 0
        clock.now += 5 * 60  # never polled since: nothing new for 5 intervals
        daemon.check_feeds()
        daemon.check_feeds()
    assert daemon.metrics.stale._value.get() == 2
    assert [r.message for r in caplog.records if "stale" in r.message] == [
        "feed a is stale: no new item for 5m", "feed b is stale: no new item for 5m"]
    daemon.store.close()
