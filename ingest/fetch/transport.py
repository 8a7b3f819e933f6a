"""The httpx transport under ingest's client: an httpcore pool with a network backend of our choice.

httpx's own AsyncHTTPTransport builds its connection pool with httpcore's default
network backend and offers no way to pass another. This transport does the same
work (httpx request in, httpx response out, httpcore's exceptions raised as httpx's)
over a pool built here, so that `ingest.fetch.netguard.PinnedBackend` can make every
connection: connections then go only to addresses vetted as they are made. The same
transport talks through a proxy (`ingest.fetch.proxy` picks one per request): httpcore's
HTTP proxy (absolute-form requests for http://, CONNECT tunnels for https://) or its
SOCKS5 proxy, under the same error translation.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpcore
import httpx

from ingest.config.proxy_url import ProxyURL

# httpcore's exception -> the httpx exception raised for it; the most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, ours in _ERRORS:
            if isinstance(exc, core):
                raise ours(str(exc)) from exc
        raise  # not httpcore's: ours (a netguard refusal) or a bug, as it is


class _Body(httpx.AsyncByteStream):
    """A response body from the pool, its errors raised as httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()  # type: ignore[attr-defined]  # httpcore's streams have it


class PoolTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over an httpcore connection pool whose connections ``backend`` makes
    (None: httpcore's default), through ``proxy`` if given. Certificates are verified
    as httpx verifies them, a proxy's own (https://) too."""

    def __init__(self, limits: httpx.Limits,
                 backend: httpcore.AsyncNetworkBackend | None = None,
                 proxy: ProxyURL | None = None) -> None:
        self._pool = _pool(limits, backend, proxy)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            response = await self._pool.handle_async_request(core)
        body = cast(AsyncIterable[bytes], response.stream)  # an async pool's streams are async
        return httpx.Response(response.status, headers=response.headers,
                              stream=_Body(body), extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()


def _pool(limits: httpx.Limits, backend: httpcore.AsyncNetworkBackend | None,
          proxy: ProxyURL | None) -> httpcore.AsyncConnectionPool:
    common: dict[str, Any] = {
        "ssl_context": httpx.create_ssl_context(), "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry, "network_backend": backend}
    if proxy is None:
        return httpcore.AsyncConnectionPool(**common)
    auth = None if proxy.username is None else (proxy.username, proxy.password or "")
    if proxy.scheme.startswith("socks"):
        return httpcore.AsyncSOCKSProxy(proxy.address, proxy_auth=auth, **common)
    return httpcore.AsyncHTTPProxy(
        proxy.address, proxy_auth=auth, **common,
        proxy_ssl_context=httpx.create_ssl_context() if proxy.scheme == "https" else None)
