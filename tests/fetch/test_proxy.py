"""Proxies (ingest.fetch.proxy): http.proxy, a feed's own proxy, SOCKS5 and the environment's
proxies, each seen by a real proxy on 127.0.0.1 (tests.helpers.forwardproxy); the
private-network guard in front of them; the proxy's password in no message."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from helpers.faultserver import FEED, FaultServer
from helpers.forwardproxy import ForwardProxy, SocksProxy
from ingest.config.model import HttpConfig
from ingest.config.proxy_url import parse_proxy
from ingest.errors import FetchError, PermanentFetchError
from ingest.fetch.client import HttpClient
from ingest.models import Access

PASSWORD = "pr0xy-Pa55word"
RSS = {"Content-Type": "application/rss+xml"}


def config(**settings) -> HttpConfig:
    base = {"allow_private_networks": True, "per_host_delay": 0.0, "timeout": 10.0,
            "robots": False}
    return HttpConfig(**{**base, **settings})


async def fetch(cfg: HttpConfig, url: str, access: Access | None = None, **client):
    async with HttpClient(cfg, **client) as http:
        return await http.fetch_feed(url, access=access)


@pytest.fixture(scope="module")
def site():
    with FaultServer() as server:
        server.add("/feed.xml", FEED, RSS)
        yield server


def test_http_proxy_with_credentials_forwards_the_request(site):
    with ForwardProxy(auth=("user", PASSWORD)) as proxy:
        result = asyncio.run(fetch(config(proxy=proxy.url), site.url("/feed.xml")))
        assert result.content == FEED
        assert [(h.method, h.target, h.allowed) for h in proxy.log] == [
            ("GET", site.url("/feed.xml"), True)]


def test_wrong_proxy_password_names_the_proxy_but_not_the_password(site):
    with ForwardProxy(auth=("user", PASSWORD)) as proxy:
        wrong = proxy.url.replace(PASSWORD, "not-" + PASSWORD)
        with pytest.raises(FetchError) as caught:
            asyncio.run(fetch(config(proxy=wrong), site.url("/feed.xml")))
    message = str(caught.value)
    assert f"http://user:***@127.0.0.1:{proxy.port}" in message and "407" in message
    assert PASSWORD not in message and PASSWORD not in repr(caught.value)


def test_a_feeds_own_proxy_wins_over_http_proxy(site):
    with ForwardProxy() as default, ForwardProxy(auth=("feed", PASSWORD)) as own:
        cfg = config(proxy=default.url)
        asyncio.run(fetch(cfg, site.url("/feed.xml"), Access(proxy=own.url)))
        assert [h.target for h in own.log] == [site.url("/feed.xml")] and default.log == []
        asyncio.run(fetch(cfg, site.url("/feed.xml")))
        assert len(default.log) == 1 and len(own.log) == 1


def test_socks5_proxy_with_credentials(site):
    with SocksProxy(auth=("user", PASSWORD)) as proxy:
        for url in (proxy.url, proxy.url.replace("socks5://", "socks5h://")):
            result = asyncio.run(fetch(config(proxy=url), site.url("/feed.xml")))
            assert result.content == FEED
        assert [(h.target, h.allowed) for h in proxy.log] == [(f"127.0.0.1:{site.port}", True)] * 2
        bad = proxy.url.replace(PASSWORD, "wrong")
        with pytest.raises(FetchError) as caught:
            asyncio.run(fetch(config(proxy=bad), site.url("/feed.xml")))
    assert "socks5://user:***@127.0.0.1" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_trust_env_takes_the_proxy_from_the_environment_and_honours_no_proxy(
        site, monkeypatch):
    with FaultServer(host="127.0.0.2") as other, ForwardProxy() as proxy:
        other.add("/feed.xml", FEED, RSS)
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.2")
        asyncio.run(fetch(config(trust_env=True), site.url("/feed.xml")))
        asyncio.run(fetch(config(trust_env=True), other.url("/feed.xml")))
        assert [h.target for h in proxy.log] == [site.url("/feed.xml")]
        assert other.hits("/feed.xml") == 1
        # an https:// URL goes through HTTPS_PROXY as a CONNECT tunnel (the plain server
        # behind it then fails the TLS handshake: only the route is proven here)
        with pytest.raises(FetchError):
            asyncio.run(fetch(config(trust_env=True), f"https://127.0.0.1:{site.port}/x"))
        assert proxy.log[-1].method == "CONNECT"
        assert proxy.log[-1].target == f"127.0.0.1:{site.port}"
        # without trust_env the environment is ignored
        asyncio.run(fetch(config(), site.url("/feed.xml")))
        assert len(proxy.log) == 2


@pytest.mark.parametrize("url", ["http://10.0.0.1/feed.xml", "http://192.168.1.1/feed.xml",
                                 "http://127.0.0.1:9/feed.xml", "http://[::1]/feed.xml"])
def test_a_literal_private_address_is_refused_before_the_proxy_hears_of_it(url):
    with ForwardProxy() as proxy, SocksProxy() as socks:
        for chosen in (proxy.url, socks.url):
            with pytest.raises(PermanentFetchError) as caught:
                asyncio.run(fetch(config(allow_private_networks=False, proxy=chosen), url))
            assert caught.value.kind == "private_address"
        assert proxy.log == [] and socks.log == []


def test_a_name_resolving_to_a_private_address_is_refused_before_the_proxy():
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]

    with ForwardProxy() as proxy:
        with pytest.raises(PermanentFetchError) as caught:
            asyncio.run(fetch(config(allow_private_networks=False, proxy=proxy.url),
                              "http://intranet.example/feed.xml", resolver=resolver))
        assert caught.value.kind == "private_address" and proxy.log == []


def test_a_proxy_on_loopback_is_used_though_private_networks_are_not_allowed():
    """The proxy's address is the user's choice: only the target is vetted (here a public
    one, by a stub resolver; the proxy's own lookup of the made-up name then fails)."""
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    with SocksProxy() as proxy:
        with pytest.raises(FetchError) as caught:
            asyncio.run(fetch(config(allow_private_networks=False, proxy=proxy.url),
                              "http://news.invalid/feed.xml", resolver=resolver))
        assert caught.value.kind == "connection"
        assert [h.target for h in proxy.log] == ["news.invalid:80"]  # the name, not an address


@pytest.mark.parametrize("reply", [b"", b"\x05", b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_a_proxy_that_breaks_the_socks_protocol_is_a_connection_failure(site, reply):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(64)
                conn.sendall(reply)

        threading.Thread(target=answer, daemon=True).start()
        url = f"socks5://u:{PASSWORD}@127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(FetchError) as caught:
            asyncio.run(fetch(config(proxy=url), site.url("/feed.xml")))
    assert caught.value.kind == "connection" and "socks5://u:***@127.0.0.1" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_bad_proxy_from_the_environment_is_a_clear_error(site, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"ftp://user:{PASSWORD}@proxy.example")
    with pytest.raises(FetchError) as caught:
        asyncio.run(fetch(config(trust_env=True), site.url("/feed.xml")))
    assert "HTTP_PROXY from the environment" in str(caught.value)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("text, address, masked", [
    ("http://u:p%40ss@proxy.example:3128", "http://proxy.example:3128",
     "http://u:***@proxy.example:3128"),
    ("socks5h://proxy.example", "socks5://proxy.example:1080", "socks5h://proxy.example:1080"),
    ("https://[::1]:8443", "https://[::1]:8443", "https://[::1]:8443"),
])
def test_proxy_urls(text, address, masked):
    proxy = parse_proxy(text)
    assert (proxy.address, proxy.masked) == (address, masked)
    assert "p@ss" not in repr(proxy)
