"""The memory bench's news site: the speed bench's site whose news feeds move on every cycle."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from bench.speed_site import BenchSite, Item, Route, build_items, rss

_XML = (("Content-Type", "application/rss+xml; charset=utf-8"),)


class DaemonSite(BenchSite):
    """BenchSite whose first ``news`` feeds show a window that `publish` moves; the
    first time each news feed's current window is served is noted (`served`)."""

    def __init__(self, items: list[Item], *, news: int, window: int, new: int,
                 tiny_feeds: int) -> None:
        super().__init__(items, tiny_feeds=tiny_feeds)
        self.news, self.window, self.new = news, window, new
        self._gen_lock = threading.Lock()
        self._served: dict[str, float] = {}
        self._by_feed: dict[int, list[Item]] = {}
        for it in items:
            self._by_feed.setdefault(it.feed, []).append(it)

    def news_path(self, feed: int) -> str:
        return f"/feeds/f{feed:02d}.xml"

    def _build_routes(self) -> None:
        super()._build_routes()  # every page, tiny feeds; feeds replaced below
        for f in self.feeds[self.news:]:  # static feeds: their first window, for good
            body = rss(self.base(f), f, self._by_feed[f][:self.window])
            self._routes[self.news_path(f)] = Route("feed", body, _XML)

    def publish(self, cycle: int) -> None:
        """Show cycle ``cycle``'s window (1-based) on every news feed."""
        start = (cycle - 1) * self.new
        routes = {self.news_path(f): Route("feed", rss(
            self.base(f), f, self._by_feed[f][start:start + self.window]), _XML)
            for f in self.feeds[:self.news]}
        with self._gen_lock:
            self._routes.update(routes)
            self._served.clear()

    def route(self, path: str) -> Route | None:
        with self._gen_lock:
            found = self._routes.get(path)
            if found is not None and found.kind == "feed" and path not in self._served:
                self._served[path] = time.time()
            return found

    def served(self) -> dict[str, float]:
        with self._gen_lock:
            return dict(self._served)


def news_items(pages: list[Path], args: argparse.Namespace) -> list[Item]:
    """Items for --feeds news feeds (enough for every cycle's window) and, after them,
    --static-feeds feeds of one window each, on pages of their own."""
    per_feed = args.window + (args.cycles - 1) * args.new
    items = build_items(pages, args.feeds, per_feed)
    if args.static_feeds:  # their own pages, after the news feeds' (feed numbers follow on)
        static = build_items(pages[per_feed * args.feeds % len(pages):]
                             + pages[:per_feed * args.feeds % len(pages)],
                             args.feeds + args.static_feeds, args.window)
        items += [it for it in static if it.feed >= args.feeds]
    return items
