"""The fetch stage's client: classification (ingest.fetch.classify, pure), HostGate and
host rests (ingest.fetch.hosts), MockTransport units, and a real fault server.

Network: MockTransport tests use a stub resolver (no DNS, no sockets); fault-server tests
talk to 127.0.0.1 only, with allow_private_networks=True.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import sys
import threading
import time
import tracemalloc
import zlib

import brotli
import httpx
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from helpers.faultserver import FaultServer, brotli_bomb, gzip_bomb, stacked_gzip_bomb, zstd_bomb
from ingest.config.model import HttpConfig
from ingest.errors import (
    FetchError,
    HostBackoff,
    NotModified,
    PermanentFetchError,
    TransientFetchError,
)
from ingest.fetch.classify import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    classify_response,
    is_page_type,
    parse_retry_after,
    translate_error,
)
from ingest.fetch.client import FEED_ACCEPT, PAGE_ACCEPT, HttpClient
from ingest.fetch.content_coding import PIECE, BodyDecoder, OverLimit
from ingest.fetch.hosts import GIVE_UP_AFTER, HOST_REST, HostGate, host_of
from ingest.fetch.netguard import AddressRefused, ResolveFailed

NOW = 1_717_408_800.0  # Mon, 03 Jun 2024 10:00:00 GMT
URL = "https://x/feed.xml"


def run(coro):
    return asyncio.run(coro)


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


# --- classification: pure ------------------------------------------------------------

@pytest.mark.parametrize("status, headers, error, kind, retry_after", [
    (200, {}, None, None, None),
    (204, {}, None, None, None),
    (304, {}, NotModified, "not_modified", None),
    (404, {}, PermanentFetchError, "http_404", None),
    (410, {}, PermanentFetchError, "http_410", None),
    (400, {}, PermanentFetchError, "http_400", None),
    (401, {}, PermanentFetchError, "http_401", None),
    (403, {}, PermanentFetchError, "http_403", None),
    (451, {}, PermanentFetchError, "http_451", None),
    (300, {}, PermanentFetchError, "http_300", None),
    (408, {}, TransientFetchError, "http_408", None),
    (425, {}, TransientFetchError, "http_425", None),
    (500, {}, TransientFetchError, "http_500", None),
    (502, {}, TransientFetchError, "http_502", None),
    (503, {}, TransientFetchError, "http_503", None),
    (503, {"retry-after": "soon"}, TransientFetchError, "http_503", None),
    (503, {"retry-after": "120"}, HostBackoff, "backoff", 120.0),
    (429, {"retry-after": "30"}, HostBackoff, "backoff", 30.0),
    (429, {}, HostBackoff, "backoff", DEFAULT_RETRY_AFTER),
    (429, {"retry-after": "soon"}, HostBackoff, "backoff", DEFAULT_RETRY_AFTER),
    (429, {"retry-after": "99999999"}, HostBackoff, "backoff", MAX_RETRY_AFTER),
    # HTTP-date: measured from the server's Date header when there is one...
    (503, {"retry-after": "Mon, 03 Jun 2024 10:01:30 GMT",
           "date": "Mon, 03 Jun 2024 10:01:00 GMT"}, HostBackoff, "backoff", 30.0),
    # ...else from our wall clock; a date in the past means "now"
    (503, {"retry-after": "Mon, 03 Jun 2024 10:01:30 GMT"}, HostBackoff, "backoff", 90.0),
    (429, {"retry-after": "Mon, 03 Jun 2024 09:00:00 GMT"}, HostBackoff, "backoff", 0.0),
])
def test_classify_response(status, headers, error, kind, retry_after):
    result = classify_response(URL, status, headers, NOW)
    if error is None:
        assert result is None
        return
    assert type(result) is error and result.kind == kind and result.url == URL
    assert str(result).startswith(f"{URL}: ")
    if retry_after is not None:
        assert result.retry_after == pytest.approx(retry_after)


def test_backoff_message_names_url_and_wait():
    error = classify_response(URL, 503, {"retry-after": "120"}, NOW)
    assert str(error) == "https://x/feed.xml: HTTP 503 (retry after 120s)"


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("  45 ", 45.0), ("-5", None), ("1.5", None),
    ("Mon, 03 Jun 2024 10:00:10 GMT", 10.0), ("not a date", None),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


CFG = HttpConfig(timeout=7, max_redirects=5)


@pytest.mark.parametrize("exc, error, kind, text", [
    (httpx.TooManyRedirects("x"), PermanentFetchError, "too_many_redirects", "too many redirects"),
    (httpx.ConnectError("[Errno 111] refused"), TransientFetchError, "connection", "refused"),
    (httpx.ReadError("reset"), TransientFetchError, "connection", "reset"),
    (httpx.RemoteProtocolError("bad"), TransientFetchError, "connection", "bad"),
    (httpx.ProxyError("proxy"), TransientFetchError, "connection", "proxy"),
    (httpx.ReadTimeout("slow"), TransientFetchError, "timeout", "timed out after 7s"),
    (httpx.ConnectTimeout("slow"), TransientFetchError, "timeout", "timed out after 7s"),
    (TimeoutError(), TransientFetchError, "timeout", "timed out after 7s"),
    (httpx.InvalidURL("nope"), PermanentFetchError, "bad_url", "bad URL"),
    (httpx.UnsupportedProtocol("ftp"), PermanentFetchError, "bad_url", "bad URL"),
    (httpx.DecodingError("crc"), PermanentFetchError, "decoding", "does not decode"),
    (AddressRefused("10.0.0.5 is a private address", url=URL), PermanentFetchError,
     "private_address", f"{URL}: refused: 10.0.0.5 is a private address"),
    (AddressRefused("nope", url="http://in/"), PermanentFetchError, "private_address",
     f"{URL}: redirect to http://in/ refused: nope"),
    (ResolveFailed("cannot resolve x", url=URL), TransientFetchError, "dns", "cannot resolve"),
])
def test_translate_error(exc, error, kind, text):
    result = translate_error(URL, exc, CFG)
    assert type(result) is error and result.kind == kind and text in str(result)
    assert str(result).startswith(URL) and "\n" not in str(result)


@pytest.mark.parametrize("url, host", [
    ("https://Example.COM/feed", "example.com"),
    ("https://example.com:443/feed", "example.com"),
    ("http://example.com:80/", "example.com"),
    ("http://example.com:8080/", "example.com:8080"),
    ("https://example.com:80/", "example.com:80"),
    ("http://127.0.0.1:5000/x", "127.0.0.1:5000"),
    ("http://[::1]:8080/", "[::1]:8080"),
    ("not a url", ""),
])
def test_host_of(url, host):
    assert host_of(url) == host


@pytest.mark.parametrize("content_type, ok", [
    ("", True), ("text/html", True), ("text/html; charset=utf-8", True), ("TEXT/HTML", True),
    ("application/xhtml+xml", True), ("application/xml", True), ("text/xml", True),
    ("application/rss+xml", True),
    ("application/pdf", False), ("audio/mpeg", False), ("image/png", False),
    ("image/svg+xml", False), ("video/mp4", False), ("application/octet-stream", False),
    ("application/zip", False), ("application/json", False),
])
def test_is_page_type(content_type, ok):
    assert is_page_type(content_type) is ok


# --- HostGate: fake clock and sleep --------------------------------------------------

class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_gate_reserves_spaced_turns_for_concurrent_requests_to_one_host():
    sleeps: list[tuple[str, float]] = []
    gate = HostGate(concurrency=5, delay=2.0, clock=lambda: 0.0,
                    sleep=lambda s: asyncio.sleep(0, sleeps.append(s)))

    async def request(host: str) -> None:
        async with gate.slot(host):
            pass

    async def main() -> None:
        await asyncio.gather(request("a"), request("a"), request("a"), request("b"))

    run(main())
    assert sleeps == [2.0, 4.0]  # a: 0, 2, 4; b starts at once


def test_gate_delay_counts_from_the_previous_start():
    fake = FakeTime()
    gate = HostGate(concurrency=1, delay=2.0, clock=fake.clock, sleep=fake.sleep)

    async def request(host: str, at: float) -> None:
        fake.now = max(fake.now, at)
        async with gate.slot(host):
            pass

    async def main() -> None:
        await request("a", 0.0)
        await request("a", 0.5)  # waits until 2.0
        await request("b", 2.0)  # another host: no wait
        await request("a", 10.0)  # long after: no wait

    run(main())
    assert fake.sleeps == [1.5]


def test_gate_limits_requests_in_flight_per_host():
    gate = HostGate(concurrency=2, delay=0.0)
    in_flight = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}

    async def request(host: str) -> None:
        async with gate.slot(host):
            in_flight[host] += 1
            peak[host] = max(peak[host], in_flight[host])
            await asyncio.sleep(0.01)
            in_flight[host] -= 1

    async def main() -> None:
        await asyncio.gather(*(request(h) for h in "aaaaaabbb"))

    run(main())
    assert peak == {"a": 2, "b": 2}


def test_gate_releases_slot_when_request_fails():
    gate = HostGate(concurrency=1, delay=0.0)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            async with gate.slot("a"):
                raise RuntimeError("boom")
        async with asyncio.timeout(1):
            async with gate.slot("a"):
                pass

    run(main())


# --- MockTransport units --------------------------------------------------------------

def mock_client(handler, *, fake: FakeTime | None = None, **cfg) -> HttpClient:
    cfg.setdefault("per_host_delay", 0.0)
    kwargs = {"clock": fake.clock, "sleep": fake.sleep} if fake else {}
    cfg.setdefault("robots", False)  # one request per call: robots.txt is tests/fetch/test_robots.py's
    return HttpClient(HttpConfig(**cfg), transport=httpx.MockTransport(handler),
                      resolver=public_resolver, wall_clock=lambda: NOW, **kwargs)


async def fetch(client: HttpClient, method: str, url: str, **kwargs):
    async with client:
        return await getattr(client, method)(url, **kwargs)


def test_feed_request_headers_and_conditional_get():
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(304)

    client = mock_client(handler, user_agent="ingest-test/1")
    with pytest.raises(NotModified) as info:
        run(fetch(client, "fetch_feed", "https://feeds.example/rss", etag='"abc"',
                  last_modified="Mon, 03 Jun 2024 10:00:00 GMT"))
    assert info.value.kind == "not_modified"
    headers = seen[0].headers
    assert headers["if-none-match"] == '"abc"'
    assert headers["if-modified-since"] == "Mon, 03 Jun 2024 10:00:00 GMT"
    assert headers["accept"] == FEED_ACCEPT
    assert headers["user-agent"] == "ingest-test/1"
    assert headers["accept-encoding"] == "gzip, deflate, br, zstd"


def test_page_request_has_no_validators():
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, html="<p>hi</p>")

    run(fetch(mock_client(handler), "fetch_page", "https://news.example/a"))
    assert seen[0].headers["accept"] == PAGE_ACCEPT
    assert "if-none-match" not in seen[0].headers


def test_result_headers_lowered_and_repeats_joined_final_url_after_redirect():
    def handler(request):
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "https://news.example/new"})
        return httpx.Response(200, content=b"<rss/>", headers=[
            ("Content-Type", "application/rss+xml"), ("ETag", '"v2"'),
            ("Cache-Control", "max-age=60"), ("Cache-Control", "public")])

    fake = FakeTime()
    result = run(fetch(mock_client(handler, fake=fake), "fetch_feed", "https://news.example/old"))
    assert result.url == "https://news.example/old"
    assert result.final_url == "https://news.example/new"
    assert result.status == 200 and result.content == b"<rss/>" and result.elapsed == 0.0
    assert result.etag == '"v2"' and result.content_type == "application/rss+xml"
    assert result.headers["cache-control"] == "max-age=60, public"
    assert all(name == name.lower() for name in result.headers)


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw, as some servers send
    ("identity", lambda data: data),
])
@pytest.mark.parametrize("streamed", [True, False])
def test_body_is_decompressed(encoding, encode, streamed):
    body = b"<html>" + b"news " * 200_000 + b"</html>"  # 1 MB: several inflated pieces
    data = encode(body)

    def handler(request):
        headers = {"Content-Encoding": encoding, "Content-Type": "text/html"}
        if streamed:  # as from the network: ingest decodes it
            return httpx.Response(200, headers=headers, stream=httpx.ByteStream(data))
        return httpx.Response(200, headers=headers, content=data)  # httpx decodes it up front

    assert run(fetch(mock_client(handler), "fetch_page", "https://n.example/")).content == body


def test_compressed_body_over_cap_is_cut_while_inflating():
    bomb = gzip.compress(bytes(50_000_000))  # ~50 KB

    def handler(request):
        return httpx.Response(200, headers={"Content-Encoding": "gzip"},
                              stream=httpx.ByteStream(bomb))

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler, max_feed_bytes=1_000_000), "fetch_feed",
                  "https://n.example/"))
    assert info.value.kind == "too_large"


def test_corrupt_gzip_is_permanent_decoding_error():
    def handler(request):
        return httpx.Response(200, headers={"Content-Encoding": "gzip"},
                              stream=httpx.ByteStream(b"\x1f\x8bnot gzip at all"))

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), "fetch_page", "https://n.example/"))
    assert info.value.kind == "decoding"


# --- content codings (ingest.fetch.content_coding) through the client -------------------------

class Chunks(httpx.AsyncByteStream):
    """A body as the network gives it: ``size`` bytes at a time."""

    def __init__(self, data: bytes, size: int = 65536) -> None:
        self.data, self.size = data, size

    async def __aiter__(self):
        for start in range(0, len(self.data), self.size):
            yield self.data[start:start + self.size]


ENCODERS = {
    "gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress,
    "br": lambda data: brotli.compress(data, quality=5),  # 11, the default, takes seconds
    "zstd": zstandard.ZstdCompressor().compress,
    "identity": lambda data: data,
}


def encoded(data: bytes, header: str) -> bytes:
    """``data`` with the codings of ``header`` applied, in the header's order."""
    for coding in header.split(","):
        if coding.strip():
            data = ENCODERS[coding.strip().lower()](data)
    return data


