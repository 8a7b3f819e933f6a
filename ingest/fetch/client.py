"""Fetch feeds and pages over HTTP (httpx; with netguard and transport under it).

Every outcome becomes a FetchResult or one of ingest.errors' FetchErrors, as
ingest.fetch.classify decides (the table is there). This module is the request flow:
the URL checked, the host's rest and politeness turn, one deadline over the exchange,
the body read within its cap. The caller chooses where politeness and rests are kept
(``gate``, ``rests``): in this process by default, or in the state store, so that they
outlive the process and hold across replicas.

Bodies off the network are decoded by ingest.fetch.content_coding, in bounded pieces, never by
httpx, whose decoders inflate each network read whole.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, aclosing
from typing import cast

# httpcore loads anyio's asyncio backend at its first request; loaded with this module
# instead, so that a process's first request starts when its politeness turn says
import anyio._backends._asyncio  # noqa: F401
import httpx

from ingest.config.model import HttpConfig
from ingest.errors import FetchError, HostBackoff, TransientFetchError
from ingest.fetch.access import AccessTransport, plan_request
from ingest.fetch.classify import (
    check_url,
    classify_response,
    is_page_type,
    not_a_page,
    too_large,
    translate_error,
    undecodable,
)
from ingest.fetch.content_coding import BodyDecoder, ContentCodingError, OverLimit, accept_encoding
from ingest.fetch.hosts import Gate, HostGate, HostRests, RestLedger, host_of
from ingest.fetch.netguard import DropRedirectBodies, GuardedTransport, NetguardError, PinnedBackend
from ingest.fetch.proxy import ProxyRouter
from ingest.fetch.resolver import CachedResolver, Resolver, system_resolver
from ingest.fetch.robots import RobotsRules
from ingest.fetch.robots_file import RobotsCache
from ingest.fetch.transport import PoolTransport
from ingest.models import Access, FetchResult

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8")
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
DRAIN_LIMIT = 65536  # bytes of an error body read so that its connection can be kept


def build_client(cfg: HttpConfig, transport: httpx.AsyncBaseTransport | None,
                 resolver: Resolver | None) -> httpx.AsyncClient:
    """The one shared AsyncClient, every hop passing the private-network guard."""
    limits = httpx.Limits(max_connections=cfg.max_connections,
                          max_keepalive_connections=cfg.max_connections)
    # Limits live on the pool. Unless private networks are allowed, every connection is
    # made by PinnedBackend: to addresses vetted as it is made (DNS rebinding). The check
    # before each request and the connections share one cache of answers.
    resolver = CachedResolver(resolver or system_resolver)
    backend = None if cfg.allow_private_networks else PinnedBackend(resolver)
    direct = transport or PoolTransport(limits, backend)
    routed = ProxyRouter(direct, limits, proxy=cfg.proxy, trust_env=cfg.trust_env)
    guarded = GuardedTransport(routed, resolver, allow_private=cfg.allow_private_networks)
    # httpx's trust_env stays off (.netrc, and proxy mounts that would bypass these
    # transports): http.trust_env is honoured by ProxyRouter, under the guard.
    return httpx.AsyncClient(
        transport=DropRedirectBodies(AccessTransport(guarded, cfg.user_agent)),
        follow_redirects=True,
        max_redirects=cfg.max_redirects, timeout=httpx.Timeout(cfg.timeout), trust_env=False,
        headers={"User-Agent": cfg.user_agent, "Accept-Encoding": accept_encoding()})


class HttpClient:
    """Fetch feeds and pages politely, within time and size limits; one per process."""

    def __init__(self, cfg: HttpConfig, *, transport: httpx.AsyncBaseTransport | None = None,
                 resolver: Resolver | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 wall_clock: Callable[[], float] = time.time, gate: Gate | None = None,
                 rests: RestLedger | None = None,
                 robots_cache: RobotsCache | None = None) -> None:
        """``gate``: the hosts' turns (a HostGate of this process unless given);
        ``rests``: where host rests are kept beyond this process (the state store);
        ``robots_cache``: where robots.txt copies are (the state store; else this process)."""
        self._cfg = cfg
        self._clock = clock
        # wall time: Retry-After dates without a Date header, and the ledger's rests
        self._wall_clock = wall_clock
        self._gate = gate if gate is not None else HostGate(
            cfg.per_host_concurrency, cfg.per_host_delay, clock=clock, sleep=sleep)
        self._rests = HostRests(clock, ledger=rests, wall_clock=wall_clock)
        self._client = build_client(cfg, transport, resolver)
        self._robots = RobotsRules(cfg, self._fetch, self._gate, cache=robots_cache,
                                   wall_clock=wall_clock) if cfg.robots else None

    async def fetch_feed(self, url: str, *, etag: str | None = None,
                         last_modified: str | None = None,
                         access: Access | None = None, cap: int | None = None) -> FetchResult:
        """GET a feed (conditionally when validators are given); 304 raises NotModified.
        ``cap``: the body's size limit in bytes, when not ``http.max_feed_bytes`` (a sitemap's)."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._fetch(url, headers, cap=cap or self._cfg.max_feed_bytes, page=False,
                                 access=access)

    async def fetch_page(self, url: str, *, access: Access | None = None) -> FetchResult:
        """GET an article page; a non-HTML Content-Type raises PermanentFetchError(not_html).
        Its site's robots.txt is asked first (ingest.fetch.robots): nothing is sent to a
        page it disallows (PermanentFetchError robots_disallowed)."""
        if self._robots is not None:
            await self._robots.check(url, access)
        headers = {"Accept": PAGE_ACCEPT}
        return await self._fetch(url, headers, cap=self._cfg.max_page_bytes, page=True,
                                 access=access)

    async def post_form(self, url: str, fields: Mapping[str, str]) -> int:
        """POST ``fields`` form-encoded to ``url`` (a WebSub hub) and give the answer's status.

        The same guard, proxies and deadline as a GET; no redirect is followed (its status
        is the answer) and no host turn is taken; the answer's body is drained within
        DRAIN_LIMIT, never kept. Failures raise FetchError, as ``translate_error`` says."""
        target = check_url(url)
        try:
            async with asyncio.timeout(self._cfg.timeout):
                async with self._client.stream("POST", target, data=dict(fields),
                                               follow_redirects=False) as response:
                    await _drain(response)
                    return response.status_code
        except (httpx.HTTPError, httpx.InvalidURL, NetguardError, TimeoutError,
                UnicodeError) as exc:
            raise translate_error(url, exc, self._cfg) from exc

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _fetch(self, url: str, headers: dict[str, str], *, cap: int,
                     page: bool, access: Access | None = None) -> FetchResult:
        target = check_url(url)
        host = host_of(url)
        self._rests.refuse_if_resting(url)
        async with AsyncExitStack() as turn:
            await self._take_turn(turn, url, host)  # not counted against the deadline
            self._rests.refuse_if_resting(url)  # a sibling request may have been told to wait
            started = self._clock()
            try:
                async with asyncio.timeout(self._cfg.timeout):
                    result = await self._exchange(url, target, headers, cap=cap, page=page,
                                                  started=started, access=access)
            except FetchError:  # the host answered, if not with what we wanted
                self._rests.answered(host)
                raise
            except (httpx.HTTPError, httpx.InvalidURL, NetguardError, TimeoutError,
                    UnicodeError) as exc:
                error = translate_error(url, exc, self._cfg)
                if error.kind == "timeout":
                    self._rests.timed_out(host, url)
                raise error from exc
        self._rests.answered(host)
        return result

    async def _take_turn(self, turn: AsyncExitStack, url: str, host: str) -> None:
        """Hold a slot of ``host`` in ``turn``; the gate's refusals are told for ``url``."""
        try:
            await turn.enter_async_context(self._gate.slot(host))
        except HostBackoff as exc:
            raise HostBackoff(f"{url}: {exc}", url=url, retry_after=exc.retry_after,
                              requested=False) from exc
        except TransientFetchError as exc:  # the store behind a shared gate failed
            raise TransientFetchError(f"{url}: {exc}", url=url, kind=exc.kind) from exc

    async def _exchange(self, url: str, target: httpx.URL, headers: dict[str, str], *, cap: int,
                        page: bool, started: float, access: Access | None) -> FetchResult:
        # ``target`` is ``url`` as check_url parsed it: httpx would parse the string again
        async with self._client.stream("GET", target, headers=headers,
                                       extensions=plan_request(target, access)) as response:
            final_url = str(response.url)
            names = _lowered(response.headers)
            error = classify_response(url, response.status_code, names, self._wall_clock())
            if isinstance(error, HostBackoff):
                self._rests.rest(error.retry_after, url, final_url, why=(
                    f"answered HTTP {response.status_code}, asked us to wait"))
            if error is not None:
                await _drain(response)  # a 304 left unread closes its kept-alive connection
                raise error
            if page and not is_page_type(names.get("content-type", "")):
                raise not_a_page(url, names["content-type"])
            content = await _read_capped(url, response, cap)
        return FetchResult(url=url, final_url=final_url, status=response.status_code,
                           headers=names, content=content, elapsed=self._clock() - started)


