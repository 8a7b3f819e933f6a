"""Crashes and the disk: SIGKILL at random moments, output that cannot be written, two
processes on one state store. Everything through the installed CLI, against 127.0.0.1.

The invariants, after every kill and after a final clean run:
  * every line of every output file is whole JSON (a torn tail may exist only until the
    next start, which cuts it);
  * no article is written twice, and after the final clean run every expected article
    is there (nothing lost);
  * `PRAGMA integrity_check` of the state store says ok.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers.cli import ingest_command, run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import Item, read_records, rss, write_config

# One worker runs the whole module (pytest-xdist, --dist loadgroup): the module fixture
# starts the kill series of all its selected tests, so a worker running only some of them
# would start, and throw away, the others'. The group is shared with test_bench_smoke.py,
# whose background processes would otherwise load the same CPUs at the same time.
pytestmark = [pytest.mark.timeout(120), pytest.mark.xdist_group("background")]

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
KILLS = int(os.environ.get("INGEST_TEST_KILLS", "20"))  # per command; more for a long run
FEED_TEXT = ("<p>Il testo integrale dell'articolo numero {n} è anche nel feed, nel caso la "
             "pagina non basti: " + "una frase in più per arrivare alla lunghezza minima. " * 5
             + "</p>")


# -- helpers ---------------------------------------------------------------------------

def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}


def start(command: str, config: Path, **kwargs) -> subprocess.Popen:
    """`ingest <command>` in its own session, so a kill reaches its workers too."""
    return subprocess.Popen([*ingest_command(), command, "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env(), start_new_session=True, **kwargs)


def kill_group(proc: subprocess.Popen) -> str:
    """SIGKILL the process and everything in its session (forkserver, workers); its stderr."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.stderr is None or proc.stderr.closed:
        proc.wait(timeout=30)
        return ""
    return proc.communicate(timeout=30)[1] or ""


def lines_of(out: Path) -> tuple[list[dict], list[bytes]]:
    """(records of all whole lines, torn tails) over every output file."""
    records, torn = [], []
    for path in sorted(out.rglob("*.jsonl")):
        data = path.read_bytes()
        whole, _, tail = data.rpartition(b"\n")
        if tail:
            torn.append(tail)
        for line in whole.split(b"\n") if whole else []:
            records.append(json.loads(line))  # raises on a line that is not whole JSON
    return records, torn


