"""robots.txt for article pages (RFC 9309): may a page be requested, and how far apart.

`RobotsRules.check(url)` runs before every page request (never before a feed's: the
user listed those). It reads the rules of the page's origin for our product token (of
http.user_agent) and raises, before anything is sent to the page:

    PermanentFetchError(robots_disallowed)   the rules disallow the page
    HostBackoff(robots_unreachable)          the origin's robots.txt could not be had:
                                             nothing is requested until it can (the
                                             page is left for a later poll)

A Crawl-delay for our agent raises the host's spacing on the politeness gate
(`Gate.set_min_delay`), never lowers it, and counts at most MAX_CRAWL_DELAY.

Copies are looked for in this order: a memo in this process (parsed), the `RobotsCache`
(the state store: shared by replicas and kept between runs), the site. Pages of one origin
asking at once share one fetch. What an answer means is in ingest.fetch.robots_file.
Parsing a large file, and matching a page against one, run in a thread so that the event
loop keeps serving the other requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ingest.config.model import HttpConfig
from ingest.errors import HostBackoff, PermanentFetchError, StateError
from ingest.fetch.hosts import Gate, host_of
from ingest.fetch.robots_file import (
    ROBOTS_BYTES,
    UNREACHABLE,
    Fetch,
    MemoryRobotsCache,
    RobotsCache,
    Rules,
    fetch_copy,
    parse,
    product_token,
)
from ingest.models import Access, RobotsCopy
from ingest.urls import DEFAULT_PORTS

log = logging.getLogger("ingest.fetch")
T = TypeVar("T")

ROBOTS_DISALLOWED = "robots_disallowed"  # the kind of the refusal: a reason entries are skipped for
MEMO_SIZE = 256  # origins whose parsed rules are kept in memory
INLINE_CHARS = 16 * 1024  # a robots.txt up to this is matched on the event loop


class RobotsRules:
    """The robots.txt check of one HttpClient."""

    def __init__(self, cfg: HttpConfig, fetch: Fetch, gate: Gate, *,
                 cache: RobotsCache | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._agent = product_token(cfg.user_agent)
        self._cap = max(ROBOTS_BYTES, cfg.max_page_bytes)  # read whole, parsed to ROBOTS_BYTES
        self._fetch = fetch
        self._gate = gate
        self._cache = cache if cache is not None else MemoryRobotsCache()
        self._wall_clock = wall_clock
        self._memo: dict[str, Rules] = {}
        self._loading: dict[str, asyncio.Future[Rules]] = {}

    async def check(self, url: str, access: Access | None = None) -> None:
        """Return if ``url`` may be requested now; else raise (see the module docstring)."""
        origin = origin_of(url)
        if origin is None:  # not an http(s) URL: the request itself refuses it
            return
        try:
            rules = await self._rules(origin, access)
        except HostBackoff as exc:
            raise HostBackoff(f"{url}: robots.txt not asked: {exc}", url=url,
                              retry_after=exc.retry_after, requested=False,
                              kind=exc.kind) from exc
        if rules.crawl_delay:
            self._gate.set_min_delay(host_of(url), rules.crawl_delay)
        if rules.copy.kind == UNREACHABLE:
            wait = max(0.0, rules.copy.expires_at - self._wall_clock())
            raise HostBackoff(f"{url}: {origin}/robots.txt could not be had, so no page of "
                              f"it is requested (asked again in {wait:.0f}s)", url=url,
                              retry_after=wait, requested=False, kind="robots_unreachable")
        if not await self._allows(rules, url):
            raise PermanentFetchError(f"{url}: disallowed by {origin}/robots.txt for "
                                      f"{self._agent}", url=url, kind=ROBOTS_DISALLOWED)

    async def _allows(self, rules: Rules, url: str) -> bool:
        if rules.parser is None:
            return True
        return await _sized(rules.copy.body, rules.parser.can_fetch, url, self._agent)

    async def _rules(self, origin: str, access: Access | None) -> Rules:
        """The rules of ``origin`` in force now; one load per origin at a time."""
        memo = self._memo.get(origin)
        if memo is not None and memo.copy.expires_at > self._wall_clock():
            return memo
        loading = self._loading.get(origin)
        if loading is None:
            loading = self._loading[origin] = asyncio.ensure_future(
                self._load(origin, memo, access))
            loading.add_done_callback(lambda done: self._loaded(origin, done))
        # shielded: a page that gives up waiting does not end the load the others wait for
        return await asyncio.shield(loading)

    def _loaded(self, origin: str, done: asyncio.Future[Rules]) -> None:
        self._loading.pop(origin, None)
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone

    async def _load(self, origin: str, memo: Rules | None, access: Access | None) -> Rules:
        # the store first: another replica, or an earlier run, may have asked already
        copy = self._stored(origin) or (memo.copy if memo is not None else None)
        now = self._wall_clock()
        if copy is None or copy.expires_at <= now:
            copy = await fetch_copy(self._fetch, origin, cap=self._cap, now=now,
                                    previous=copy, access=access)
            self._keep(copy)
        if memo is not None and memo.copy == copy:
            return memo
        rules = await _sized(copy.body, parse, copy, self._agent)
        self._memo.pop(origin, None)
        if len(self._memo) >= MEMO_SIZE:
            del self._memo[next(iter(self._memo))]
        self._memo[origin] = rules
        return rules

    def _stored(self, origin: str) -> RobotsCopy | None:
        try:
            return self._cache.robots_file(origin)
        except StateError as exc:
            log.warning("fetch: the copy of %s/robots.txt could not be read from the store, "
                        "so it is asked for again: %s", origin, exc)
            return None

    def _keep(self, copy: RobotsCopy) -> None:
        try:
            self._cache.put_robots_file(copy)
        except StateError as exc:
            log.warning("fetch: the copy of %s/robots.txt could not be stored, so only this "
                        "process keeps it: %s", copy.origin, exc)


async def _sized(body: str, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` on the event loop for a small robots.txt ``body``, else in a thread."""
    if len(body) <= INLINE_CHARS:
        return work(*args)
    return await asyncio.to_thread(work, *args)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` (the port only when not the scheme's default);
    None unless it is an http(s) URL with a host."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    host = host_of(url)
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return f"{scheme}://{host}"