def served(data: bytes, header: str, size: int = 65536):
    def handler(request):
        headers = {"Content-Encoding": header, "Content-Type": "text/html"}
        return httpx.Response(200, headers=headers, stream=Chunks(data, size))
    return handler


@pytest.mark.parametrize("header", [
    "br", "zstd", "gzip, gzip", "x-gzip", "GZIP", "Gzip ,  Deflate", "zstd, br, gzip",
    "identity, gzip", "br, identity", "deflate, zstd", "",
])
def test_codings_are_undone_in_reverse_order_of_the_header(header):
    body = b"<html>" + b"".join(b"story %d " % i for i in range(100_000)) + b"</html>"
    handler = served(encoded(body, header), header, size=5000)
    assert run(fetch(mock_client(handler), "fetch_page", "https://n.example/")).content == body


def test_raw_deflate_arriving_a_byte_at_a_time_is_undone():
    body = b"<p>" + b"raw deflate, as some servers send it " * 50 + b"</p>"
    raw = zlib.compress(body)[2:-4]  # no zlib header: the first bytes tell
    handler = served(raw, "deflate", size=1)
    assert run(fetch(mock_client(handler), "fetch_page", "https://n.example/")).content == body


def test_data_after_the_end_of_a_gzip_body_is_ignored():
    body = b"<p>the end is here</p>"
    handler = served(gzip.compress(body) + b"\0junk" * 100_000, "gzip", size=4096)
    assert run(fetch(mock_client(handler), "fetch_page", "https://n.example/")).content == body


