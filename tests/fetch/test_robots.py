"""robots.txt before article pages (RFC 9309): what each answer means, the copy kept per
origin, one fetch for many pages, a plain request, and Crawl-delay on both gates."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import httpx
import pytest

from helpers.faultserver import FaultServer
from helpers.forwardproxy import ForwardProxy
from ingest.config.model import HttpConfig
from ingest.errors import HostBackoff, PermanentFetchError, StateError
from ingest.fetch.client import HttpClient
from ingest.fetch.hosts import HostGate
from ingest.fetch.robots_file import (
    KEEP,
    MAX_CRAWL_DELAY,
    RETRY_UNREACHABLE,
    ROBOTS_BYTES,
    MemoryRobotsCache,
    parse,
    product_token,
    robots_text,
)
from ingest.fetch.shared_gate import LATE, SharedHostGate
from ingest.models import Access, HostTurn, RobotsCopy

pytestmark = pytest.mark.timeout(60)

ROBOTS = """# a site's robots.txt
User-agent: otherbot
Disallow: /

User-agent: *
Disallow: /private/*
Disallow: /*.pdf$
Allow: /private/ok$
"""


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Site:
    """A MockTransport handler: robots.txt as set, every other path a small page; the
    paths asked for, in order."""

    def __init__(self, robots: str | int = ROBOTS) -> None:
        self.robots = robots  # a body (200), or a status
        self.asked: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        if request.url.path != "/robots.txt":
            return httpx.Response(200, html="<p>page</p>")
        if isinstance(self.robots, int):
            return httpx.Response(self.robots, text="no")
        return httpx.Response(200, text=self.robots)

    def paths(self) -> list[str]:
        return [r.url.raw_path.decode() for r in self.asked]


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]  # no DNS: every name is a public address


def client(site: Site, *, clock: Clock | None = None, cache=None, **cfg) -> HttpClient:
    return HttpClient(HttpConfig(**{"per_host_delay": 0.0, **cfg}),
                      transport=httpx.MockTransport(site), resolver=public_resolver,
                      wall_clock=clock or Clock(), robots_cache=cache)


async def outcome(http: HttpClient, url: str, **kw) -> str:
    """``ok``, or the kind of the error fetch_page raised."""
    try:
        await http.fetch_page(url, **kw)
    except (PermanentFetchError, HostBackoff) as exc:
        return exc.kind
    return "ok"


@pytest.mark.parametrize(("path", "expected"), [
    ("/news/a.html", "ok"),
    ("/private/x.html", "robots_disallowed"),
    ("/private/", "robots_disallowed"),
    ("/private/ok", "ok"),  # Allow: /private/ok$, longer than Disallow: /private/*
    ("/private/ok/more", "robots_disallowed"),  # $: the Allow ends there
    ("/files/report.pdf", "robots_disallowed"),
    ("/files/report.pdf?page=2", "ok"),  # $: the Disallow ends at .pdf
    ("/privateer", "ok"),
])
def test_wildcards_and_end_anchors_decide_and_a_disallowed_page_is_never_asked(path, expected):
    site = Site()

    async def go() -> str:
        async with client(site) as http:
            return await outcome(http, f"https://n.example{path}")

    assert asyncio.run(go()) == expected
    assert site.paths() == ["/robots.txt"] + ([path] if expected == "ok" else [])


@pytest.mark.parametrize("status", [401, 403, 404, 410, 408])
def test_a_4xx_robots_txt_allows_everything(status):
    site = Site(status)

    async def go() -> list[str]:
        async with client(site) as http:
            return [await outcome(http, f"https://n.example{p}") for p in ("/a", "/private/b")]

    assert asyncio.run(go()) == ["ok", "ok"]
    assert site.paths() == ["/robots.txt", "/a", "/private/b"]  # asked once


def test_an_unreachable_robots_txt_disallows_until_asked_again_after_the_retry_time():
    site, clock, cache = Site(500), Clock(), MemoryRobotsCache()

    async def go() -> list[str]:
        async with client(site, clock=clock, cache=cache) as http:
            seen = [await outcome(http, "https://n.example/a")]
            clock.now += RETRY_UNREACHABLE - 1
            seen.append(await outcome(http, "https://n.example/a"))  # not asked again yet
            site.robots = ROBOTS
            clock.now += 2
            seen += [await outcome(http, f"https://n.example{p}") for p in ("/a", "/private/b")]
            return seen

    assert asyncio.run(go()) == ["robots_unreachable", "robots_unreachable", "ok",
                                 "robots_disallowed"]
    assert site.paths() == ["/robots.txt", "/robots.txt", "/a"]
    copy = cache.robots_file("https://n.example")
    assert copy is not None and copy.kind == "rules" and copy.expires_at == clock.now + KEEP


def test_an_unreachable_robots_txt_keeps_the_last_copy_in_force_however_old():
    clock, cache = Clock(), MemoryRobotsCache()
    cache.put_robots_file(RobotsCopy("https://n.example", "rules", ROBOTS,
                                     fetched_at=clock.now - 30 * KEEP,
                                     expires_at=clock.now - 29 * KEEP))
    site = Site(503)

    async def go() -> list[str]:
        async with client(site, clock=clock, cache=cache) as http:
            return [await outcome(http, f"https://n.example{p}") for p in ("/a", "/private/b")]

    assert asyncio.run(go()) == ["ok", "robots_disallowed"]
    assert site.paths() == ["/robots.txt", "/a"]
    kept = cache.robots_file("https://n.example")
    assert kept is not None and kept.kind == "rules" and kept.body == ROBOTS
    assert kept.expires_at == clock.now + RETRY_UNREACHABLE


def test_a_copy_in_the_cache_is_used_until_it_expires():
    clock, cache = Clock(), MemoryRobotsCache()
    cache.put_robots_file(RobotsCopy("https://n.example", "rules", "User-agent: *\nDisallow: /a\n",
                                     clock.now - 10, clock.now + 10))
    site = Site()

    async def go() -> list[str]:
        async with client(site, clock=clock, cache=cache) as http:
            first = await outcome(http, "https://n.example/a")
            clock.now += 20  # expired: asked for again, and the site's rules now apply
            return [first, await outcome(http, "https://n.example/a")]

    assert asyncio.run(go()) == ["robots_disallowed", "ok"]
    assert site.paths() == ["/robots.txt", "/a"]


def test_many_pages_of_one_origin_at_once_share_one_robots_txt_request():
    site = Site()

    async def go() -> list[str]:
        async with client(site, per_host_concurrency=4) as http:
            return await asyncio.gather(*(outcome(http, f"https://n.example/p{i}")
                                          for i in range(12)))

    assert asyncio.run(go()) == ["ok"] * 12
    assert site.paths().count("/robots.txt") == 1 and len(site.asked) == 13


def test_origins_differ_by_scheme_and_port_and_feeds_are_never_checked():
    site = Site("User-agent: *\nDisallow: /\n")

    async def go() -> list[str]:
        async with client(site) as http:
            await http.fetch_feed("https://n.example/feed.xml")
            return [await outcome(http, u) for u in (
                "https://n.example/a", "http://n.example/a", "https://n.example:8443/a")]

    assert asyncio.run(go()) == ["robots_disallowed"] * 3
    assert [str(r.url) for r in site.asked] == [
        "https://n.example/feed.xml", "https://n.example/robots.txt",
        "http://n.example/robots.txt", "https://n.example:8443/robots.txt"]


def test_with_robots_off_no_robots_txt_is_asked_for():
    site = Site("User-agent: *\nDisallow: /\n")

    async def go() -> str:
        async with client(site, robots=False) as http:
            return await outcome(http, "https://n.example/a")

    assert asyncio.run(go()) == "ok" and site.paths() == ["/a"]


def test_the_robots_txt_request_is_plain_whatever_the_feed_sends():
    site = Site()
    access = Access(headers=(("X-Token", "t0ps3cret"),), cookies=(("sid", "c00kie"),),
                    user_agent="FeedReader/2", username="u", password="pw")

    async def go() -> str:
        async with client(site) as http:
            return await outcome(http, "https://n.example/a", access=access)

    assert asyncio.run(go()) == "ok"
    robots = site.asked[0]
    assert robots.url.path == "/robots.txt"
    assert "x-token" not in robots.headers and "cookie" not in robots.headers
    assert "authorization" not in robots.headers
    assert robots.headers["user-agent"] == HttpConfig().user_agent


def test_a_feeds_own_proxy_carries_its_robots_txt_request_too():
    with FaultServer() as server, ForwardProxy() as proxy:
        server.add("/robots.txt", ROBOTS.encode(), {"Content-Type": "text/plain"})
        server.add("/a.html", b"<p>a</p>", {"Content-Type": "text/html"})
        access = Access(proxy=proxy.url, cookies=(("sid", "c00kie"),))

        async def go() -> str:
            async with HttpClient(HttpConfig(allow_private_networks=True, per_host_delay=0.0)) as http:
                return await outcome(http, server.url("/a.html"), access=access)

        assert asyncio.run(go()) == "ok"
        assert [h.target for h in proxy.log] == [server.url("/robots.txt"), server.url("/a.html")]
        assert "cookie" not in proxy.log[0].headers


def test_the_group_of_our_product_token_applies():
    site = Site("User-agent: *\nDisallow: /\n\nUser-agent: ingest\nDisallow: /mine\n")

    async def go() -> list[str]:
        async with client(site) as http:
            return [await outcome(http, f"https://n.example{p}") for p in ("/a", "/mine")]

    assert asyncio.run(go()) == ["ok", "robots_disallowed"]
    assert product_token("ingest/0.1 (+https://example.org/bot)") == "ingest"
    assert product_token("my_crawler-2/1.0") == "my_crawler-"
    assert product_token("/1.0") == "*"


def test_a_store_that_fails_costs_a_fetch_not_the_check():
    class Broken:
        def robots_file(self, origin):
            raise StateError("state: read failed")

        def put_robots_file(self, copy):
            raise StateError("state: write failed")

    site = Site()

    async def go() -> list[str]:
        async with client(site, cache=Broken()) as http:
            return [await outcome(http, f"https://n.example{p}") for p in ("/a", "/private/b")]

    assert asyncio.run(go()) == ["ok", "robots_disallowed"]
    assert site.paths() == ["/robots.txt", "/a"]  # the memo holds what the store could not


def test_a_long_robots_txt_is_read_to_its_first_512_kib_without_failing():
    filler = "# " + "x" * 98 + "\n"
    head = "User-agent: *\nDisallow: /early\n"
    body = head + filler * ((ROBOTS_BYTES - len(head)) // len(filler) + 1) + "Disallow: /late\n"
    assert len(body) > ROBOTS_BYTES
    text = robots_text(body.encode())
    assert len(text.encode()) <= ROBOTS_BYTES and text.endswith("\n")
    site = Site(body)

    async def go() -> list[str]:
        async with client(site) as http:
            return [await outcome(http, f"https://n.example{p}") for p in ("/early", "/late")]

    assert asyncio.run(go()) == ["robots_disallowed", "ok"]


def test_crawl_delay_is_capped():
    copy = RobotsCopy("https://n.example", "rules", "User-agent: *\nCrawl-delay: 86400\n")
    assert parse(copy, "ingest").crawl_delay == MAX_CRAWL_DELAY
    assert parse(replace(copy, body="User-agent: *\nCrawl-delay: 2.5\n"), "ingest").crawl_delay == 2.5
    assert parse(replace(copy, body="User-agent: *\nDisallow: /x\n"), "ingest").crawl_delay is None


def test_a_404_robots_txt_on_a_real_server_allows_every_page():
    with FaultServer() as server:
        server.add("/a.html", b"<p>a</p>", {"Content-Type": "text/html"})

        async def go() -> str:
            async with HttpClient(HttpConfig(allow_private_networks=True, per_host_delay=0.0)) as http:
                return await outcome(http, server.url("/a.html"))

        assert asyncio.run(go()) == "ok"
        assert [p for _, p, _ in server.requests] == ["/robots.txt", "/a.html"]


class TimedServer(FaultServer):
    """Records when each request arrived (the monotonic clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[str, float]] = []
        self._times = threading.Lock()

    def _record(self, method, full_path, path, headers) -> None:  # noqa: ANN001
        with self._times:
            self.arrivals.append((path, time.monotonic()))
        super()._record(method, full_path, path, headers)


def test_crawl_delay_spaces_the_starts_of_one_hosts_pages():
    with TimedServer() as server:
        server.add("/robots.txt", b"User-agent: *\nCrawl-delay: 0.6\n", {"Content-Type": "text/plain"})
        for name in ("a", "b"):
            server.add(f"/{name}.html", b"<p>x</p>", {"Content-Type": "text/html"})

        async def go() -> None:
            cfg = HttpConfig(allow_private_networks=True, per_host_delay=0.0,
                             per_host_concurrency=4)
            async with HttpClient(cfg) as http:
                await asyncio.gather(*(http.fetch_page(server.url(f"/{n}.html")) for n in "ab"))

        asyncio.run(go())
        pages = sorted(t for p, t in server.arrivals if p != "/robots.txt")
        assert len(pages) == 2 and pages[1] - pages[0] >= 0.3


def test_host_gate_keeps_the_longer_delay_per_host():
    clock, slept = Clock(0.0), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    async def go() -> None:
        gate = HostGate(4, 1.0, clock=clock, sleep=sleep)
        gate.set_min_delay("a.example", 5.0)
        gate.set_min_delay("a.example", 0.5)  # never lowers it
        for host in ("a.example", "a.example", "b.example", "b.example"):
            async with gate.slot(host):
                pass

    asyncio.run(go())
    assert slept == [5.0, 1.0]


def test_shared_gate_asks_the_ledger_for_the_crawl_delay():
    class Ledger:
        def __init__(self) -> None:
            self.delays: list[tuple[str, float]] = []

        def take_host_turn(self, host, delay, concurrency, hold):
            self.delays.append((host, delay))
            return HostTurn(0, 0.0)

        def end_host_turn(self, host, slot):
            pass

    ledger = Ledger()

    async def go() -> None:
        gate = SharedHostGate(ledger, 2, 1.0, 30.0)
        gate.set_min_delay("a.example", 3.0)
        gate.set_min_delay("b.example", 0.5)  # below per_host_delay: no change
        for host in ("a.example", "b.example"):
            async with gate.slot(host):
                pass

    asyncio.run(go())
    assert ledger.delays == [("a.example", 3.0 + LATE), ("b.example", 1.0 + LATE)]
