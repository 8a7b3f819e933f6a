"""ingest.fetch.netguard: private-network refusal on every hop, proven without any connection.

Every test here uses a stub resolver and an inner transport that is either an
httpx.MockTransport or one that fails the test when called, or (for the connection
itself) a network backend that records connects and opens nothing: no DNS, no sockets.
"""

from __future__ import annotations

import asyncio

import httpcore
import httpx
import pytest

from ingest.config.model import HttpConfig
from ingest.errors import PermanentFetchError, TransientFetchError
from ingest.fetch.client import HttpClient
from ingest.fetch.netguard import (
    NEXT_ADDRESS_AFTER,
    AddressRefused,
    GuardedTransport,
    PinnedBackend,
    literal_ip,
    refusal_reason,
)
from ingest.fetch.transport import PoolTransport

pytestmark = pytest.mark.timeout(10)

PUBLIC = "93.184.216.34"


class NoConnection(httpx.AsyncBaseTransport):
    """The inner transport of a refusal test: being called at all fails the test."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(str(request.url))
        pytest.fail(f"a connection was attempted to {request.url}")


class StubResolver:
    """Answers from a table; records the names asked; fails on names it does not know."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            pytest.fail(f"unexpected lookup of {host}")
        answer = self.table[host]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(transport: httpx.AsyncBaseTransport, resolver, **cfg) -> HttpClient:
    return HttpClient(HttpConfig(per_host_delay=0.0, robots=False, **cfg), transport=transport,
                      resolver=resolver)


def fetch_page(http: HttpClient, url: str):
    async def main():
        async with http:
            return await http.fetch_page(url)
    return asyncio.run(main())


REFUSED = [
    "10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.255.1", "192.168.1.1", "127.0.0.1",
    "127.8.9.10", "::1", "fe80::1", "169.254.169.254", "224.0.0.1", "239.255.255.250",
    "0.0.0.0", "::", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "100.64.0.1", "100.127.255.254",
    "fc00::1", "fd12:3456::1", "ff02::1", "255.255.255.255", "240.0.0.1", "198.18.0.1",
    "192.0.2.1", "2001:db8::1", "2002:a00:1::1", "64:ff9b::a00:1",
    # ranges Python 3.11's ipaddress counts as global: site-local, documentation (RFC 9637),
    # 6to4 relay anycast, the last one also behind a mapping, 6to4 and NAT64
    "fec0::1", "feff:ffff::1", "3fff::1", "3fff:fff:ffff::1", "192.88.99.1", "192.88.99.254",
    "::ffff:192.88.99.1", "2002:c058:6301::1", "64:ff9b::c058:6301",
]
ALLOWED = [PUBLIC, "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34",
           "64:ff9b::5db8:d822", "2002:5db8:d822::1", "172.32.0.1", "100.128.0.1",
           "192.88.98.255", "192.88.100.1", "3fff:1000::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_refusal_reason_refuses(address):
    assert refusal_reason(address) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_refusal_reason_allows(address):
    assert refusal_reason(address) is None


@pytest.mark.parametrize("address", REFUSED)
def test_name_resolving_to_private_address_is_refused_before_connecting(address):
    inner, resolver = NoConnection(), StubResolver({"internal.example": [address]})
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(inner, resolver), "http://internal.example/admin")
    assert info.value.kind == "private_address"
    assert str(info.value).startswith(f"http://internal.example/admin: refused: "
                                      f"internal.example resolves to {address}, a")
    assert "set http.allow_private_networks: true to allow" in str(info.value)
    assert inner.calls == [] and resolver.asked == [("internal.example", 80)]


@pytest.mark.parametrize("url, host", [
    ("http://10.0.0.5/x", "10.0.0.5"),
    ("https://[::1]:8443/", "::1"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
    ("http://0.0.0.0:6379/", "0.0.0.0"),
    ("http://127.1/", "127.1"),  # legacy numeric forms the OS would accept
    ("http://2130706433/", "2130706433"),
    ("http://0x7f.1/", "0x7f.1"),
    ("http://[fec0::1]/", "fec0::1"),
    ("http://[3fff::1]/", "3fff::1"),
    ("http://192.88.99.1/", "192.88.99.1"),
])
def test_ip_literal_is_refused_without_resolving(url, host):
    inner, resolver = NoConnection(), StubResolver({})
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(inner, resolver), url)
    assert info.value.kind == "private_address"
    assert f": refused: {host} is a" in str(info.value)
    assert inner.calls == [] and resolver.asked == []


def test_message_for_private_literal():
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(NoConnection(), StubResolver({})), "http://10.0.0.5/x")
    assert str(info.value) == ("http://10.0.0.5/x: refused: 10.0.0.5 is a private address "
                               "(set http.allow_private_networks: true to allow)")