def test_a_layer_over_the_cap_is_too_large_though_the_body_is_small():
    # the inner gzip ends after a few bytes; the 3 MB of zeros after it are ignored, but
    # the outer layer still has to produce them: that work is bounded by the cap too
    inner = gzip.compress(b"<p>small</p>") + bytes(3_000_000)
    handler = served(gzip.compress(inner), "gzip, gzip")
    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler, max_page_bytes=1_000_000), "fetch_page",
                  "https://n.example/"))
    assert info.value.kind == "too_large"


@pytest.mark.parametrize("header, text", [
    ("compress", "unsupported Content-Encoding 'compress' (ingest undoes gzip, deflate, br, zstd)"),
    ("gzip, x-custom", "unsupported Content-Encoding 'x-custom'"),
    ("gzip, gzip, gzip, gzip", "4 content codings stacked ('gzip, gzip, gzip, gzip'); at most 3"),
    ("gzip," * 5000, "5000 content codings stacked ('gzip,gzip,"),
])
def test_codings_that_cannot_be_undone_are_refused_without_reading_the_body(header, text):
    def handler(request):
        return httpx.Response(200, headers={"Content-Encoding": header}, stream=ExplodingStream())

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), "fetch_page", "https://n.example/doc"))
    assert info.value.kind == "decoding"
    assert str(info.value).startswith(f"https://n.example/doc: body does not decode: {text}")


