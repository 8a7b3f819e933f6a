"""Fetch feeds and pages over HTTP (httpx; with netguard and transport under it).

Every outcome becomes a FetchResult or one of ingest.errors' FetchErrors, decided
here and nowhere else (``classify_response`` and ``translate_error``):

    2xx                              FetchResult
    304                              NotModified
    404 / 410 / other 4xx            PermanentFetchError  http_<code>
    408 / 425 / 5xx                  TransientFetchError  http_<code>
    429, or 503 with Retry-After     HostBackoff          the host is left alone until then
    timeouts in a row (ingest.fetch.hosts) HostBackoff          the host is left alone a while
    redirect loop, too many hops     PermanentFetchError  too_many_redirects
    deadline (cfg.timeout) passed    TransientFetchError  timeout
    connect / read / protocol error  TransientFetchError  connection
    host name does not resolve       TransientFetchError  dns
    private address, on any hop      PermanentFetchError  private_address
    not an http(s) URL, or a host    PermanentFetchError  bad_url
      name that is not valid IDNA
    body over its cap (decoded, or   PermanentFetchError  too_large
      any layer of its codings)
    page that is not HTML/XML        PermanentFetchError  not_html
    body that does not decode, or    PermanentFetchError  decoding
      an unknown Content-Encoding

Bodies off the network are decoded by ingest.fetch.content_coding, in bounded pieces, never by
httpx, whose decoders inflate each network read whole.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing

import httpx

from ingest.config.model import HttpConfig
from ingest.fetch.content_coding import BodyDecoder, ContentCodingError, OverLimit, accept_encoding
from ingest.errors import FetchError, HostBackoff, NotModified, PermanentFetchError, \
    TransientFetchError
from ingest.fetch.hosts import HostGate, HostRests, host_of
from ingest.models import FetchResult
from ingest.fetch.netguard import AddressRefused, DropRedirectBodies, GuardedTransport, NetguardError, \
    PinnedBackend
from ingest.fetch.resolver import CachedResolver, Resolver, system_resolver
from ingest.fetch.transport import PoolTransport
from ingest.urls import DEFAULT_PORTS

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8")
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
DEFAULT_RETRY_AFTER = 60.0  # seconds, for a 429 that does not say
MAX_RETRY_AFTER = 86400.0  # a server cannot park a host for more than a day
DRAIN_LIMIT = 65536  # bytes of an error body read so that its connection can be kept
_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or HTTP-date), capped; None if absent."""
    value = (value or "").strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _server_now(headers: Mapping[str, str], now: float) -> float:
    """The server's idea of now (its Date header), so HTTP-date waits ignore clock skew."""
    try:
        return email.utils.parsedate_to_datetime(headers.get("date", "")).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return now


def classify_response(url: str, status: int, headers: Mapping[str, str],
                      now: float) -> FetchError | None:
    """The error a response means, or None for 2xx. ``now``: wall-clock epoch seconds."""
    if 200 <= status < 300:
        return None
    if status == 304:
        return NotModified(f"{url}: not modified (HTTP 304)", url=url)
    retry = parse_retry_after(headers.get("retry-after"), _server_now(headers, now))
    if status == 429 or (status == 503 and retry is not None):
        seconds = DEFAULT_RETRY_AFTER if retry is None else retry
        note = "" if retry is not None else ", by default"
        return HostBackoff(f"{url}: HTTP {status} (retry after {seconds:.0f}s{note})",
                           url=url, retry_after=seconds)
    kind = f"http_{status}"
    if status in (408, 425) or 500 <= status < 600:
        return TransientFetchError(f"{url}: HTTP {status}", url=url, kind=kind)
    return PermanentFetchError(f"{url}: HTTP {status}", url=url, kind=kind)


