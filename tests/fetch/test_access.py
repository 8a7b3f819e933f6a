"""A feed's request settings on the wire (ingest.fetch.access): headers, cookies, the
User-Agent and Basic auth on every hop to the feed's origin, on no hop anywhere else."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from ingest.config.model import HttpConfig
from ingest.fetch.client import HttpClient
from ingest.models import Access

ACCESS = Access(headers=(("X-Api-Key", "k-123"), ("Accept-Language", "it")),
                cookies=(("consent", "yes"), ("sid", "s-456")), user_agent="FeedBot/2",
                username="bob", password="pw-789")
PRIVATE = ("x-api-key", "accept-language", "cookie", "authorization")
CFG = HttpConfig(allow_private_networks=True, per_host_delay=0.0, robots=False,
                 user_agent="ingest-test/1")


def fetch(handler, url: str, access: Access | None, page: bool = False) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def go() -> None:
        async with HttpClient(CFG, transport=httpx.MockTransport(record)) as http:
            if page:
                await http.fetch_page(url, access=access)
            else:
                await http.fetch_feed(url, access=access)
    asyncio.run(go())
    return seen


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, html="<p>hi</p>")


@pytest.mark.parametrize("page", [False, True])
def test_the_settings_are_sent(page):
    [request] = fetch(ok, "https://news.example/feed.xml", ACCESS, page)
    headers = request.headers
    assert headers["x-api-key"] == "k-123" and headers["accept-language"] == "it"
    assert headers["cookie"] == "consent=yes; sid=s-456"
    assert headers["user-agent"] == "FeedBot/2"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"bob:pw-789").decode()


def test_no_settings_no_extra_headers():
    [request] = fetch(ok, "https://news.example/feed.xml", None)
    assert not any(name in request.headers for name in PRIVATE)
    assert request.headers["user-agent"] == "ingest-test/1"


def redirect_to(target: str):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": target})
        return ok(request)
    return handler


@pytest.mark.parametrize("target", [
    "https://other.example/next",  # another host
    "https://news.example:8443/next",  # another port
    "http://news.example/next",  # a downgrade to http
    "https://sub.news.example/next",
])
def test_a_redirect_to_another_origin_carries_none_of_them(target):
    first, second = fetch(redirect_to(target), "https://news.example/start", ACCESS)
    assert first.headers["cookie"] and first.headers["authorization"]
    assert str(second.url) == target
    assert not [name for name in PRIVATE if name in second.headers]
    assert second.headers["user-agent"] == "ingest-test/1"


@pytest.mark.parametrize("start, target", [
    ("https://news.example/start", "https://news.example/next"),
    ("http://news.example/start", "https://news.example/next"),  # the https upgrade
])
def test_a_redirect_within_the_origin_keeps_them(start, target):
    _, second = fetch(redirect_to(target), start, ACCESS)
    assert second.headers["cookie"] == "consent=yes; sid=s-456"  # httpx drops it: set again
    assert second.headers["x-api-key"] == "k-123" and second.headers["authorization"]


def test_back_on_the_origin_after_a_detour_they_return():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "news.example" and request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "https://cdn.example/hop"})
        if request.url.host == "cdn.example":
            return httpx.Response(302, headers={"Location": "https://news.example/end"})
        return ok(request)

    start, detour, end = fetch(handler, "https://news.example/start", ACCESS)
    assert "cookie" not in detour.headers and "x-api-key" not in detour.headers
    assert end.headers["cookie"] and end.headers["x-api-key"] == "k-123"


def test_no_secret_in_the_reprs():
    shown = repr(ACCESS) + repr(fetch(ok, "https://news.example/f", ACCESS)[0].extensions)
    assert not any(secret in shown for secret in ("k-123", "s-456", "pw-789"))


def test_cookies_the_site_set_are_sent_beside_the_feeds():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/first":
            return httpx.Response(200, html="<p>hi</p>", headers={"Set-Cookie": "srv=1; Path=/"})
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "https://other.example/next"})
        return ok(request)

    async def go() -> None:
        async with HttpClient(CFG, transport=httpx.MockTransport(handler)) as http:
            await http.fetch_page("https://news.example/first", access=ACCESS)
            await http.fetch_page("https://news.example/second", access=ACCESS)
            await http.fetch_page("https://news.example/start", access=ACCESS)
    asyncio.run(go())
    assert seen[1].headers["cookie"] == "consent=yes; sid=s-456; srv=1"
    assert seen[2].headers["cookie"] == "consent=yes; sid=s-456; srv=1"
    assert "cookie" not in seen[3].headers  # other.example: neither ours nor news.example's