@pytest.mark.parametrize("module, coding", [("brotli", "br"), ("zstandard", "zstd")])
def test_a_coding_whose_package_is_missing_is_neither_offered_nor_undone(monkeypatch, module,
                                                                         coding):
    monkeypatch.setitem(sys.modules, module, None)  # `import` now fails, as when not installed
    offered: list[str] = []

    def handler(request):
        offered.append(request.headers["accept-encoding"])
        return httpx.Response(200, headers={"Content-Encoding": coding}, stream=ExplodingStream())

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), "fetch_page", "https://n.example/"))
    assert info.value.kind == "decoding"
    assert f"Content-Encoding {coding} needs {module}" in str(info.value)
    assert coding not in offered[0].split(", ") and offered[0].startswith("gzip, deflate")


def test_zstd_window_over_8_mib_is_refused():
    params = zstandard.ZstdCompressionParameters(window_log=27)  # 128 MiB, past RFC 9659
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
    data = compressor.compress(b"<p>wide</p>" * 1000) + compressor.flush()
    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(served(data, "zstd")), "fetch_page", "https://n.example/"))
    assert info.value.kind == "decoding" and "bad zstd data" in str(info.value)


@pytest.mark.parametrize("size", [PIECE - 1, PIECE, PIECE + 100, 2 * PIECE + 7])
@pytest.mark.parametrize("header, encode", [
    ("gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw: no trailer after the data
    ("br", brotli.compress), ("zstd", zstandard.ZstdCompressor().compress),
])
def test_a_body_around_a_piece_boundary_comes_out_whole(header, encode, size):
    body = bytes(size)  # a full piece may end with output still inside the decoder
    assert b"".join(BodyDecoder(header, 4 * PIECE).feed(encode(body))) == body


@pytest.mark.parametrize("header, bomb", [
    ("gzip", lambda: gzip_bomb(64)),
    ("gzip, gzip", lambda: gzip.compress(gzip_bomb(64))),
    ("br", lambda: brotli.compress(bytes(64 << 20), quality=1)),
    ("zstd", zstd_bomb),
    ("zstd, gzip", lambda: gzip.compress(zstd_bomb())),
    ("br, zstd", lambda: zstandard.ZstdCompressor().compress(brotli.compress(bytes(64 << 20),
                                                                            quality=1))),
])
def test_every_piece_is_bounded_however_far_the_input_expands(header, bomb):
    limit = 32 * PIECE
    sizes: list[int] = []
    with pytest.raises(OverLimit):
        for piece in BodyDecoder(header, limit).feed(bomb()):  # the whole bomb at once
            sizes.append(len(piece))
    assert max(sizes) <= PIECE and sum(sizes) <= limit


class ExplodingStream(httpx.AsyncByteStream):
    """A body that fails the test if anyone reads it."""

    async def __aiter__(self):
        pytest.fail("the body was read")
        yield b""  # pragma: no cover


@pytest.mark.parametrize("headers, kind", [
    ({"Content-Type": "application/pdf"}, "not_html"),
    ({"Content-Type": "image/jpeg"}, "not_html"),
    ({"Content-Type": "text/html", "Content-Length": "6000000"}, "too_large"),
])
def test_page_refused_from_headers_without_reading_body(headers, kind):
    def handler(request):
        return httpx.Response(200, headers=headers, stream=ExplodingStream())

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler, max_page_bytes=5_000_000), "fetch_page",
                  "https://n.example/doc"))
    assert info.value.kind == kind and "https://n.example/doc" in str(info.value)