@pytest.mark.parametrize("address, reason", [
    ("fec0::1", "a site-local address"),
    ("3fff::1", "a documentation address"),
    ("192.88.99.1", "a 6to4 relay anycast address"),
    ("2002:c058:6301::1", "a 6to4 relay anycast address (embeds 192.88.99.1)"),
])
def test_refusal_names_the_range(address, reason):
    assert refusal_reason(address) == reason


def test_an_idna_host_is_checked_by_the_name_that_is_resolved_and_connected_to():
    inner, resolver = NoConnection(), StubResolver({"xn--exmple-cua.example": ["10.0.0.1"]})
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(inner, resolver), "http://ex\u00e4mple.example/")
    assert info.value.kind == "private_address"
    assert inner.calls == [] and resolver.asked == [("xn--exmple-cua.example", 80)]


def test_every_resolved_address_must_be_allowed():
    inner = NoConnection()
    resolver = StubResolver({"mixed.example": [PUBLIC, "2606:4700::1", "10.9.8.7"]})
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(inner, resolver), "https://mixed.example/")
    assert info.value.kind == "private_address" and "10.9.8.7" in str(info.value)
    assert inner.calls == [] and resolver.asked == [("mixed.example", 443)]


def test_public_address_is_fetched():
    seen: list[str] = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, html="<p>public</p>")

    resolver = StubResolver({"news.example": [PUBLIC, "2606:2800:220:1::1946"]})
    result = fetch_page(client(httpx.MockTransport(handler), resolver), "https://news.example/a")
    assert result.content == b"<p>public</p>" and seen == ["https://news.example/a"]
    assert resolver.asked == [("news.example", 443)]


def test_redirect_hop_to_private_address_is_refused():
    seen: list[str] = []

    def handler(request):
        seen.append(str(request.url))
        if request.url.host != "news.example":
            pytest.fail(f"a connection was attempted to {request.url}")
        return httpx.Response(302, headers={"Location": "http://internal.example/"})

    resolver = StubResolver({"news.example": [PUBLIC], "internal.example": ["10.1.2.3"]})
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(httpx.MockTransport(handler), resolver), "https://news.example/a")
    assert info.value.kind == "private_address"
    assert str(info.value).startswith("https://news.example/a: redirect to http://internal"
                                      ".example/ refused: internal.example resolves to 10.1.2.3")
    assert seen == ["https://news.example/a"]
    assert resolver.asked == [("news.example", 443), ("internal.example", 80)]


def test_redirect_hop_to_private_literal_is_refused():
    def handler(request):
        return httpx.Response(301, headers={"Location": "http://127.0.0.1:8080/admin"})

    resolver = StubResolver({"news.example": [PUBLIC]})
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(client(httpx.MockTransport(handler), resolver), "https://news.example/a")
    assert info.value.kind == "private_address"


@pytest.mark.parametrize("answer", [OSError(-2, "Name or service not known"), []])
def test_dns_failure_is_transient(answer):
    inner = NoConnection()
    with pytest.raises(TransientFetchError) as info:
        fetch_page(client(inner, StubResolver({"gone.example": answer})), "https://gone.example/")
    assert info.value.kind == "dns" and "cannot resolve gone.example" in str(info.value)
    assert inner.calls == []


def test_allow_private_networks_skips_the_check():
    async def no_resolving(host: str, port: int) -> list[str]:
        pytest.fail("the resolver was called")

    seen: list[str] = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, html="<p>lan</p>")

    http = client(httpx.MockTransport(handler), no_resolving, allow_private_networks=True)
    assert fetch_page(http, "http://10.0.0.5/x").content == b"<p>lan</p>"
    assert seen == ["http://10.0.0.5/x"]


def test_transport_refuses_non_http_schemes_and_checks_directly():
    transport = GuardedTransport(NoConnection(), StubResolver({}), allow_private=True)

    async def main() -> None:
        with pytest.raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "file:///etc/passwd"))
        guarded = GuardedTransport(NoConnection(), StubResolver({}))
        with pytest.raises(AddressRefused) as info:
            await guarded.handle_async_request(httpx.Request("GET", "http://[fe80::1]/"))
        assert info.value.url == "http://[fe80::1]/"

    asyncio.run(main())


