"""The speed bench's news site: corpus pages behind RSS feeds, served on loopback only.

    site = BenchSite(build_items(corpus_pages(corpus), feeds=10, items=20)).start()
    site.feed_urls()             # http://127.0.0.N:<port>/feeds/fNN.xml, N = 1..3 by feed
    site.requests()              # Counter: feed, page, not_modified, tiny, peer_feed, missing,
                                 # connections (TCP connections accepted)
    site.close()

Every host (127.0.0.1, .2, .3 — Linux routes all of 127/8 to lo) serves every path; a
feed's items live on the feed's host. HTTP/1.1 keep-alive, Nagle off, one write per
response, bodies built (and gzip-compressed) up front, so the server costs little
next to the client it measures. Peer feeds (/peer/fNN.xml) hold the same items under
host names (bench-host-N.test) that trafilatura accepts; tiny feeds (/tiny/tNNNN.xml)
carry an ETag and answer a matching If-None-Match with 304.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
PEER_NAMES = tuple(f"bench-host-{n}.test" for n in range(1, len(HOSTS) + 1))
PUBDATE = "Wed, 03 Dec 2025 10:00:00 GMT"
TINY_TEXT = ("Questa notizia breve esiste soltanto nel feed e non ha una pagina propria. " * 4)


@dataclass(frozen=True)
class Item:
    feed: int
    index: int
    source: str  # corpus file the page comes from
    html: bytes  # uncompressed page bytes, distinct per item

    @property
    def path(self) -> str:
        return f"/a/f{self.feed:02d}/i{self.index:03d}.html"


def corpus_pages(corpus: Path) -> list[Path]:
    """Every HTML page of the corpus, in a stable order."""
    pages = sorted(p for p in (corpus / "pages").rglob("*")
                   if p.is_file() and p.suffix.lower() in (".html", ".htm"))
    if not pages:
        raise SystemExit(f"bench: no HTML pages under {corpus / 'pages'}")
    return pages


def build_items(pages: list[Path], feeds: int, items: int) -> list[Item]:
    """feeds × items articles cycling through ``pages``; a trailing comment makes each distinct."""
    cache: dict[Path, bytes] = {}
    out = []
    for f in range(feeds):
        for i in range(items):
            page = pages[(f * items + i) % len(pages)]
            raw = cache.get(page) or cache.setdefault(page, page.read_bytes())
            mark = f"\n<!-- bench item f{f:02d} i{i:03d} -->\n".encode()
            out.append(Item(f, i, str(page), raw + mark))  # appended: BOMs stay first
    return out


def rss(base: str, feed: int, items: list[Item]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0"><channel>',
             f"<title>Bench feed {feed}</title><link>{base}/</link><language>it</language>"]
    for it in items:
        link = escape(base + it.path)
        parts.append(f"<item><title>Bench article {it.feed}-{it.index}</title><link>{link}</link>"
                     f"<guid>{link}</guid><pubDate>{PUBDATE}</pubDate>"
                     f"<description>Article {it.index} of feed {it.feed}.</description></item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def tiny_rss(number: int) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Tiny {number}</title><item><title>Tiny item {number}</title>"
            f'<guid isPermaLink="false">tiny-{number}</guid><pubDate>{PUBDATE}</pubDate>'
            f"<description>{TINY_TEXT}</description></item></channel></rss>").encode()


@dataclass(frozen=True)
class Route:
    kind: str  # request counter it adds to
    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str | None = None
    gzipped: bytes | None = None  # sent to clients that accept gzip


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], site: BenchSite) -> None:
        super().__init__(address, _Handler)
        self.site = site

    def handle_error(self, request, client_address) -> None:
        pass  # a client closing a kept-alive connection is normal


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    timeout = 30  # idle kept-alive connections end by themselves
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.site.count("connections")  # TCP connections accepted (keep-alive check)

    def do_GET(self) -> None:
        if self.server.site.latency:
            time.sleep(self.server.site.latency)
        route = self.server.site.route(self.path.split("?", 1)[0])
        if route is None:
            self.server.site.count("missing")
            return self._reply(404, b"not found", (("Content-Type", "text/plain"),))
        if route.etag and self.headers.get("If-None-Match") == route.etag:
            self.server.site.count("not_modified")
            return self._reply(304, b"", (("ETag", route.etag),))
        self.server.site.count(route.kind)
        if route.gzipped is not None and "gzip" in self.headers.get("Accept-Encoding", ""):
            return self._reply(200, route.gzipped,
                               route.headers + (("Content-Encoding", "gzip"),))
        self._reply(200, route.body, route.headers)

    def _reply(self, status: int, body: bytes, headers) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses[status][0]}", "Server: bench",
                 *(f"{k}: {v}" for k, v in headers)]
        if status != 304:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)  # one write: no Nagle / delayed-ACK stalls


class BenchSite:
    """See the module docstring. Thread-safe counters; routes are fixed once started."""

    def __init__(self, items: list[Item], *, tiny_feeds: int = 0, compress: bool = True,
                 latency: float = 0.0) -> None:
        self.items = items
        self.latency = min(max(latency, 0.0), 5.0)  # seconds before each answer
        self.feeds = sorted({it.feed for it in items})
        self.tiny_feeds = tiny_feeds
        self._compress = compress
        self._routes: dict[str, Route] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self.ports: list[int] = []

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> BenchSite:
        for host in HOSTS:
            server = _Server((host, 0), self)
            self._servers.append(server)
            self.ports.append(server.server_address[1])
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        self._build_routes()
        return self

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> BenchSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- addresses ----------------------------------------------------------------
    def base(self, feed: int, *, peer: bool = False) -> str:
        n = feed % len(HOSTS)
        return f"http://{(PEER_NAMES if peer else HOSTS)[n]}:{self.ports[n]}"

    def feed_urls(self) -> list[str]:
        return [f"{self.base(f)}/feeds/f{f:02d}.xml" for f in self.feeds]

    def peer_feed_urls(self) -> list[str]:
        return [f"{self.base(f, peer=True)}/peer/f{f:02d}.xml" for f in self.feeds]

    def tiny_feed_urls(self) -> list[str]:
        return [f"{self.base(n)}/tiny/t{n:04d}.xml" for n in range(self.tiny_feeds)]

    def peer_hosts(self) -> dict[str, str]:
        """{bench-host-N.test: 127.0.0.N}"""
        return dict(zip(PEER_NAMES, HOSTS, strict=True))

    # -- serving --------------------------------------------------------------------
    def route(self, path: str) -> Route | None:
        return self._routes.get(path)

    def count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def requests(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def _build_routes(self) -> None:
        xml = (("Content-Type", "application/rss+xml; charset=utf-8"),)
        for f in self.feeds:
            mine = [it for it in self.items if it.feed == f]
            self._routes[f"/feeds/f{f:02d}.xml"] = Route("feed", rss(self.base(f), f, mine), xml)
            self._routes[f"/peer/f{f:02d}.xml"] = Route(
                "peer_feed", rss(self.base(f, peer=True), f, mine), xml)
        for it in self.items:
            self._routes[it.path] = self._page(it.html)
        for n in range(self.tiny_feeds):
            etag = f'"t{n:04d}-v1"'
            self._routes[f"/tiny/t{n:04d}.xml"] = Route("tiny", tiny_rss(n),
                                                        xml + (("ETag", etag),), etag)

    def _page(self, html: bytes) -> Route:
        # gzip as a news site's front end does; inflating is the client's work
        packed = gzip.compress(html, 6, mtime=0) if self._compress else None
        return Route("page", html, (("Content-Type", "text/html"), ("Vary", "Accept-Encoding")),
                     gzipped=packed)