def _wait_for(condition, timeout: float, *, fail: bool = True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    if fail:
        pytest.fail(f"waited {timeout}s in vain for {condition}")
    return False


def _holds_lock(news: NewsSite, pid: int):
    lock = news.state.with_name("state.sqlite.lock")
    return lambda: lock.exists() and lock.read_text().strip() == str(pid)


def assert_integrity(state: Path) -> None:
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def seen_written(state: Path) -> set[str]:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        return {k for (k,) in db.execute("SELECT key FROM seen WHERE status = 'written'")}


def corpus_pages(corpus: Path, count: int) -> list[bytes]:
    """``count`` distinct real article pages from the shared corpus."""
    files = sorted((corpus / "pages" / "trafilatura" / "tests" / "eval").glob("*.html"))
    files = [f for f in files if 5_000 < f.stat().st_size < 120_000]
    if len(files) < count:
        pytest.skip(f"the corpus has only {len(files)} usable pages, {count} wanted")
    return [f.read_bytes() for f in files[:count]]


class NewsSite:
    """``feeds`` feeds of ``per_feed`` articles each, pages from the corpus; two feeds are
    worked on at a time, so batches are written (and marked) all along a run."""

    def __init__(self, corpus: Path, server: FaultServer, tmp: Path, *, feeds: int = 14,
                 per_feed: int = 3, feed_delay: float = 0.0) -> None:
        pages = corpus_pages(corpus, feeds * per_feed)
        self.server, self.tmp = server, tmp
        self.urls: set[str] = set()
        self.feeds = []
        for f in range(feeds):
            items = []
            for i in range(per_feed):
                n = f * per_feed + i
                server.add(f"/p/{n}.html", pages[n], HTML)
                url = server.url(f"/p/{n}.html")
                self.urls.add(url)
                items.append(Item(f"Articolo {n}", url, f"g{n}", content=FEED_TEXT.format(n=n)))
            server.add(f"/f/{f}.xml", rss(items), RSS)
            path = f"/delay/{feed_delay}/f/{f}.xml" if feed_delay else f"/f/{f}.xml"
            self.feeds.append((f"feed-{f}", server.url(path)))

    def config(self, name: str = "config.yaml", **sections) -> Path:
        sections.setdefault("schedule", {}).setdefault("concurrency", 2)
        return write_config(self.tmp / name, self.feeds, extract={"workers": 2}, **sections)

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    @property
    def state(self) -> Path:
        return self.tmp / "state" / "state.sqlite"


@pytest.fixture
def server():
    with FaultServer() as server:
        yield server


@pytest.fixture
def small_news(corpus, server, tmp_path):
    """12 articles: enough for the disk tests."""
    return NewsSite(corpus, server, tmp_path, feeds=4)


def make_all_feeds_due(state: Path) -> None:
    """As if time had passed: every feed the daemon scheduled (or leased) is due now, so
    each `ingest run` cycle has work to be killed in."""
    now = time.time()
    if not state.exists():  # killed before it made its store: nothing is scheduled yet
        return
    with contextlib.closing(sqlite3.connect(state)) as db, db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feeds'").fetchone():
            return  # killed before its schema was in
        db.execute("UPDATE feeds SET next_poll_at = ?, data = json_set(data, '$.next_poll_at', ?)"
                   " WHERE next_poll_at > ?", (now, now, now))


def kill_cycles(news: NewsSite, command: str, config: Path, seed: int) -> dict:
    """KILLS runs of `ingest <command>`, each SIGKILLed 0.05-1.5 s after it started: after
    its spawn in even cycles (start-up, recovery), after its first request to the site in
    odd ones (polls, writes, marks). The invariants are checked after every kill."""
    rng = random.Random(seed)
    stats = {"kills": 0, "torn_tails": 0, "recovered_at_start": 0, "written": 0}
    for cycle in range(KILLS):
        if command == "run" and news.state.exists():
            make_all_feeds_due(news.state)
        before = len(news.server.requests)
        proc = start(command, config)
        if cycle % 2:
            _wait_for(lambda b=before, p=proc: len(news.server.requests) > b or p.poll() is not None, 30)
        time.sleep(rng.uniform(0.05, 1.5))
        exited = proc.poll()
        stderr = kill_group(proc)
        assert exited in (None, 0), (cycle, exited, stderr)
        assert "Traceback" not in stderr, stderr
        stats["kills"] += exited is None
        stats["recovered_at_start"] += "were not marked seen (a crash)" in stderr
        records, torn = lines_of(news.out)  # every whole line parses, after every kill
        stats["torn_tails"] += len(torn)
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), f"cycle {cycle}: an article was written twice"
        assert {r["url"] for r in records} <= news.urls
        stats["written"] = len(records)
    return stats