def test_page_without_content_type_is_allowed():
    def handler(request):
        return httpx.Response(200, content=b"<p>untyped</p>")

    assert run(fetch(mock_client(handler), "fetch_page", "https://n.example/")).content


def test_feed_body_over_cap_while_streaming():
    async def body():
        for _ in range(100):
            yield b"x" * 4096

    def handler(request):  # no Content-Length: only the streaming check can stop it
        return httpx.Response(200, content=body())

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler, max_feed_bytes=10_000), "fetch_feed", "https://n.example/"))
    assert info.value.kind == "too_large"


@pytest.mark.parametrize("url", ["ftp://n.example/feed", "not a url", "http:///nohost", ""])
def test_bad_urls_are_permanent(url):
    def handler(request):
        pytest.fail("no request expected")

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), "fetch_feed", url))
    assert info.value.kind == "bad_url"


IDNA_2008_REFUSES = "http://xn--i-7iq.ws/"  # i❤.ws: a real domain; IDNA 2008 has no emoji


@pytest.mark.parametrize("method", ["fetch_page", "fetch_feed"])
def test_host_name_httpx_cannot_use_is_bad_url(method):
    def handler(request):
        pytest.fail("no request expected")

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), method, IDNA_2008_REFUSES))
    assert info.value.kind == "bad_url"
    assert str(info.value).startswith(f"{IDNA_2008_REFUSES}: bad URL: the host name is not "
                                      "valid IDNA (Codepoint U+2764")


def test_redirect_to_a_host_name_httpx_cannot_use_is_bad_url():
    def handler(request):
        return httpx.Response(302, headers={"Location": IDNA_2008_REFUSES})

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), "fetch_page", "https://n.example/"))
    assert info.value.kind == "bad_url"
    assert str(info.value).startswith("https://n.example/: bad URL: a redirect went to a host "
                                      "name that is not valid IDNA")


_HOSTS = st.text(st.sampled_from("ab.-_:[]@%9xn\u00e4\u2764\u0301\u200d\udcff\x00 "), max_size=20)
URLS = st.one_of(
    st.text(max_size=60),
    st.builds("{}://{}{}".format, st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
              st.one_of(_HOSTS, st.builds("xn--{}".format, _HOSTS)), st.text(max_size=20)),
)