@pytest.mark.parametrize("host, ip", [
    ("10.0.0.5", "10.0.0.5"), ("[::1]", "::1"), ("::1", "::1"), ("127.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("example.com", None), ("cafe", None), ("1e100.net", None), ("localhost", None),
])
def test_literal_ip(host, ip):
    found = literal_ip(host)
    assert (None if found is None else str(found)) == ip


# --- the connection itself: PinnedBackend (DNS rebinding) ------------------------------


class Sockets(httpcore.AsyncNetworkBackend):
    """PinnedBackend's inner backend: records each connect, opens nothing. Addresses in
    ``refuse`` fail to connect, those in ``silent`` time out; any other yields a stream whose
    TLS handshake records the name the certificate would be checked against, then fails
    (nothing is ever sent)."""

    def __init__(self, refuse: tuple[str, ...] = (), silent: tuple[str, ...] = ()) -> None:
        self.connects: list[tuple[str, int]] = []
        self.timeouts: list[float | None] = []
        self.tls_names: list[str | None] = []
        self.refuse, self.silent = refuse, silent

    async def connect_tcp(self, host, port, timeout=None, local_address=None,
                          socket_options=None):
        self.connects.append((host, port))
        self.timeouts.append(timeout)
        if host in self.refuse:
            raise httpcore.ConnectError(f"connection to {host} refused")
        if host in self.silent:  # as if it waited out its timeout: no answer at all
            raise httpcore.ConnectTimeout(f"no answer from {host}")
        backend = self

        class Stream(httpcore.AsyncNetworkStream):
            async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
                backend.tls_names.append(server_hostname)
                raise httpcore.ConnectError("no TLS in tests")

            async def write(self, buffer, timeout=None):
                raise httpcore.WriteError("no sending in tests")

            async def aclose(self):
                pass

        return Stream()


class Answers:
    """A resolver that gives its answers in turn: what a rebinding DNS server does."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return self.answers.pop(0)


def pinned_client(sockets: Sockets, resolver) -> HttpClient:
    transport = PoolTransport(httpx.Limits(max_connections=4), PinnedBackend(resolver, sockets))
    return client(transport, resolver)


def test_answer_changed_after_the_check_is_refused_at_connect():
    sockets, resolver = Sockets(), Answers([PUBLIC], ["10.0.0.1"])
    with pytest.raises(PermanentFetchError) as info:
        fetch_page(pinned_client(sockets, resolver), "https://rebind.example/a")
    assert info.value.kind == "private_address"
    assert str(info.value).startswith("https://rebind.example/a: refused: rebind.example "
                                      "resolves to 10.0.0.1, a private address")
    assert resolver.asked == 2 and sockets.connects == []


def test_connection_goes_to_the_vetted_addresses_and_tls_checks_the_name():
    other = "2606:2800:220:1::1946"
    sockets = Sockets(refuse=(PUBLIC,))
    resolver = Answers([PUBLIC, other], [PUBLIC, other, PUBLIC])
    with pytest.raises(TransientFetchError):
        fetch_page(pinned_client(sockets, resolver), "https://news.example/a")
    # the name was never handed to a connect; the first address refused, the next one tried
    assert sockets.connects == [(PUBLIC, 443), (other, 443)]
    assert sockets.tls_names == ["news.example"]


def test_a_silent_family_costs_one_short_wait_not_the_timeout():
    v6 = ["2606:2800:220:1::1946", "2606:2800:220:1::1947"]
    sockets = Sockets(silent=tuple(v6))
    resolver = Answers([*v6, PUBLIC], [*v6, PUBLIC])
    with pytest.raises(TransientFetchError):
        fetch_page(pinned_client(sockets, resolver), "https://news.example/a")
    # IPv6 first, as the resolver ranked it, then IPv4 instead of the second IPv6 address
    assert sockets.connects == [(v6[0], 443), (PUBLIC, 443)]
    assert sockets.timeouts == [NEXT_ADDRESS_AFTER, NEXT_ADDRESS_AFTER]
    assert sockets.tls_names == ["news.example"]


def test_the_last_address_gets_the_whole_connect_timeout():
    sockets = Sockets(refuse=(PUBLIC,), silent=("2606:4700::1",))
    resolver = Answers([PUBLIC, "2606:4700::1"], [PUBLIC, "2606:4700::1"])
    with pytest.raises(TransientFetchError) as info:
        fetch_page(pinned_client(sockets, resolver), "https://news.example/a")
    assert info.value.kind == "timeout"
    assert sockets.timeouts == [NEXT_ADDRESS_AFTER, HttpConfig().timeout]


def test_unix_sockets_are_not_made():
    async def main() -> None:
        with pytest.raises(httpcore.UnsupportedProtocol):
            await PinnedBackend(StubResolver({}), Sockets()).connect_unix_socket("/run/x.sock")

    asyncio.run(main())


def test_ingest_client_connects_to_the_address_its_check_vetted(monkeypatch):
    connects: list[tuple[str, int]] = []

    async def no_socket(self, host, port, *args, **kwargs):
        connects.append((host, port))
        raise httpcore.ConnectError("no sockets in tests")

    # Every real connect, pinned or not, ends in this method: here it opens nothing.
    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", no_socket)
    resolver = Answers([PUBLIC], ["10.0.0.1"])  # a second lookup would be told otherwise
    http = HttpClient(HttpConfig(per_host_delay=0.0, robots=False), resolver=resolver)
    with pytest.raises(TransientFetchError):
        fetch_page(http, "https://rebind.example/a")
    # one lookup, shared by the check and the connection, which went to its address
    assert resolver.asked == 1 and connects == [(PUBLIC, 443)]