def final_clean_run(news: NewsSite, config: Path, *, earlier: set[str] = frozenset()
                    ) -> subprocess.CompletedProcess:
    """A run left alone: afterwards every expected article is on disk exactly once
    (``earlier``: ids of records that were in the output before the test)."""
    proc = run_cli("fetch", "--config", str(config), timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    records, torn = lines_of(news.out)
    records = [r for r in records if r["id"] not in earlier]
    assert torn == []
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "an article was written twice"
    assert {r["url"] for r in records} == news.urls, "an article was lost"
    assert seen_written(news.state) >= set(ids)
    assert_integrity(news.state)
    return proc


# -- crashes at chosen moments ------------------------------------------------------------------

def test_crash_between_write_and_mark_is_recovered(small_news):
    """Hold SQLite's write lock once the run is working, so its first batch reaches the
    output but cannot be marked seen; kill it right then. The next start must mark those
    records seen (and write the rest) without writing any of them twice."""
    news = small_news
    config = news.config()
    proc = start("fetch", config)
    try:
        _wait_for(lambda: news.server.requests or proc.poll() is not None, 30)
        blocker = sqlite3.connect(news.state, isolation_level=None, timeout=10)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # ingest's mark_seen now waits (busy_timeout)
            _wait_for(lambda: news.out.exists() and lines_of(news.out)[0]
                      or proc.poll() is not None, 30)
            kill_group(proc)
        finally:
            blocker.close()  # rolls the empty transaction back
    finally:
        if proc.poll() is None:
            kill_group(proc)
    on_disk = {r["id"] for r in lines_of(news.out)[0]}
    assert on_disk and not on_disk & seen_written(news.state), "no write-then-crash happened"

    proc = final_clean_run(news, config)
    assert re.search(rf"^recovered: {len(on_disk)} records written before a crash$",
                     proc.stderr, re.M), proc.stderr


def test_torn_last_line_is_cut_and_its_article_written_once(corpus, server, tmp_path):
    """A crash in the middle of a write (power loss) leaves half a line of a batch that was
    never marked seen: the next start cuts it and writes that article again, once."""
    news = NewsSite(corpus, server, tmp_path, feeds=1, per_feed=2)
    first, second = sorted(news.urls)
    server.add("/f/0.xml", rss([Item("Primo", first, "g0", content=FEED_TEXT.format(n=0))]), RSS)
    config = news.config()
    assert run_cli("fetch", "--config", str(config), timeout=60).returncode == 0
    [output] = list(news.out.glob("*.jsonl"))
    with output.open("ab") as fh:  # the first bytes of the record of the second article
        fh.write(b'{"id": "' + b"0" * 32 + b'", "url": "' + second.encode() + b'", "te')
    server.add("/f/0.xml", rss([Item("Primo", first, "g0", content=FEED_TEXT.format(n=0)),
                                Item("Secondo", second, "g1", content=FEED_TEXT.format(n=1))]),
               RSS)
    proc = final_clean_run(news, config)
    assert "torn" in proc.stderr and "1 written" in proc.stderr, proc.stderr


def test_restarted_daemon_polls_the_feeds_a_killed_one_was_polling(corpus, server, tmp_path):
    """A feed leased by a daemon that was killed mid-poll is polled again at once by the
    next daemon (it holds the lock, so no lease it finds can be alive)."""
    news = NewsSite(corpus, server, tmp_path, feeds=1, per_feed=1, feed_delay=2.0)
    config = news.config(server={"port": 0})
    feed_path = urlsplit(news.feeds[0][1]).path
    daemon = start("run", config)
    try:
        _wait_for(lambda: server.hits(feed_path) == 1, 20)
        kill_group(daemon)  # while the poll waits for the feed
        daemon = start("run", config)
        polled_again = _wait_for(lambda: server.hits(feed_path) == 2, 10, fail=False)
    finally:
        kill_group(daemon)
    assert polled_again


# -- output that cannot be written ---------------------------------------------------------

def _limit_file_size(limit: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def _fetch_with_file_size_limit(config: Path, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([*ingest_command(), "fetch", "--config", str(config)], env=env(),
                          capture_output=True, text=True, timeout=90,
                          preexec_fn=_limit_file_size(limit))


def test_disk_full_from_the_start_is_a_clear_error(small_news):
    """RLIMIT_FSIZE of 4 kB: not even the state store fits."""
    news = small_news
    proc = _fetch_with_file_size_limit(news.config(), 4096)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and re.search(r"File too large|disk I/O error", lines[0]), proc.stderr
    assert str(news.state) in lines[0] or str(news.out) in lines[0]
    assert not news.out.exists() or lines_of(news.out) == ([], [])


def test_disk_filling_up_during_the_run_is_a_clear_error_and_nothing_is_lost(small_news):
    """RLIMIT_FSIZE stands in for a disk that fills up: the output file is already near
    the limit, so the first batches fit and the later ones cannot be written."""
    news = small_news
    config = news.config(output={"partition": "none"})
    limit = 70_000_000  # above the 68 MB temporary file py3langid's model loads through
    news.out.mkdir()
    filler = b'{"id": "filler-%02d", "text": "%s"}\n'
    with (news.out / "articles.jsonl").open("wb") as fh:  # earlier output, 60 kB below
        for i in range(69):
            fh.write(filler % (i, b"x" * (1_000_000 - 34)))
        fh.write(filler % (69, b"x" * (limit - 60_000 - fh.tell() - 34)))
    prefilled = {f"filler-{i:02d}" for i in range(70)}

    limited = _fetch_with_file_size_limit(config, limit)
    assert "Traceback" not in limited.stderr, limited.stderr
    assert limited.returncode == 1, limited.stderr
    failed = [line for line in limited.stderr.splitlines() if line.startswith("FAILED")]
    assert failed and all("File too large" in line and "sink: writing" in line
                          for line in failed), limited.stderr
    records, torn = lines_of(news.out)
    assert torn == [], "a failed write left a torn line"
    written = {r["id"] for r in records} - prefilled
    assert 0 < len(written) < len(news.urls)
    assert seen_written(news.state) - prefilled == written, "marked seen but not written"
    assert_integrity(news.state)

    proc = final_clean_run(news, config, earlier=prefilled)
    assert f"{len(news.urls) - len(written)} written" in proc.stderr


@pytest.fixture
def immutable():
    """`chattr +i` (root ignores permissions, not the immutable flag); undone afterwards."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed: no stand-in for a read-only folder as root")
    marked: list[Path] = []

    def mark(path: Path) -> None:
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"chattr +i does not work here: {proc.stderr.strip()}")
        marked.append(path)

    def unmark(path: Path) -> None:
        subprocess.run(["chattr", "-i", str(path)], check=True)
        marked.remove(path)

    mark.undo = unmark
    yield mark
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_read_only_output_folder(small_news, immutable):
    news = small_news
    config = news.config()
    news.out.mkdir()
    immutable(news.out)
    proc = run_cli("fetch", "--config", str(config), timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 4 and all("Operation not permitted" in line and str(news.out) in line
                                    for line in failed), proc.stderr
    assert seen_written(news.state) == set()
    immutable.undo(news.out)
    final_clean_run(news, config)


def test_output_folder_under_a_regular_file(small_news):
    news = small_news
    blocker = news.tmp / "not-a-folder"
    blocker.write_text("a file where the output folder should be\n")
    config = news.config(output={"dir": str(blocker / "out")})
    proc = run_cli("fetch", "--config", str(config), timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot create output folder" in lines[0], proc.stderr
    assert str(blocker) in lines[0]
    assert news.server.requests == []


@pytest.mark.parametrize("kind", ["folder", "dangling-symlink"])
def test_stray_entry_named_like_an_output_file(corpus, server, tmp_path, kind):
    """Something in output.dir that ends in .jsonl but is no regular file (a folder, a
    dangling symlink) is left alone, or named in a clear error: never a traceback."""
    news = NewsSite(corpus, server, tmp_path, feeds=1, per_feed=2)
    stray = news.out / "old.jsonl"
    news.out.mkdir()
    if kind == "folder":
        stray.mkdir()
    else:
        stray.symlink_to(tmp_path / "nowhere.jsonl")
    proc = run_cli("fetch", "--config", str(news.config()), timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 0:
        assert {r["url"] for r in lines_of_regular_files(news.out)} == news.urls
    else:
        assert proc.returncode == 1 and str(stray) in proc.stderr, proc.stderr


def lines_of_regular_files(out: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(out.glob("*.jsonl")) if path.is_file()
            for line in path.read_bytes().splitlines()]


# -- two processes on one store ----------------------------------------------------------------

@pytest.fixture
def slow_news(corpus, server, tmp_path):
    """Two feeds that answer after 1 s: the first process holds the lock that long."""
    return NewsSite(corpus, server, tmp_path, feeds=2, per_feed=2, feed_delay=1.0)


class GatedServer(FaultServer):
    """A FaultServer whose /gate/<path> answers once `opened` is set: a fetch of it holds
    the store's lock for as long as a test needs, however slowly a busy CPU starts the
    process that asks for the lock next."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = threading.Event()

    def _route_gate(self, h, arg: str, query: dict[str, str]) -> None:
        self.opened.wait(60)
        self._route(h, "/" + arg, query)


@pytest.fixture
def gated_news(corpus, tmp_path):
    """Two feeds that answer only when the test opens the gate (`news.server.opened`)."""
    with GatedServer() as server:
        news = NewsSite(corpus, server, tmp_path, feeds=2, per_feed=2)
        news.feeds = [(name, server.url(f"/gate/f/{f}.xml")) for f, (name, _) in enumerate(news.feeds)]
        try:
            yield news
        finally:
            server.opened.set()  # a handler still at the gate would hold up the server's close


def test_second_fetch_gives_up_on_the_lock_naming_the_holder(gated_news):
    news = gated_news
    first = start("fetch", news.config(http={"timeout": 60}))  # waits at the gate, holding the lock
    try:
        _wait_for(_holds_lock(news, first.pid), 20)
        started = time.monotonic()
        second = run_cli("fetch", "--config",
                         str(news.config("second.yaml", state={"lock_timeout": "0.5s"})),
                         timeout=30)
        news.server.opened.set()
        # far below the default 30 s wait; a CPU shared with other tests slows the start-up
        assert time.monotonic() - started < 20
        assert second.returncode == 1, second.stderr
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, second.stderr
        assert "state.sqlite.lock" in lines[0] and f"pid {first.pid}" in lines[0], lines[0]
        assert "Traceback" not in second.stderr
        assert first.wait(timeout=60) == 0, kill_group(first)
    finally:
        if first.poll() is None:
            kill_group(first)
    records = read_records(news.out)
    assert sorted(r["url"] for r in records) == sorted(news.urls)
    assert_integrity(news.state)


def test_second_fetch_waits_for_the_lock_then_finds_nothing_new(slow_news):
    news = slow_news
    config = news.config(state={"lock_timeout": "60s"})
    first = start("fetch", config)
    try:
        _wait_for(_holds_lock(news, first.pid), 20)
        second = run_cli("fetch", "--config", str(config), timeout=90)
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            kill_group(first)
    assert second.returncode == 0, second.stderr
    assert "articles: 0 written" in second.stderr
    records = read_records(news.out)
    assert sorted(r["url"] for r in records) == sorted(news.urls)
    assert_integrity(news.state)


def test_fetch_while_run_is_running(slow_news):
    news = slow_news
    daemon = start("run", news.config(server={"port": 0}))
    try:
        _wait_for(_holds_lock(news, daemon.pid), 20)
        _wait_for(lambda: news.server.requests, 20)  # polling: its signal handlers are set
        fetch = run_cli("fetch", "--config",
                        str(news.config("fetch.yaml", state={"lock_timeout": "0.5s"})),
                        timeout=30)
        assert fetch.returncode == 1, fetch.stderr
        assert "state.sqlite.lock" in fetch.stderr and f"pid {daemon.pid}" in fetch.stderr
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0
    finally:
        if daemon.poll() is None:
            kill_group(daemon)
    assert_integrity(news.state)
    records = read_records(news.out)
    assert len(records) == len({r["id"] for r in records})


# -- SIGKILL at random moments ---------------------------------------------------------------

SERIES = {"fetch": 20251203, "run": 4242}  # command -> RNG seed of its kill delays


def kill_then_clean_run(site: NewsSite, command: str, config: Path, seed: int) -> dict:
    stats = kill_cycles(site, command, config, seed)
    final_clean_run(site, config)
    return stats


@pytest.fixture(scope="module", autouse=True)
def kill_series(request, corpus, tmp_path_factory):
    """The kill series of the selected `test_sigkill...` tests, each on its own site and
    store and ended by a clean run, started when this module starts and run in the
    background, side by side, while the other tests of the module run (that keeps the
    suite short); the tests at the end of the module collect them: {command: future}."""
    wanted = [item.callspec.params["command"] for item in request.session.items
              if item.module is request.module
              and item.originalname == "test_sigkill_loses_and_duplicates_nothing"]
    with contextlib.ExitStack() as stack:
        series = {}
        for command in wanted:
            server = stack.enter_context(FaultServer())
            site = NewsSite(corpus, server, tmp_path_factory.mktemp(f"kill-{command}"))
            config = (site.config() if command == "fetch" else site.config(
                server={"port": 0}, schedule={"min_interval": "1s", "interval": "1m"}))
            series[command] = (site, config)
        pool = stack.enter_context(ThreadPoolExecutor(max(1, len(series))))  # closed first
        yield {command: pool.submit(kill_then_clean_run, site, command, config, SERIES[command])
               for command, (site, config) in series.items()}


@pytest.mark.parametrize("command", list(SERIES))
def test_sigkill_loses_and_duplicates_nothing(kill_series, command):
    """KILLS SIGKILLs of `ingest <command>` at random moments, then a clean run: every
    line whole, every article once, none lost, the store intact (see kill_cycles)."""
    stats = kill_series[command].result(timeout=110)
    print(f"{command} kill cycles:", stats)
    # Runs that finish before their kill prove nothing; on a fast machine the last cycles
    # may have nothing left to do, but at least half must have been cut short.
    assert stats["kills"] >= KILLS // 2, "most runs ended before their kill"
