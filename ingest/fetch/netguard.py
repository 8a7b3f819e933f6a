"""Guards on every hop of a fetch: no private networks, no redirect bodies (fetch stage).

A feed or a page on the internet must not be able to make ingest talk to the
machine it runs on or to its neighbours (``http://169.254.169.254/``,
``http://10.0.0.5/admin``, a redirect to ``http://localhost:6379/``...).

:class:`GuardedTransport` wraps the real httpx transport. httpx sends every
redirect hop through the transport, so every hop is checked before any
connection is made: an IP-literal host is checked as it is; a name is resolved
and *all* its addresses must be global. Refusals raise :class:`AddressRefused`,
resolver failures :class:`ResolveFailed`; ``ingest.fetch.client`` translates both
into ingest's own errors.

:class:`DropRedirectBodies` guards the hops the other way: a redirect's body is
never read.

The check before a request gives the clear message; :class:`PinnedBackend` closes
the gap behind it. A connection that resolved the name again for itself would reach a
private address if the DNS answer changed between the check and the connect
(rebinding). PinnedBackend makes the connections (see ``ingest.fetch.transport``): it
resolves the name, vets every address the same way and connects to those addresses,
never to the name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

import httpcore
import httpx

from ingest.fetch.resolver import Resolver, system_resolver
from ingest.urls import DEFAULT_PORTS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Not global, though Python 3.11's ipaddress counts them as global.
_ALSO_NOT_GLOBAL = (
    (ipaddress.ip_network("fec0::/10"), "a site-local"),  # RFC 3879: deprecated, yet routed
    (ipaddress.ip_network("3fff::/20"), "a documentation"),  # RFC 9637
    (ipaddress.ip_network("192.88.99.0/24"), "a 6to4 relay anycast"),  # RFC 7526
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HINT = "set http.allow_private_networks: true to allow"
NEXT_ADDRESS_AFTER = 2.0  # seconds a connect may take before the host's next address is tried


class NetguardError(Exception):
    """Base of the errors this module raises; ``url`` is the refused hop."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class AddressRefused(NetguardError):
    """The hop's host is (or resolves to) an address that is not global."""


class ResolveFailed(NetguardError):
    """The hop's host name could not be resolved."""


def literal_ip(host: str) -> IPAddress | None:
    """``host`` as an address when it is an IP literal (legacy ``127.1`` forms too)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:  # inet_aton accepts exactly the numeric forms getaddrinfo would
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def _translated_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (``::ffff:a.b.c.d``, NAT64)."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _tunnelled_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 endpoint a 6to4 or Teredo address embeds."""
    if ip.version == 4:
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo is not None else None


def _category(ip: IPAddress) -> str | None:
    checks = (
        ("an unspecified", ip.is_unspecified), ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local), ("a multicast", ip.is_multicast),
        ("a shared (CGNAT)", ip.version == 4 and ip in _CGNAT),
        ("a private", ip.is_private), ("a reserved", ip.is_reserved),
        *((name, ip in network) for network, name in _ALSO_NOT_GLOBAL),
        ("a non-global", not ip.is_global),
    )
    return next((f"{name} address" for name, hit in checks if hit), None)


