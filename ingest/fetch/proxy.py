"""Which proxy a request goes through, and one connection pool per proxy.

For each hop: the feed's own ``proxy`` (in its `RequestPlan`), else ``http.proxy``, else,
with ``http.trust_env``, the environment's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY for the
hop's scheme unless NO_PROXY names its host (read once, when the client is made); else
no proxy. httpx's own proxy support (``proxy=``, ``trust_env=True``) is not used: its
mounts would send requests past ingest's transport and its guards.

A proxy is the user's choice, so its own address is not vetted: it may sit on a private
or loopback address, and its pool connects with httpcore's plain backend. The target is
still checked before the request (GuardedTransport sits above this router), but the
proxy resolves the target's name again for itself: the rebinding protection of
PinnedBackend does not reach through a proxy. Errors name the proxy, password masked.
"""

from __future__ import annotations

import urllib.request

import httpx
import socksio

from ingest.config.proxy_url import ProxyURL, parse_proxy
from ingest.fetch.access import PLAN, RequestPlan
from ingest.fetch.transport import PoolTransport


class ProxyRouter(httpx.AsyncBaseTransport):
    """Hand each request to its proxy's pool (made on first use), or to ``direct``."""

    def __init__(self, direct: httpx.AsyncBaseTransport, limits: httpx.Limits, *,
                 proxy: str | None = None, trust_env: bool = False) -> None:
        self._direct = direct
        self._limits = limits
        self._default = proxy
        self._env = urllib.request.getproxies_environment() if trust_env else {}
        self._parsed: dict[str, ProxyURL] = {}
        self._pools: dict[ProxyURL, PoolTransport] = {}

    def proxy_for(self, url: httpx.URL, chosen: str | None = None) -> ProxyURL | None:
        """The proxy a request for ``url`` goes through; ``chosen``: the feed's own."""
        if chosen or self._default:
            return self._parse(chosen or self._default or "", "")
        # proxy_bypass_environment is public in urllib.request, though typeshed omits it
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if not self._env or bypass(url.host, self._env):
            return None
        scheme = url.scheme if url.scheme in self._env else "all"
        text = self._env.get(scheme)
        if not text:
            return None
        return self._parse(text if "://" in text else f"http://{text}",
                           f"{scheme.upper()}_PROXY from the environment (http.trust_env): ")

    def _parse(self, text: str, source: str) -> ProxyURL:
        if text not in self._parsed:
            try:
                self._parsed[text] = parse_proxy(text)
            except ValueError as exc:
                raise httpx.ProxyError(f"{source}{exc}") from None
        return self._parsed[text]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        plan = request.extensions.get(PLAN)
        proxy = self.proxy_for(request.url, plan.proxy if isinstance(plan, RequestPlan) else None)
        if proxy is None:
            return await self._direct.handle_async_request(request)
        pool = self._pools.get(proxy)
        if pool is None:
            pool = self._pools[proxy] = PoolTransport(self._limits, None, proxy)
        try:
            response = await pool.handle_async_request(request)
        except httpx.TransportError as exc:
            raise type(exc)(f"{exc} (through proxy {proxy.masked})", request=request) from exc
        except (socksio.ProtocolError, AssertionError) as exc:  # httpcore's SOCKS handshake
            raise httpx.ProxyError(f"proxy {proxy.masked} answered outside the SOCKS5 "
                                   "protocol", request=request) from exc
        if response.status_code == 407:  # a forwarding proxy's refusal, not the site's answer
            await response.aclose()
            raise httpx.ProxyError(f"proxy {proxy.masked} refused the request (HTTP 407: "
                                   "check its user name and password)", request=request)
        return response

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
        await self._direct.aclose()