def translate_error(url: str, exc: BaseException, cfg: HttpConfig) -> FetchError:
    """The FetchError for a library exception raised while fetching ``url``."""
    if isinstance(exc, NetguardError):
        hop = "" if exc.url == url else f" redirect to {exc.url}"
        if isinstance(exc, AddressRefused):
            return PermanentFetchError(f"{url}:{hop} refused: {exc}", url=url,
                                       kind="private_address")
        return TransientFetchError(f"{url}:{hop} {exc}", url=url, kind="dns")
    if isinstance(exc, httpx.TooManyRedirects):
        return PermanentFetchError(f"{url}: too many redirects (a loop, or more than "
                                   f"{cfg.max_redirects})", url=url, kind="too_many_redirects")
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return TransientFetchError(f"{url}: timed out after {cfg.timeout:g}s", url=url,
                                   kind="timeout")
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return PermanentFetchError(f"{url}: bad URL: {_describe(exc)}", url=url, kind="bad_url")
    if isinstance(exc, UnicodeError):  # ``url`` itself was checked: a redirect's host
        return PermanentFetchError(f"{url}: bad URL: a redirect went to a host name that is "
                                   f"not valid IDNA ({_describe(exc)})", url=url, kind="bad_url")
    if isinstance(exc, httpx.DecodingError):
        return PermanentFetchError(f"{url}: body does not decode: {_describe(exc)}", url=url,
                                   kind="decoding")
    return TransientFetchError(f"{url}: connection failed: {_describe(exc)}", url=url,
                               kind="connection")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def is_page_type(content_type: str) -> bool:
    """True for HTML, XHTML and XML-ish media types, and for a missing type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or media in _PAGE_TYPES:
        return True
    return media.endswith("+xml") and not media.startswith(("image/", "audio/", "video/"))


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
    inner = transport or PoolTransport(limits, backend)
    guarded = GuardedTransport(inner, resolver, allow_private=cfg.allow_private_networks)
    # trust_env=False: HTTP(S)_PROXY / ALL_PROXY / NO_PROXY and .netrc from the environment
    # are ignored, so a proxy never reroutes a request: the guard checks the host we
    # really connect to, and tests aimed at 127.0.0.1 stay on loopback.
    return httpx.AsyncClient(
        transport=DropRedirectBodies(guarded), follow_redirects=True,
        max_redirects=cfg.max_redirects, timeout=httpx.Timeout(cfg.timeout), trust_env=False,
        headers={"User-Agent": cfg.user_agent, "Accept-Encoding": accept_encoding()})


class HttpClient:
    """Fetch feeds and pages politely, within time and size limits; one per process."""

    def __init__(self, cfg: HttpConfig, *, transport: httpx.AsyncBaseTransport | None = None,
                 resolver: Resolver | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._cfg = cfg
        self._clock = clock
        self._wall_clock = wall_clock  # only to read Retry-After dates without a Date header
        self._gate = HostGate(cfg.per_host_concurrency, cfg.per_host_delay, clock=clock,
                              sleep=sleep)
        self._rests = HostRests(clock)
        self._client = build_client(cfg, transport, resolver)

    async def fetch_feed(self, url: str, *, etag: str | None = None,
                         last_modified: str | None = None) -> FetchResult:
        """GET a feed (conditionally when validators are given); 304 raises NotModified."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._fetch(url, headers, cap=self._cfg.max_feed_bytes, page=False)

    async def fetch_page(self, url: str) -> FetchResult:
        """GET an article page; a non-HTML Content-Type raises PermanentFetchError(not_html)."""
        headers = {"Accept": PAGE_ACCEPT}
        return await self._fetch(url, headers, cap=self._cfg.max_page_bytes, page=True)

    def backoff_until(self, url: str) -> float | None:
        """The clock time until which ``url``'s host is left alone, or None."""
        return self._rests.until(url)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _fetch(self, url: str, headers: dict[str, str], *, cap: int,
                     page: bool) -> FetchResult:
        target = _check_url(url)
        host = host_of(url)
        self._rests.refuse_if_resting(url)
        async with self._gate.slot(host):  # waiting here does not count against the deadline
            self._rests.refuse_if_resting(url)  # a sibling request may have been told to wait
            started = self._clock()
            try:
                async with asyncio.timeout(self._cfg.timeout):
                    result = await self._exchange(url, target, headers, cap=cap, page=page,
                                                  started=started)
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

    async def _exchange(self, url: str, target: httpx.URL, headers: dict[str, str], *, cap: int,
                        page: bool, started: float) -> FetchResult:
        # ``target`` is ``url`` as _check_url parsed it: httpx would parse the string again
        async with self._client.stream("GET", target, headers=headers) as response:
            final_url = str(response.url)
            names = _lowered(response.headers)
            error = classify_response(url, response.status_code, names, self._wall_clock())
            if isinstance(error, HostBackoff):
                self._rests.rest(error.retry_after, url, final_url)
            if error is not None:
                await _drain(response)  # a 304 left unread closes its kept-alive connection
                raise error
            if page and not is_page_type(names.get("content-type", "")):
                raise PermanentFetchError(f"{url}: not a web page ({names['content-type']})",
                                          url=url, kind="not_html")
            content = await _read_capped(url, response, cap)
        return FetchResult(url=url, final_url=final_url, status=response.status_code,
                           headers=names, content=content, elapsed=self._clock() - started)


