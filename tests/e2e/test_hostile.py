"""Hostile and broken servers, end to end: `ingest fetch` in a subprocess against 127.0.0.1.

Every fault has a server of its own (politeness is per host and port, so a host back-off
cannot touch another fault or the healthy feed's server). The feed faults are hostile feeds
polled in one run beside one healthy feed; the page faults are hostile article pages linked
from one healthy feed, in one run; each case then reads its own outcome from that run (one
start-up of the CLI per family, not per case). The run must end in bounded time (a
Retry-After of an hour is never slept out) and within bounded memory (MEMORY_LIMIT: a bomb
must not decode whole), every healthy article must be written, and each fault must be named:

  feed faults   exit 1; summary `FAILED hostile-<n>: <url>: <reason>`; an ERROR log line
                `hostile-<n>: <url>: <reason>`; the healthy feed's articles all written.
  page faults   the feed was read, so exit 0 (as for any page that cannot be had); the
                entry is skipped with a counted reason (`skipped: ... 1 http_404 ...`, marked
                seen for good) or, when the fault is transient, left for a later run (counted
                in `N left for a later run`, not marked seen); the log (-v) names the feed,
                page and reason.
"""

from __future__ import annotations

import contextlib
import re
import resource
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer, gzip_bomb, stacked_gzip_bomb
from helpers.newssite import Item, read_records, rss, write_config
from ingest.urls import key_id, normalize_url

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 2  # http.timeout of these runs: the drip cases are cut at this deadline
BOUND = 20.0  # seconds any run may take (a long Retry-After must not be slept out)
# Memory (RLIMIT_DATA) each run, its workers included, may map: far below the gigabyte a
# bomb decodes to, many times what a run needs; going past it is a MemoryError.
MEMORY_LIMIT = 512 << 20
HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
FEED_ALL_OK = re.compile(r"^feeds: 2 ok, 0 not modified, 0 failed$", re.M)

_WORDS = ("harbour council budget river school bridge festival library tram market orchard "
          "museum election vineyard railway hospital stadium glacier ferry theatre").split()


def article_html(n: int, title: str) -> bytes:
    """A plain article page whose paragraphs are unique to ``n`` (no shared lines)."""
    paragraphs = "".join(
        f"<p>{title}: paragraph {i} tells how the {_WORDS[(n + i) % len(_WORDS)]} of town "
        f"number {n} changed in week {n * 7 + i}, and what {_WORDS[(n * 3 + i) % len(_WORDS)]} "
        f"residents said about it at the meeting number {n * 11 + i}.</p>" for i in range(6))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"</head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
            ).encode()


@dataclass
class Site:
    healthy: FaultServer
    hostile: FaultServer
    tmp: Path

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def healthy_urls(self) -> set[str]:
        return {self.healthy.url(f"/a/{n}.html") for n in (1, 2)}

    def healthy_feed(self, extra: list[Item] = ()) -> str:
        items = [Item(f"Healthy {n}", self.healthy.url(f"/a/{n}.html"), f"h{n}") for n in (1, 2)]
        self.healthy.add("/feed.xml", rss(items + list(extra)), RSS)
        return self.healthy.url("/feed.xml")

    def fetch(self, feeds: list[tuple[str, str]], *args: str, **sections):
        http = {"timeout": TIMEOUT, **sections.pop("http", {})}
        config = write_config(self.tmp / "config.yaml", feeds, http=http,
                              extract={"workers": 1}, **sections)
        started = time.monotonic()
        proc = run_cli("fetch", "--config", str(config), *args, timeout=60,
                       preexec_fn=_limit_memory)
        return proc, time.monotonic() - started

    def seen_status(self, url: str) -> str | None:
        """The state store's mark for the article at ``url`` (None: not marked seen)."""
        with sqlite3.connect(f"file:{self.tmp / 'state/state.sqlite'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT status FROM seen WHERE key = ?",
                             (key_id(normalize_url(url)),)).fetchone()
        return row[0] if row else None


def _limit_memory() -> None:  # between fork and exec: a system call only, no Python locks
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module", autouse=True)
def bombs_built() -> None:
    """Build the bombs before any run: built on a first request, they would take seconds
    of a run's 2-second deadline on a busy machine."""
    gzip_bomb()
    stacked_gzip_bomb()


def healthy_articles(healthy: FaultServer) -> None:
    for n in (1, 2):
        healthy.add(f"/a/{n}.html", article_html(n, f"Healthy story {n}"), HTML)


@pytest.fixture
def site(tmp_path):
    with FaultServer() as healthy, FaultServer() as hostile:
        healthy_articles(healthy)
        yield Site(healthy, hostile, tmp_path)


