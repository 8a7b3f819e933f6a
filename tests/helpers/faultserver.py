"""A real HTTP server on 127.0.0.1 that misbehaves on request, for fetch and end-to-end tests.

    with FaultServer() as server:            # or the ``fault_server`` fixture below
        server.add("/feed.xml", rss_bytes, {"Content-Type": "application/rss+xml"})
        url = server.url("/feed.xml")        # http://127.0.0.1:<port>/feed.xml
        ...
        assert server.hits("/feed.xml") == 1

API (all thread-safe):
    FaultServer(host="127.0.0.1", keep_alive=False)  listens on an ephemeral port;
                                   start()/close() or ``with``; keep_alive=True answers in
                                   HTTP/1.1 and keeps connections open between requests
    .url(path) -> str              absolute URL of ``path`` on this server
    .add(path, body, headers=None, status=200)   serve fixed bytes at ``path`` (query ignored);
                                   if ``headers`` has ETag and/or Last-Modified, a matching
                                   If-None-Match / If-Modified-Since gets 304 (no body)
    .hits(path) -> int             requests seen for ``path`` (query string ignored)
    .connections -> int            connections accepted so far
    .requests -> list[(method, path_with_query, {lower-cased header: value})]

Built-in routes (a path registered with ``add`` wins over them):
    /status/<code>[?retry_after=N]  that status, with Retry-After: N if given
    /redirect-loop                  302 to itself, forever
    /redirect-chain/<n>[?to=PATH]   302 to /redirect-chain/<n-1> ... /redirect-chain/0 is 200
                                    (or, with ``to``, a 302 to PATH: n redirects in all)
    /drip                           200 text/html, then one byte a second for up to 10 minutes
    /stall                          accepts the request, then sends nothing for up to 10 minutes
    /delay/<seconds>/<path>         waits, then answers as <path> would (e.g. /delay/2/feed.xml);
                                    the hit is counted for the /delay/... path only
    /big/<megabytes>[?type=xml][&length=1]  that many MB of "0" as text/html (or
                                    application/xml), streamed; Content-Length only with length=1
    /gzip-bomb                      Content-Encoding: gzip, ~1 MB that inflates to 1 GiB of zeros
    /gzip-gzip-bomb                 Content-Encoding: gzip, gzip: the gzip bomb gzipped again
                                    (~2.5 KB)
    /br-bomb                        Content-Encoding: br, ~190 KB, 1 GiB of zeros once decoded
    /zstd-bomb                      Content-Encoding: zstd, 1024 frames of 1 MiB of zeros (~50 KB)
    /gzip-404[?mib=N]               404, Content-Encoding: gzip, a body of ~1 KB per MiB that
                                    inflates to N MiB of zeros (60 by default: ~61 KB)
    /pdf, /audio                    small application/pdf and audio/mpeg bodies
    /etag-feed                      a small RSS feed with ETag "v1" and a Last-Modified date;
                                    answers 304 to a matching If-None-Match or If-Modified-Since
Anything else is 404; a bad argument (/status/abc) is 400. Streaming routes stop when the
client goes away or the server closes, so close() never waits on a dripping connection.
The bodies of the bomb routes come from gzip_bomb(mib=1024), stacked_gzip_bomb(),
brotli_bomb() and zstd_bomb(): each is built once per process, on first use (call it
before a test measures or races a deadline), and needs brotli / zstandard only then.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

ETAG = '"v1"'
LAST_MODIFIED = "Mon, 03 Jun 2024 10:00:00 GMT"
FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Fault feed</title>'
        b"<item><title>One</title><link>http://127.0.0.1/one</link><guid>one</guid></item>"
        b"</channel></rss>")
_MIB = 1 << 20
_BOMB_MIB = 1024


@cache
def gzip_bomb(mib: int = _BOMB_MIB) -> bytes:
    """A valid gzip member inflating to ``mib`` MiB of zeros (~1 KB per MiB), built once.

    One MiB of zeros is deflated once and ended with a full flush, which resets the
    compressor, so the same block repeated ``mib`` times is a valid deflate stream.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(bytes(_MIB)) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    zeros = bytes(_MIB)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + ((mib * _MIB) & 0xFFFFFFFF).to_bytes(4, "little")
    return header + block * mib + deflate.flush() + trailer