async def _drain(response: httpx.Response, limit: int = DRAIN_LIMIT) -> None:
    """Read a bodiless (304) or small error answer to its end, so httpcore returns the
    connection to the pool instead of closing it: otherwise every conditional GET
    answered 304 costs a new TCP (and TLS) handshake.

    The body is read as sent, never decoded: nobody reads it, only its end matters to the
    pool, and 60 KB of gzip can inflate to 60 MiB. A body longer than ``limit`` bytes
    (declared, or found while reading) is left unread: its connection is closed instead.
    """
    declared = response.headers.get("content-length", "").strip()
    small = response.status_code == 304 or (declared.isdigit() and int(declared) <= limit)
    if not small or response.is_stream_consumed:
        return
    read = 0
    try:
        async with aclosing(response.aiter_raw()) as chunks:
            async for chunk in chunks:
                read += len(chunk)
                if read > limit:
                    return
    except httpx.HTTPError:
        pass


def _check_url(url: str) -> httpx.URL:
    """``url`` parsed, or PermanentFetchError(bad_url) unless it is an http(s) URL whose
    host httpx can use."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # an IDNA host is decoded here, as httpx does for every request
    except (httpx.InvalidURL, TypeError, ValueError) as exc:  # ValueError: UnicodeError too
        raise PermanentFetchError(f"{url}: bad URL: {_describe_url_error(exc)}", url=url,
                                  kind="bad_url") from exc
    if parsed.scheme not in DEFAULT_PORTS or not host:
        raise PermanentFetchError(f"{url}: bad URL: not an http(s) URL", url=url, kind="bad_url")
    return parsed


def _describe_url_error(exc: BaseException) -> str:
    if isinstance(exc, UnicodeError):  # idna's errors: a host httpx cannot send a request to
        return f"the host name is not valid IDNA ({_describe(exc)})"
    return _describe(exc)


def _lowered(headers: httpx.Headers) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined with ", "."""
    joined: dict[str, str] = {}
    for name, value in headers.multi_items():
        name = name.lower()
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def _too_large(url: str, cap: int) -> PermanentFetchError:
    return PermanentFetchError(f"{url}: body larger than {cap} bytes", url=url, kind="too_large")


async def _read_capped(url: str, response: httpx.Response, cap: int) -> bytes:
    """The decoded body, cut as soon as it, or any layer of its Content-Encoding, passes
    ``cap`` (or says it will): no more than ``cap`` bytes plus a few bounded pieces are
    ever held, even from a stacked gzip, brotli or zstd bomb."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(url, cap)
    body = io.BytesIO()  # its getvalue() hands over the buffer: no second copy of the body
    try:
        async with aclosing(_decoded(response, cap)) as pieces:
            async for piece in pieces:
                body.write(piece)
    except OverLimit as exc:
        raise _too_large(url, cap) from exc
    except ContentCodingError as exc:
        raise PermanentFetchError(f"{url}: body does not decode: {exc}", url=url,
                                  kind="decoding") from exc
    return body.getvalue()


async def _decoded(response: httpx.Response, cap: int) -> AsyncIterator[bytes]:
    if response.is_stream_consumed:  # built with content= (MockTransport): already decoded
        for piece in BodyDecoder("", cap).feed(response.content):
            yield piece
        return
    decoder = BodyDecoder(response.headers.get("content-encoding", ""), cap)
    async for raw in response.aiter_raw():  # as sent: httpx's decoders have no output bound
        for piece in decoder.feed(raw):
            yield piece