@dataclass
class SharedRun:
    """One `ingest fetch` run that the cases of a family share: the healthy site (its
    ``hostile`` server unused), each case's own hostile server, and what the run gave."""
    site: Site
    servers: dict[str, FaultServer] = field(default_factory=dict)
    proc: subprocess.CompletedProcess | None = None
    elapsed: float = 0.0


@contextlib.contextmanager
def shared_run(tmp: Path, case_ids: list[str]):
    with contextlib.ExitStack() as stack:
        healthy, spare = stack.enter_context(FaultServer()), stack.enter_context(FaultServer())
        healthy_articles(healthy)
        run = SharedRun(Site(healthy, spare, tmp))
        for case_id in case_ids:
            run.servers[case_id] = stack.enter_context(FaultServer())
        yield run


def shown_url(url: str) -> str:
    """A pattern for ``url`` as a summary shows a feed's URL: its query values may be
    masked (``***``), as secrets of feed URLs are kept out of what people read."""
    base, _, query = url.partition("?")
    if not query:
        return re.escape(url)
    parts = (part.partition("=") for part in query.split("&"))
    masked = "&".join(rf"{re.escape(name + eq)}(?:{re.escape(value)}|\*\*\*)"
                      for name, eq, value in parts)
    return rf"{re.escape(base)}\?{masked}"


def assert_no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


# -- feed-level faults ------------------------------------------------------------------

FEED_FAULTS = [
    # id, path on the hostile server, the reason the summary and the log must give
    ("http-500", "/status/500", r"HTTP 500"),
    ("http-503", "/status/503", r"HTTP 503"),
    ("http-404", "/status/404", r"HTTP 404"),
    ("http-410", "/status/410", r"HTTP 410"),
    ("http-429-retry-after-3600", "/status/429?retry_after=3600",
     r"HTTP 429 \(retry after 3600s\)"),
    ("redirect-loop", "/redirect-loop", r"too many redirects"),
    ("six-redirects", "/redirect-chain/6?to=/feed.xml", r"too many redirects"),
    ("drip-one-byte-a-second", "/drip", rf"timed out after {TIMEOUT}s"),
    ("400MB-streamed", "/big/400?type=xml", r"body larger than 10000000 bytes"),
    ("1GiB-gzip-bomb", "/gzip-bomb", r"body larger than 10000000 bytes"),
    ("1GiB-stacked-gzip-bomb", "/gzip-gzip-bomb", r"body larger than 10000000 bytes"),
    ("html-instead-of-feed", "/page.html", r"not a feed: the server sent an HTML page"),
]


def feed_name(case_id: str) -> str:
    """The hostile feed's name: its place in FEED_FAULTS (a case id may hold its URL's query
    value, which the log masks wherever it appears)."""
    return f"hostile-{[c[0] for c in FEED_FAULTS].index(case_id)}"


@pytest.fixture(scope="module")
def feed_faults(bombs_built, tmp_path_factory):
    """Every hostile feed of FEED_FAULTS, each on its own server, beside one healthy feed,
    polled in one run."""
    with shared_run(tmp_path_factory.mktemp("feed-faults"), [c[0] for c in FEED_FAULTS]) as run:
        feeds = [("healthy", run.site.healthy_feed())]
        for case_id, path, _ in FEED_FAULTS:
            server = run.servers[case_id]
            server.add("/page.html", article_html(9, "A page, not a feed"), HTML)
            server.add("/feed.xml", rss([Item("Behind six redirects", server.url("/x.html"))]), RSS)
            feeds.append((feed_name(case_id), server.url(path)))
        run.proc, run.elapsed = run.site.fetch(feeds)
        yield run


def test_hostile_feeds_fail_alone(feed_faults):
    """What the feed faults' run shows as a whole: bounded, exit 1, every failure counted,
    every healthy article written once, the healthy feed not failed."""
    proc, elapsed = feed_faults.proc, feed_faults.elapsed
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    # Bounded: the hour of Retry-After is not slept out, the drip (ten minutes) is cut at
    # its deadline (its case checks the reason given).
    assert elapsed < BOUND, f"took {elapsed:.1f}s"
    records = read_records(feed_faults.site.out)
    assert sorted(r["url"] for r in records) == sorted(feed_faults.site.healthy_urls())
    assert {r["feed"] for r in records} == {"healthy"}
    assert re.search(rf"^feeds: 1 ok, 0 not modified, {len(FEED_FAULTS)} failed$", proc.stderr,
                     re.M), proc.stderr
    assert "FAILED healthy" not in proc.stderr


@pytest.mark.parametrize("path, reason", [c[1:] for c in FEED_FAULTS],
                         ids=[c[0] for c in FEED_FAULTS])