@pytest.mark.fuzz
@given(url=URLS, location=st.one_of(st.none(), URLS),
       method=st.sampled_from(["fetch_page", "fetch_feed"]))
def test_any_url_gives_a_result_or_a_fetch_error(url, location, method):
    def handler(request):
        if location is not None and request.url.path != "/landed":
            value = location.encode("utf-8", "replace")  # a server sends bytes
            return httpx.Response(302, headers=[(b"Location", value)])
        return httpx.Response(200, html="<p>landed</p>")

    try:
        run(fetch(mock_client(handler), method, url))
    except FetchError as exc:
        assert str(exc).startswith(f"{url}: ")


def test_redirect_to_other_scheme_is_bad_url():
    def handler(request):
        return httpx.Response(302, headers={"Location": "ftp://n.example/file"})

    with pytest.raises(PermanentFetchError) as info:
        run(fetch(mock_client(handler), "fetch_page", "https://n.example/"))
    assert info.value.kind == "bad_url"


def test_backoff_covers_feeds_and_pages_of_the_host_until_it_expires():
    fake = FakeTime()
    paths: list[str] = []

    def handler(request):
        paths.append(request.url.host + request.url.path)
        if request.url.path == "/feed":
            return httpx.Response(503, headers={"Retry-After": "120"})
        return httpx.Response(200, html="<p>ok</p>")

    async def main() -> None:
        async with mock_client(handler, fake=fake) as client:
            with pytest.raises(HostBackoff) as asked:
                await client.fetch_feed("https://n.example/feed")
            assert asked.value.requested
            for call in (client.fetch_feed, client.fetch_page):  # any URL of the host
                with pytest.raises(HostBackoff) as resting:
                    await call("https://N.example/other")
                assert not resting.value.requested and resting.value.retry_after == 120.0
            fake.now = 119.0
            with pytest.raises(HostBackoff) as info:
                await client.fetch_page("https://n.example/article")
            assert info.value.retry_after == pytest.approx(1.0)
            await client.fetch_page("https://other.example/article")  # other hosts unaffected
            fake.now = 120.0
            await client.fetch_page("https://n.example/article")  # the rest is over

    run(main())
    assert paths == ["n.example/feed", "other.example/article", "n.example/article"]


@pytest.mark.timeout(10)
def test_a_host_that_keeps_timing_out_is_left_alone_for_a_rest():
    fake = FakeTime()
    paths: list[str] = []

    async def handler(request):
        paths.append(request.url.host + request.url.path)
        if request.url.path.startswith("/drip"):
            await asyncio.sleep(5)  # past the deadline (0.1 s)
        status = 404 if request.url.path == "/gone" else 200
        return httpx.Response(status, html="<p>ok</p>")

    async def timeouts(client: HttpClient, *paths: str) -> None:
        for path in paths:
            with pytest.raises(TransientFetchError) as info:
                await client.fetch_page(f"https://n.example{path}")
            assert info.value.kind == "timeout"

    async def main() -> None:
        async with mock_client(handler, fake=fake, timeout=0.1) as client:
            # an answer in between, a page or a 404, starts the count again
            await timeouts(client, "/drip/1", "/drip/2")
            await client.fetch_page("https://n.example/fine")
            await timeouts(client, "/drip/3", "/drip/4")
            with pytest.raises(PermanentFetchError):
                await client.fetch_page("https://n.example/gone")
            await timeouts(client, "/drip/5", "/drip/6", "/drip/7")  # GIVE_UP_AFTER in a row
            with pytest.raises(HostBackoff) as info:
                await client.fetch_page("https://n.example/fine")
            assert not info.value.requested and info.value.retry_after == HOST_REST
            assert str(info.value) == ("https://n.example/fine: n.example timed out 3 times "
                                       "in a row, left alone (another 300s)")
            await client.fetch_page("https://other.example/fine")  # other hosts unaffected
            fake.now += HOST_REST
            await client.fetch_page("https://n.example/fine")  # the rest is over
            await timeouts(client, "/drip/8", "/drip/9")  # counted afresh

    run(main())
    assert GIVE_UP_AFTER == 3
    assert paths == ["n.example/drip/1", "n.example/drip/2", "n.example/fine",
                     "n.example/drip/3", "n.example/drip/4", "n.example/gone",
                     "n.example/drip/5", "n.example/drip/6", "n.example/drip/7",
                     "other.example/fine", "n.example/fine", "n.example/drip/8",
                     "n.example/drip/9"]


