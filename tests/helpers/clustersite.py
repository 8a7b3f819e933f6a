"""A news site on several loopback hosts for the replica tests and bench/replicas.py.

Each host (127.0.0.1, 127.0.0.2, ...: all loopback) is its own HTTP server with feeds of
made-up articles; `publish` adds articles to every feed. Feeds answer conditional requests
(304). Every request is logged with its host, path, the ``User-Agent`` that sent it (each
replica has its own) and its start and end on the monotonic clock, so that the politeness
of all replicas together can be read back: the smallest gap between request starts on a
host, and the most requests in flight on it at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .newssite import Item, article, rss


@dataclass(frozen=True)
class Request:
    host: str  # host:port, as ingest keys politeness
    path: str
    agent: str
    start: float
    end: float  # when the answer started to go out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: ClusterSite

    def handle_error(self, request, client_address) -> None:
        """A replica killed mid-request leaves a broken pipe: not the site's error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        site: ClusterSite = self.server.site  # type: ignore[attr-defined]
        start = time.monotonic()
        host = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        status, headers, body = site.answer(host, self.path, self.headers)
        if self.path.endswith(".html") and site.page_delay:
            time.sleep(site.page_delay)
        # the end, before the answer goes out: the client may hand its turn back as soon
        # as it has the answer, before this thread would look at the clock again
        site.log(Request(host, self.path, self.headers.get("User-Agent", ""), start,
                         time.monotonic()))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class ClusterSite:
    def __init__(self, hosts: int = 3, feeds_per_host: int = 4, *, page_delay: float = 0.0,
                 window: int = 20) -> None:
        self.page_delay = page_delay  # seconds each page takes: polls that last a while
        self.window = window  # newest articles a feed lists
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._servers = []
        for i in range(hosts):
            server = _Server((f"127.0.0.{i + 1}", 0), _Handler)
            server.site = self
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        self.hosts = [f"127.0.0.{i + 1}:{s.server_address[1]}" for i, s in enumerate(self._servers)]
        self.feeds = [(f"h{h}-f{f}", f"http://{host}/feeds/{f}.xml")
                      for h, host in enumerate(self.hosts) for f in range(feeds_per_host)]
        self._items: dict[str, list[int]] = {url: [] for _, url in self.feeds}
        self._next = 0

    def publish(self, per_feed: int = 1) -> None:
        """``per_feed`` new articles on every feed."""
        with self._lock:
            for items in self._items.values():
                for _ in range(per_feed):
                    items.append(self._next)
                    self._next += 1

    @property
    def published(self) -> int:
        return self._next

    def page_url(self, feed_url: str, number: int) -> str:
        return f"{feed_url.rsplit('/feeds/', 1)[0]}/a/{number}.html"

    def answer(self, host: str, path: str, headers) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/a/") and path.endswith(".html"):
            return 200, {"Content-Type": "text/html; charset=utf-8"}, article(int(path[3:-5]))
        url = f"http://{host}{path}"
        with self._lock:
            numbers = list(self._items.get(url, ()))[-self.window:]
        if url not in self._items:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        body = rss([Item(f"Articolo {n}", self.page_url(url, n), f"cluster-{n}")
                    for n in reversed(numbers)])
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag}, body

    def log(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


def smallest_gap(requests: list[Request]) -> dict[str, float]:
    """Per host, the smallest time between two request starts (inf with one request)."""
    starts: dict[str, list[float]] = {}
    for r in requests:
        starts.setdefault(r.host, []).append(r.start)
    gaps = {}
    for host, times in starts.items():
        times.sort()
        gaps[host] = min((b - a for a, b in zip(times, times[1:], strict=False)),
                         default=float("inf"))
    return gaps


def most_in_flight(requests: list[Request]) -> dict[str, int]:
    """Per host, the most requests that were being answered at one moment."""
    events: dict[str, list[tuple[float, int]]] = {}
    for r in requests:
        events.setdefault(r.host, []).extend([(r.start, 1), (r.end, -1)])
    most = {}
    for host, moments in events.items():
        now = peak = 0
        for _, step in sorted(moments, key=lambda m: (m[0], m[1])):  # ends before starts
            now += step
            peak = max(peak, now)
        most[host] = peak
    return most