def test_hostile_feed_fails_alone(feed_faults, request, path, reason):
    """Named in the summary (with the feed, its URL and the reason) and in the log."""
    case_id = request.node.callspec.id
    proc, hostile_url, name = feed_faults.proc, feed_faults.servers[case_id].url(path), feed_name(case_id)
    assert re.search(rf"^FAILED {name}: {shown_url(hostile_url)}: .*{reason}", proc.stderr, re.M), \
        proc.stderr
    assert re.search(rf"^\S+ ERROR {name}: .*{reason}", proc.stderr, re.M), proc.stderr


def test_truncated_feed_keeps_its_first_items(site):
    items = [Item(f"Kept {n}", site.hostile.url(f"/k/{n}.html"), f"k{n}") for n in (1, 2, 3)]
    items.append(Item("Cut off", site.hostile.url("/k/4.html"), "k4"))
    for n in (1, 2, 3, 4):
        site.hostile.add(f"/k/{n}.html", article_html(10 + n, f"Recovered story {n}"), HTML)
    whole = rss(items)
    site.hostile.add("/cut.xml", whole[:whole.index(b"Cut off") - 8], RSS)  # inside <title>
    proc, elapsed = site.fetch([("healthy", site.healthy_feed()),
                                ("truncated", site.hostile.url("/cut.xml"))])
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert elapsed < BOUND
    urls = sorted(r["url"] for r in read_records(site.out))
    kept = {site.hostile.url(f"/k/{n}.html") for n in (1, 2, 3)}
    assert urls == sorted(site.healthy_urls() | kept)
    assert FEED_ALL_OK.search(proc.stderr), proc.stderr
    # The damage is still reported, naming the feed.
    assert re.search(r"WARNING feeds: truncated: kept 3 entries despite errors", proc.stderr)


def test_empty_valid_feed_is_not_an_error(site):
    site.hostile.add("/empty.xml", rss([]), RSS)
    proc, _ = site.fetch([("healthy", site.healthy_feed()),
                          ("empty", site.hostile.url("/empty.xml"))])
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert FEED_ALL_OK.search(proc.stderr), proc.stderr
    assert "ERROR" not in proc.stderr and "FAILED" not in proc.stderr
    assert sorted(r["url"] for r in read_records(site.out)) == sorted(site.healthy_urls())


def test_five_redirects_are_followed_for_feeds_and_pages(site):
    """The boundary of `http.max_redirects` (5): five hops still work, for both kinds."""
    site.hostile.add("/a/3.html", article_html(3, "Behind five redirects"), HTML)
    page = site.hostile.url("/redirect-chain/5?to=/a/3.html")
    site.hostile.add("/feed.xml", rss([Item("Five hops", page, "r3")]), RSS)
    proc, _ = site.fetch([("healthy", site.healthy_feed()),
                          ("redirected", site.hostile.url("/redirect-chain/5?to=/feed.xml"))])
    assert proc.returncode == 0, proc.stderr
    records = {r["url"]: r for r in read_records(site.out)}
    assert set(records) == site.healthy_urls() | {page}
    assert records[page]["final_url"] == site.hostile.url("/a/3.html")


# -- page-level faults ---------------------------------------------------------------------

def _page(case_id, path, summary, logged, transient):
    return pytest.param(path, summary, logged, transient, id=case_id)


PAGE_FAULTS = [
    # id, path of the hostile page, summary fragment, log fragment, transient?
    _page("http-500", "/status/500", "1 left for a later run", "HTTP 500", True),
    _page("http-503", "/status/503", "1 left for a later run", "HTTP 503", True),
    _page("http-404", "/status/404", "skipped: 1 http_404", "http_404", False),
    _page("http-410", "/status/410", "skipped: 1 http_410", "http_410", False),
    _page("http-429-retry-after-3600", "/status/429?retry_after=3600", "1 left for a later run",
          "HTTP 429 (retry after 3600s)", True),
    _page("redirect-loop", "/redirect-loop", "skipped: 1 too_many_redirects",
          "too_many_redirects", False),
    _page("six-redirects", "/redirect-chain/6?to=/ok.html", "skipped: 1 too_many_redirects",
          "too_many_redirects", False),
    _page("drip-one-byte-a-second", "/drip", "1 left for a later run",
          f"timed out after {TIMEOUT}s", True),
    _page("400MB-streamed", "/big/400", "skipped: 1 too_large", "too_large", False),
    _page("1GiB-gzip-bomb", "/gzip-bomb", "skipped: 1 too_large", "too_large", False),
    _page("1GiB-stacked-gzip-bomb", "/gzip-gzip-bomb", "skipped: 1 too_large", "too_large",
          False),
    _page("pdf", "/pdf", "skipped: 1 not_html", "not_html", False),
    _page("audio", "/audio", "skipped: 1 not_html", "not_html", False),
]