@pytest.mark.timeout(10)
def test_gate_wait_does_not_count_against_the_deadline():
    async def handler(request):
        await asyncio.sleep(0.6)
        return httpx.Response(200, html="<p>slow</p>")

    async def main() -> None:
        async with mock_client(handler, timeout=1.0, per_host_concurrency=1) as client:
            pages = [client.fetch_page(f"https://n.example/{i}") for i in range(2)]
            results = await asyncio.gather(*pages)  # the second waits 0.6 s, then takes 0.6 s
        assert all(r.status == 200 for r in results)

    run(main())


@pytest.mark.timeout(10)
def test_slow_handler_hits_the_deadline():
    async def handler(request):
        await asyncio.sleep(5)
        return httpx.Response(200)

    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        run(fetch(mock_client(handler, timeout=0.2), "fetch_page", "https://n.example/"))
    assert info.value.kind == "timeout" and time.monotonic() - started < 2


def test_redirect_body_is_never_read():
    def handler(request):
        if request.url.path == "/r":
            return httpx.Response(302, headers={"Location": "/end"}, stream=ExplodingStream())
        return httpx.Response(200, html="<p>end</p>")

    result = run(fetch(mock_client(handler), "fetch_page", "https://n.example/r"))
    assert result.final_url == "https://n.example/end"


# --- against a real server on 127.0.0.1 -------------------------------------------------

def local_client(**cfg) -> HttpClient:
    cfg.setdefault("per_host_delay", 0.0)
    return HttpClient(HttpConfig(allow_private_networks=True, robots=False, **cfg))


@pytest.mark.parametrize("path, error, kind", [
    ("/status/500", TransientFetchError, "http_500"),
    ("/status/503", TransientFetchError, "http_503"),
    ("/status/404", PermanentFetchError, "http_404"),
    ("/status/410", PermanentFetchError, "http_410"),
    ("/redirect-loop", PermanentFetchError, "too_many_redirects"),
    ("/redirect-chain/6", PermanentFetchError, "too_many_redirects"),
    ("/pdf", PermanentFetchError, "not_html"),
    ("/audio", PermanentFetchError, "not_html"),
])
@pytest.mark.timeout(10)
def test_server_failures(fault_server, path, error, kind):
    with pytest.raises(error) as info:
        run(fetch(local_client(), "fetch_page", fault_server.url(path)))
    assert type(info.value) is error and info.value.kind == kind
    assert str(info.value).startswith(fault_server.url(path))


@pytest.mark.timeout(10)
def test_server_redirect_loop_stops_after_max_redirects(fault_server):
    with pytest.raises(PermanentFetchError):
        run(fetch(local_client(max_redirects=3), "fetch_page", fault_server.url("/redirect-loop")))
    assert fault_server.hits("/redirect-loop") == 4


@pytest.mark.timeout(10)
def test_server_redirect_chain_within_limit(fault_server):
    result = run(fetch(local_client(), "fetch_page", fault_server.url("/redirect-chain/5")))
    assert result.final_url == fault_server.url("/redirect-chain/0")
    assert b"end of chain" in result.content


@pytest.mark.timeout(10)
def test_server_429_backs_off_the_host_without_new_requests(fault_server):
    async def main() -> None:
        async with local_client() as client:
            with pytest.raises(HostBackoff) as first:
                await client.fetch_feed(fault_server.url("/status/429?retry_after=120"))
            assert first.value.retry_after == 120.0
            assert "HTTP 429 (retry after 120s)" in str(first.value)
            for call in (client.fetch_feed, client.fetch_page):
                with pytest.raises(HostBackoff):
                    await call(fault_server.url("/etag-feed"))

    run(main())
    assert fault_server.hits("/status/429") == 1
    assert fault_server.hits("/etag-feed") == 0 and len(fault_server.requests) == 1


@pytest.mark.timeout(10)
def test_server_503_with_retry_after_is_backoff(fault_server):
    with pytest.raises(HostBackoff) as info:
        run(fetch(local_client(), "fetch_page", fault_server.url("/status/503?retry_after=30")))
    assert info.value.retry_after == 30.0


@pytest.mark.timeout(10)
def test_server_etag_round_trip(fault_server):
    async def main() -> None:
        async with local_client() as client:
            first = await client.fetch_feed(fault_server.url("/etag-feed"))
            with pytest.raises(NotModified):
                await client.fetch_feed(fault_server.url("/etag-feed"), etag=first.etag)
            with pytest.raises(NotModified):
                await client.fetch_feed(fault_server.url("/etag-feed"),
                                        last_modified=first.last_modified)
        assert b"<rss" in first.content

    run(main())
    method, path, headers = fault_server.requests[1]
    assert (method, path, headers["if-none-match"]) == ("GET", "/etag-feed", '"v1"')
    assert headers["accept"] == FEED_ACCEPT