@cache
def stacked_gzip_bomb() -> bytes:
    """The gzip bomb gzipped once more (~2.5 KB), to be served as ``gzip, gzip``."""
    return gzip.compress(gzip_bomb(), 9)


@cache
def brotli_bomb() -> bytes:
    """A brotli stream of 1 GiB of zeros (~190 KB; quality 1 builds it fastest)."""
    import brotli

    compressor = brotli.Compressor(quality=1)
    zeros = bytes(_MIB)
    return b"".join([*(compressor.process(zeros) for _ in range(_BOMB_MIB)),
                     compressor.finish()])


@cache
def zstd_bomb() -> bytes:
    """1024 zstd frames of 1 MiB of zeros each, one after the other (~50 KB)."""
    import zstandard

    return zstandard.ZstdCompressor(level=19).compress(bytes(_MIB)) * _BOMB_MIB


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() must not wait for handler threads (drip)

    def __init__(self, address: tuple[str, int], owner: FaultServer,
                 handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self.owner = owner

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        pass  # clients hanging up mid-body is what these tests do


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a client that stops reading cannot pin a thread forever

    def setup(self) -> None:
        super().setup()
        self.server.owner._connected()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        owner = self.server.owner
        parts = urlsplit(self.path)
        owner._record("GET", self.path, parts.path, self.headers)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            owner._route(self, parts.path, query)
        except ValueError:  # /status/abc, /big/lots
            self.send(400, b"bad argument", {"Content-Type": "text/plain"})
        except OSError:  # the client went away, or stopped reading for `timeout` seconds
            self.close_connection = True

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_stream_of(self, body: bytes, headers: dict[str, str]) -> None:
        """``body`` with its length, in 64 KiB writes, then the connection closes."""
        self.start_stream({**headers, "Content-Length": str(len(body))})
        chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
        self.server.owner._stream(self, chunks)

    def start_stream(self, headers: dict[str, str]) -> None:
        """Headers for a body that runs until the connection closes (no length)."""
        self.close_connection = True
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()


class _KeepAliveHandler(_Handler):
    protocol_version = "HTTP/1.1"  # every answer but the streamed ones has a Content-Length


class FaultServer:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", keep_alive: bool = False) -> None:
        self._host = host
        self._handler = _KeepAliveHandler if keep_alive else _Handler
        self._connections = 0
        self._lock = threading.Lock()
        self._static: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self._hits: Counter[str] = Counter()
        self._log: list[tuple[str, str, dict[str, str]]] = []
        self._stop = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultServer:
        self._httpd = _Server((self._host, 0), self, self._handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://{self._host}:{self.port}{path}"

    def add(self, path: str, body: bytes, headers: dict[str, str] | None = None,
            status: int = 200) -> None:
        with self._lock:
            self._static[path] = (status, body, dict(headers or {}))

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return list(self._log)

    def _record(self, method: str, full_path: str, path: str, headers) -> None:  # noqa: ANN001
        with self._lock:
            self._hits[path] += 1
            self._log.append((method, full_path, {k.lower(): v for k, v in headers.items()}))

    def _route(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        with self._lock:
            static = self._static.get(path)
        if static is not None:
            status, body, headers = static
            if 200 <= status < 300 and _not_modified(h.headers, headers):
                kept = {k: v for k, v in headers.items()
                        if k.lower() in ("etag", "last-modified", "cache-control", "expires")}
                return h.send(304, b"", kept)
            return h.send(status, body, headers)
        name, _, arg = path.strip("/").partition("/")
        route = getattr(self, f"_route_{name.replace('-', '_')}", None)
        if route is None:
            return h.send(404, b"not found", {"Content-Type": "text/plain"})
        return route(h, arg, query)

    def _route_status(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        headers = {"Content-Type": "text/plain"}
        if "retry_after" in query:
            headers["Retry-After"] = query["retry_after"]
        h.send(int(arg), f"status {arg}".encode(), headers)

    def _route_redirect_loop(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.send(302, b"", {"Location": "/redirect-loop"})

    def _route_redirect_chain(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        left = int(arg or 0)
        target = query.get("to")
        if left <= 0:
            return h.send(200, b"<html><body>end of chain</body></html>",
                          {"Content-Type": "text/html"})
        if left == 1 and target:
            return h.send(302, b"", {"Location": target})
        suffix = f"?{urlencode({'to': target})}" if target else ""
        return h.send(302, b"", {"Location": f"/redirect-chain/{left - 1}{suffix}"})

    def _route_stall(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        self._stop.wait(600)
        h.close_connection = True

    def _route_delay(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        seconds, _, rest = arg.partition("/")
        if self._stop.wait(float(seconds)):
            return
        self._route(h, "/" + rest, query)

    def _route_drip(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.start_stream({"Content-Type": "text/html"})
        for _ in range(600):
            h.wfile.write(b"x")
            h.wfile.flush()
            if self._stop.wait(1.0):
                return

    def _route_big(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        size = int(float(arg or 1) * _MIB)
        ctype = "application/xml" if query.get("type") == "xml" else "text/html"
        if query.get("length") == "1":
            h.close_connection = True
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(size))
            h.end_headers()
        else:
            h.start_stream({"Content-Type": ctype})
        self._stream(h, _repeat(b"0" * 65536, size))

    def _route_gzip_bomb(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.start_stream_of(gzip_bomb(), {"Content-Type": "text/html", "Content-Encoding": "gzip"})

    def _route_gzip_gzip_bomb(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.start_stream_of(stacked_gzip_bomb(), {"Content-Type": "text/html",
                                                "Content-Encoding": "gzip, gzip"})

    def _route_br_bomb(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.start_stream_of(brotli_bomb(), {"Content-Type": "text/html", "Content-Encoding": "br"})

    def _route_zstd_bomb(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.start_stream_of(zstd_bomb(), {"Content-Type": "text/html", "Content-Encoding": "zstd"})

    def _route_gzip_404(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.send(404, gzip_bomb(int(query.get("mib", 60))),
               {"Content-Type": "text/html", "Content-Encoding": "gzip"})

    def _route_pdf(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n",
               {"Content-Type": "application/pdf"})

    def _route_audio(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        h.send(200, b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(2048), {"Content-Type": "audio/mpeg"})

    def _route_etag_feed(self, h: _Handler, arg: str, query: dict[str, str]) -> None:
        inm, ims = h.headers.get("If-None-Match"), h.headers.get("If-Modified-Since")
        fresh = inm == ETAG if inm is not None else ims == LAST_MODIFIED
        headers = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED}
        if fresh:
            return h.send(304, b"", headers)
        return h.send(200, FEED, {**headers, "Content-Type": "application/rss+xml"})

    def _stream(self, h: _Handler, chunks: Iterator[bytes]) -> None:
        for chunk in chunks:
            if self._stop.is_set():
                return
            h.wfile.write(chunk)


def _not_modified(request_headers, validators: dict[str, str]) -> bool:  # noqa: ANN001
    """RFC 9110 13.2.2: If-None-Match decides when present (weak comparison, ``*``);
    else If-Modified-Since, when the resource's Last-Modified is not later."""
    have = {k.lower(): v for k, v in validators.items()}
    inm, ims = request_headers.get("If-None-Match"), request_headers.get("If-Modified-Since")
    if inm is not None and "etag" in have:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or have["etag"].strip().removeprefix("W/") in tags
    if ims is not None and "last-modified" in have and inm is None:
        if ims.strip() == have["last-modified"].strip():
            return True
        try:
            return parsedate_to_datetime(have["last-modified"]) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False


def _repeat(chunk: bytes, size: int) -> Iterator[bytes]:
    while size > 0:
        yield chunk[:size]
        size -= len(chunk)


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A started FaultServer, closed after the test."""
    with FaultServer() as server:
        yield server