def page_url(run: SharedRun, case) -> str:
    return run.servers[case.id].url(case.values[0])


@pytest.fixture(scope="module")
def page_faults(bombs_built, tmp_path_factory):
    """The healthy feed, with one more entry per case of PAGE_FAULTS whose page is on that
    case's own server, read in one run (at -v)."""
    with shared_run(tmp_path_factory.mktemp("page-faults"), [c.id for c in PAGE_FAULTS]) as run:
        for case in PAGE_FAULTS:
            run.servers[case.id].add("/ok.html", article_html(7, "Never reached"), HTML)
        feed = run.site.healthy_feed([Item(f"Hostile page {case.id}", page_url(run, case),
                                           f"bad-{case.id}", summary="too short")
                                      for case in PAGE_FAULTS])
        run.proc, run.elapsed = run.site.fetch([("healthy", feed)], "-v")
        yield run


def skipped_counts(stderr: str) -> Counter:
    """The summary's `skipped: 2 not_html, 1 http_404` line as {reason: count}."""
    line = re.search(r"^skipped: (.*)$", stderr, re.M)
    pairs = (part.split(" ") for part in line.group(1).split(", ")) if line else ()
    return Counter({reason: int(count) for count, reason in pairs})


def test_hostile_pages_leave_the_feed_and_its_other_articles_alone(page_faults):
    proc = page_faults.proc
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr  # the feed itself was read
    assert page_faults.elapsed < BOUND, f"took {page_faults.elapsed:.1f}s"
    assert sorted(r["url"] for r in read_records(page_faults.site.out)) == sorted(
        page_faults.site.healthy_urls())
    assert "feeds: 1 ok, 0 not modified, 0 failed" in proc.stderr
    # Every page asked for is counted, the hostile ones included.
    assert f"page requests: {2 + len(PAGE_FAULTS)};" in proc.stderr, proc.stderr
    # Each fault counted once, under its reason: transient ones as left for a later run.
    transient = sum(1 for case in PAGE_FAULTS if case.values[3])
    assert f"{transient} left for a later run" in proc.stderr, proc.stderr
    expected = Counter(case.values[1].rsplit(" ", 1)[1] for case in PAGE_FAULTS
                       if not case.values[3])
    assert skipped_counts(proc.stderr) == expected, proc.stderr


@pytest.mark.parametrize("path, summary, logged, transient", PAGE_FAULTS)
def test_hostile_page_is_skipped_or_left_for_later(page_faults, request, path, summary, logged,
                                                   transient):
    proc = page_faults.proc
    bad_url = page_faults.servers[request.node.callspec.id].url(path)
    # The log (at -v) names the feed, the page and the reason.
    assert any("healthy" in line and bad_url in line and logged in line
               for line in proc.stderr.splitlines()), proc.stderr
    # Transient faults stay unmarked (retried on a later run); permanent ones are settled,
    # and counted under their reason in the summary.
    status = page_faults.site.seen_status(bad_url)
    if transient:
        assert status is None
    else:
        reason = summary.rsplit(" ", 1)[1]
        assert status == f"skipped:{reason}"
        assert skipped_counts(proc.stderr)[reason] >= 1, proc.stderr


def test_a_host_dripping_every_page_is_left_alone_after_three_timeouts(site):
    drips = [site.hostile.url(f"/drip?n={n}") for n in range(1, 6)]
    feed = site.healthy_feed([Item(f"Drip {n}", url, f"drip{n}", summary="too short")
                              for n, url in enumerate(drips, 1)])
    proc, elapsed = site.fetch([("healthy", feed)], "-v", http={"per_host_concurrency": 1})
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["url"] for r in read_records(site.out)) == sorted(site.healthy_urls())
    # three pages run out the deadline; the other two are not asked for, and all five
    # are left for a later run (not marked seen)
    assert site.hostile.hits("/drip") == 3
    assert "5 left for a later run" in proc.stderr, proc.stderr
    assert "page requests: 5;" in proc.stderr, proc.stderr
    assert "timed out 3 times in a row, left alone" in proc.stderr, proc.stderr
    assert all(site.seen_status(url) is None for url in drips)
    assert elapsed < BOUND, f"took {elapsed:.1f}s"


# -- the network boundary ------------------------------------------------------------------

def test_private_address_is_refused_before_connecting(site):
    """The default `allow_private_networks: false`: 127.0.0.1 is never contacted."""
    feed_url = site.healthy_feed()
    proc, _ = site.fetch([("local", feed_url)], http={"allow_private_networks": False})
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    assert site.healthy.requests == []
    assert re.search(r"^FAILED local: .*refused", proc.stderr, re.M), proc.stderr
    assert "http.allow_private_networks" in proc.stderr
    assert not site.out.exists() or read_records(site.out) == []