def refusal_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` must not be contacted (``"a private address"``), or None."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    translated = _translated_v4(ip)
    if translated is not None:  # judged by the IPv4 address it reaches
        category = _category(translated)
        return None if category is None else f"{category} (maps to {translated})"
    category = _category(ip)
    if category is not None:
        return category
    tunnelled = _tunnelled_v4(ip)
    if tunnelled is not None and (category := _category(tunnelled)) is not None:
        return f"{category} (embeds {tunnelled})"
    return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """Check each request's host, then hand the request to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, resolver: Resolver | None = None,
                 allow_private: bool = False) -> None:
        self._inner = inner
        self._resolver = resolver or system_resolver
        self._allow_private = allow_private

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        # The host as it is sent and connected to: ASCII (an IDNA name's xn-- form), the
        # name PinnedBackend resolves again, so that both share one cached answer.
        host = url.raw_host.decode("ascii")
        if url.scheme not in DEFAULT_PORTS or not host:
            raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url}", request=request)
        if not self._allow_private:
            await self.check(str(url), host, url.port or DEFAULT_PORTS[url.scheme])
        try:
            return await self._inner.handle_async_request(request)
        except NetguardError as exc:  # from PinnedBackend, which knows no URL
            exc.url = exc.url or str(url)
            raise

    async def check(self, url: str, host: str, port: int) -> None:
        """Raise AddressRefused/ResolveFailed unless every address of ``host`` is global."""
        await vetted_addresses(self._resolver, url, host, port)

    async def aclose(self) -> None:
        await self._inner.aclose()


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Makes connections only to addresses vetted as the connection is made.

    The name is resolved here, every address must be global, and the connection goes
    to those addresses, not to the name, so no second lookup can answer differently.
    TLS still checks the certificate against the name (httpcore hands the origin's host
    to ``start_tls`` as ``server_hostname``). The addresses are tried one after the
    other, from the resolver's first choice, IPv6 and IPv4 alternating (RFC 8305); each
    but the last gets NEXT_ADDRESS_AFTER seconds, so a family that is silently
    unreachable delays a connection by that much, not by the whole timeout.
    """

    def __init__(self, resolver: Resolver | None = None,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._resolver = resolver or system_resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options=None) -> httpcore.AsyncNetworkStream:
        addresses = _alternating(await vetted_addresses(self._resolver, "", host, port))
        options = {"local_address": local_address, "socket_options": socket_options}
        for address in addresses[:-1]:
            with contextlib.suppress(httpcore.ConnectError, httpcore.ConnectTimeout):
                limit = min(timeout or NEXT_ADDRESS_AFTER, NEXT_ADDRESS_AFTER)
                return await self._inner.connect_tcp(address, port, timeout=limit, **options)
        return await self._inner.connect_tcp(addresses[-1], port, timeout=timeout, **options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options=None) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("ingest makes no Unix socket connections")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _alternating(addresses: list[str]) -> list[str]:
    """IPv6 and IPv4 addresses taken in turn, starting with the resolver's first choice."""
    first_v6 = ":" in addresses[0]
    same = [a for a in addresses if (":" in a) == first_v6]
    other = [a for a in addresses if (":" in a) != first_v6]
    mixed = [a for pair in zip(same, other, strict=False) for a in pair]
    n = len(mixed) // 2
    return mixed + same[n:] + other[n:]


async def vetted_addresses(resolver: Resolver, url: str, host: str, port: int) -> list[str]:
    """The addresses of ``host``, every one of them global; AddressRefused or
    ResolveFailed (naming ``url``) otherwise. An IP literal is its own address."""
    ip = literal_ip(host)
    if ip is not None:
        if (reason := refusal_reason(ip)) is not None:
            raise AddressRefused(f"{host} is {reason} ({_HINT})", url=url)
        return [str(ip)]
    addresses = await _resolve(resolver, url, host, port)
    for address in addresses:
        if (reason := refusal_reason(address)) is not None:
            raise AddressRefused(f"{host} resolves to {address}, {reason} ({_HINT})", url=url)
    return addresses


async def _resolve(resolver: Resolver, url: str, host: str, port: int) -> list[str]:
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise ResolveFailed(f"cannot resolve {host}: {exc}", url=url) from exc
    if not addresses:
        raise ResolveFailed(f"cannot resolve {host}: no addresses", url=url)
    try:
        for address in addresses:
            ipaddress.ip_address(address)
    except ValueError as exc:
        raise ResolveFailed(f"cannot resolve {host}: {exc}", url=url) from exc
    return list(dict.fromkeys(addresses))  # getaddrinfo may repeat an address


class DropRedirectBodies(httpx.AsyncBaseTransport):
    """Hand httpx redirects without their bodies.

    httpx reads a redirect's body whole, without any size cap, before
    following it; ingest never needs one, and a huge or gzip-bomb body must not be read.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code not in _REDIRECTS or "location" not in response.headers:
            return response
        await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers,
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()