async def _drain(response: httpx.Response, limit: int = DRAIN_LIMIT) -> None:
    """Read a bodiless (304) or small error answer to its end, so httpcore returns the
    connection to the pool instead of closing it: otherwise every conditional GET
    answered 304 costs a new TCP (and TLS) handshake.

    The body is read as sent, never decoded: nobody reads it, only its end matters to the
    pool, and a small gzip body can inflate a thousandfold. A body longer than ``limit`` bytes
    (declared, or found while reading) is left unread: its connection is closed instead.
    """
    declared = response.headers.get("content-length", "").strip()
    small = response.status_code == 304 or (declared.isdigit() and int(declared) <= limit)
    if not small or response.is_stream_consumed:
        return
    read = 0
    try:
        async with aclosing(_raw(response)) as chunks:
            async for chunk in chunks:
                read += len(chunk)
                if read > limit:
                    return
    except httpx.HTTPError:
        pass


def _lowered(headers: httpx.Headers) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined with ", "."""
    joined: dict[str, str] = {}
    for name, value in headers.multi_items():
        name = name.lower()
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


async def _read_capped(url: str, response: httpx.Response, cap: int) -> bytes:
    """The decoded body, cut as soon as it, or any layer of its Content-Encoding, passes
    ``cap`` (or says it will): no more than ``cap`` bytes plus a few bounded pieces are
    ever held, even from a stacked gzip, brotli or zstd bomb."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise too_large(url, cap)
    body = io.BytesIO()  # its getvalue() hands over the buffer: no second copy of the body
    try:
        async with aclosing(_decoded(response, cap)) as pieces:
            async for piece in pieces:
                body.write(piece)
    except OverLimit as exc:
        raise too_large(url, cap) from exc
    except ContentCodingError as exc:
        raise undecodable(url, exc) from exc
    return body.getvalue()


async def _decoded(response: httpx.Response, cap: int) -> AsyncGenerator[bytes, None]:
    if response.is_stream_consumed:  # built with content= (MockTransport): already decoded
        for piece in BodyDecoder("", cap).feed(response.content):
            yield piece
        return
    decoder = BodyDecoder(response.headers.get("content-encoding", ""), cap)
    async for raw in response.aiter_raw():  # as sent: httpx's decoders have no output bound
        for piece in decoder.feed(raw):
            yield piece


def _raw(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The body as sent; httpx types it as an iterator, but it is a generator to close."""
    return cast(AsyncGenerator[bytes, None], response.aiter_raw())