@pytest.mark.timeout(10)
def test_server_drip_is_cut_at_the_deadline(fault_server):
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        run(fetch(local_client(timeout=2.0), "fetch_page", fault_server.url("/drip")))
    assert info.value.kind == "timeout"
    assert 1.9 < time.monotonic() - started < 3.0


def peak_memory(coro) -> tuple[BaseException | None, float, int]:
    """Run ``coro``; return what it raised, seconds taken and peak traced bytes."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        run(coro)
        raised = None
    except Exception as exc:  # noqa: BLE001
        raised = exc
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return raised, elapsed, peak


@pytest.mark.parametrize("path", ["/big/400", "/big/400?length=1", "/big/400?type=xml"])
@pytest.mark.timeout(10)
def test_server_big_body_is_cut_at_the_cap(fault_server, path):
    cap = 2_000_000
    client = local_client(max_page_bytes=cap, max_feed_bytes=cap)
    raised, elapsed, peak = peak_memory(fetch(client, "fetch_feed", fault_server.url(path)))
    assert isinstance(raised, PermanentFetchError) and raised.kind == "too_large"
    assert elapsed < 2.0  # 400 MB were not read
    assert peak < 2 * cap + 1_000_000


BOMBS = {"/gzip-bomb": gzip_bomb, "/gzip-gzip-bomb": stacked_gzip_bomb, "/br-bomb": brotli_bomb,
         "/zstd-bomb": zstd_bomb}


@pytest.mark.parametrize("path", BOMBS)
@pytest.mark.timeout(15)
def test_server_bomb_is_cut_after_decoding(fault_server, path):
    BOMBS[path]()  # built before measuring (the server keeps it)
    cap = 2_000_000
    client = local_client(max_page_bytes=cap)
    raised, elapsed, peak = peak_memory(fetch(client, "fetch_page", fault_server.url(path)))
    assert isinstance(raised, PermanentFetchError) and raised.kind == "too_large"
    assert elapsed < 3.0
    # within a few MB of the cap, never a whole decoded network read (64 MiB to 1 GiB)
    assert peak < cap + 4_000_000


@pytest.mark.timeout(10)
def test_server_gzip_error_body_is_not_inflated(fault_server):
    gzip_bomb(60)  # built before measuring: 61 KB that inflate to 60 MiB
    client = local_client()
    raised, _, peak = peak_memory(fetch(client, "fetch_page", fault_server.url("/gzip-404")))
    assert isinstance(raised, PermanentFetchError) and raised.kind == "http_404"
    assert peak < 2_000_000


@pytest.mark.parametrize("query, connections", [
    ("", 1),  # 61 KB as sent: read to its end, the connection is used again
    ("?mib=100", 2),  # 102 KB, past the drain limit: left unread, the connection closed
])
@pytest.mark.timeout(10)
def test_error_body_is_drained_within_a_limit_to_keep_the_connection(query, connections):
    url_path = "/gzip-404" + query
    with FaultServer(keep_alive=True) as server:
        async def main() -> None:
            async with local_client() as client:
                for _ in range(2):
                    with pytest.raises(PermanentFetchError):
                        await client.fetch_page(server.url(url_path))

        run(main())
        assert server.hits("/gzip-404") == 2 and server.connections == connections


def test_server_small_feed_within_cap(fault_server):
    result = run(fetch(local_client(), "fetch_feed", fault_server.url("/big/1?type=xml")))
    assert len(result.content) == 1 << 20 and result.content_type == "application/xml"


@pytest.mark.timeout(10)
def test_connection_refused_is_transient():
    with socket.socket() as sock:  # a port on 127.0.0.1 that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientFetchError) as info:
        run(fetch(local_client(), "fetch_page", f"http://127.0.0.1:{port}/"))
    assert info.value.kind == "connection"


@pytest.mark.timeout(10)
def test_a_body_cut_short_is_a_transient_connection_error():
    # errors raised while the body streams come out of ingest.fetch.transport as httpx's
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 1000\r\n\r\n<p>only the start")

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        with pytest.raises(TransientFetchError) as info:
            run(fetch(local_client(), "fetch_page", f"http://127.0.0.1:{port}/"))
        server.join(5)
    assert info.value.kind == "connection" and "peer closed connection" in str(info.value)
