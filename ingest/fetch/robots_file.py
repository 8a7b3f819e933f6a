"""One origin's robots.txt: fetched, read as RFC 9309 says, and parsed with protego.

What an answer to ``<origin>/robots.txt`` means (redirects followed, up to
http.max_redirects, as for any request):

    2xx                                  its rules (the first ROBOTS_BYTES of it), kept KEEP
    any 4xx, too many redirects          everything allowed, kept KEEP
    5xx, timeout, connection, DNS,       everything disallowed, asked again after
      undecodable, refused address,        RETRY_UNREACHABLE; an earlier copy that was had
      larger than http.max_page_bytes      keeps applying meanwhile, however old (§2.4)
    429, 503 with Retry-After, a         HostBackoff: the page waits with the host, nothing
      resting host                         is kept

`RobotsCache` is where copies are kept beyond this process (the state stores are one);
`MemoryRobotsCache` keeps them in this process only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Protocol

from protego import Protego

from ingest.errors import FetchError, HostBackoff
from ingest.models import Access, FetchResult, RobotsCopy

log = logging.getLogger("ingest.fetch")

ROBOTS_BYTES = 512 * 1024  # parsed of a robots.txt: RFC 9309 §2.5 asks for at least 500 KiB
KEEP = 86400.0  # seconds a copy is used before it is asked for again (RFC 9309 §2.4)
RETRY_UNREACHABLE = 600.0  # seconds before an unreachable robots.txt is asked for again
MAX_CRAWL_DELAY = 60.0  # seconds: a Crawl-delay above it counts as this (a day would stall a host)
ACCEPT = "text/plain, */*;q=0.5"
RULES, ALLOW_ALL, UNREACHABLE = "rules", "allow_all", "unreachable"


class RobotsCache(Protocol):
    """Where robots.txt copies are kept per origin (`ingest.state.store.Store` is one)."""

    def robots_file(self, origin: str) -> RobotsCopy | None: ...

    def put_robots_file(self, copy: RobotsCopy) -> None: ...


class MemoryRobotsCache:
    """Copies kept in this process only, at most ``size`` origins (the oldest go first)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._copies: dict[str, RobotsCopy] = {}

    def robots_file(self, origin: str) -> RobotsCopy | None:
        return self._copies.get(origin)

    def put_robots_file(self, copy: RobotsCopy) -> None:
        self._copies.pop(copy.origin, None)
        if len(self._copies) >= self._size:
            del self._copies[next(iter(self._copies))]
        self._copies[copy.origin] = copy


class Fetch(Protocol):
    """`HttpClient._fetch`: the usual path of a request."""

    def __call__(self, url: str, headers: dict[str, str], *, cap: int, page: bool,
                 access: Access | None = None) -> Awaitable[FetchResult]: ...


@dataclass(frozen=True)
class Rules:
    """A copy, parsed: what the checker asks of it."""

    copy: RobotsCopy
    parser: Protego | None  # None: nothing to match (allow all, or unreachable)
    crawl_delay: float | None  # seconds, for our agent, capped at MAX_CRAWL_DELAY


def parse(copy: RobotsCopy, agent: str) -> Rules:
    """``copy`` parsed for ``agent`` (bounded work: at most ROBOTS_BYTES of text)."""
    if copy.kind != RULES:
        return Rules(copy, None, None)
    parser = Protego.parse(copy.body)
    delay = parser.crawl_delay(agent)
    return Rules(copy, parser, None if delay is None else min(delay, MAX_CRAWL_DELAY))


def product_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: ``ingest`` of
    ``ingest/0.1 (+https://...)``; letters, ``_`` and ``-`` only (RFC 9309 §2.2.1)."""
    token = []
    for char in user_agent.strip():
        if not (char.isascii() and (char.isalpha() or char in "_-")):
            break
        token.append(char)
    return "".join(token) or "*"


async def fetch_copy(fetch: Fetch, origin: str, *, cap: int, now: float,
                     previous: RobotsCopy | None, access: Access | None) -> RobotsCopy:
    """What ``origin``'s robots.txt says now (see the module docstring); HostBackoff when
    the host may not be asked. The request is a plain one: the feed's headers, cookies and
    credentials are not sent, only its proxy is used."""
    url = f"{origin}/robots.txt"
    plain = Access(proxy=access.proxy) if access is not None and access.proxy else None
    try:
        result = await fetch(url, {"Accept": ACCEPT}, cap=cap, page=False, access=plain)
    except HostBackoff:
        raise
    except FetchError as exc:
        if _client_error(exc.kind) or exc.kind == "too_many_redirects":
            log.info("fetch: %s: %s; every page of %s is allowed", url, exc.kind, origin)
            return RobotsCopy(origin, ALLOW_ALL, "", now, now + KEEP)
        return _unreachable(origin, previous, now, exc)
    return RobotsCopy(origin, RULES, robots_text(result.content), now, now + KEEP)


def robots_text(content: bytes) -> str:
    """The first ROBOTS_BYTES of a robots.txt as text (UTF-8, RFC 9309 §2.3); a line cut
    there is left out rather than read as a shorter rule."""
    if len(content) > ROBOTS_BYTES:
        content = content[:ROBOTS_BYTES]
        content = content[:content.rfind(b"\n") + 1]
    return content.decode("utf-8", errors="replace").removeprefix("\ufeff")


def _client_error(kind: str) -> bool:
    """``http_4xx``, as classify names a status."""
    return len(kind) == 8 and kind.startswith("http_4") and kind[6:].isdigit()


def _unreachable(origin: str, previous: RobotsCopy | None, now: float,
                 exc: FetchError) -> RobotsCopy:
    retry = now + RETRY_UNREACHABLE
    if previous is not None and previous.kind != UNREACHABLE:
        log.warning("fetch: %s/robots.txt could not be had (%s); the copy of %.0fh ago "
                    "applies until it can, asked again in %.0fs", origin, exc,
                    (now - previous.fetched_at) / 3600, RETRY_UNREACHABLE)
        return replace(previous, expires_at=retry)
    log.warning("fetch: %s/robots.txt could not be had (%s); no page of %s is requested "
                "until it can, asked again in %.0fs", origin, exc, origin, RETRY_UNREACHABLE)
    return RobotsCopy(origin, UNREACHABLE, "", now, retry)
