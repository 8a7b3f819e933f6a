"""A proxy's URL, checked once for the config and the fetch stage alike.

``scheme://[user[:password]@]host[:port]`` with scheme http, https, socks5 or socks5h.
httpcore's SOCKS5 client hands the proxy the host name, never an address it resolved,
so socks5 and socks5h both leave name resolution to the proxy. A proxy is only ever
shown with its password as ``***`` (`ProxyURL.masked`, `masked_proxy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ingest.redact import MASK
from ingest.units import short_repr
from ingest.urls import DEFAULT_PORTS as WEB_PORTS

DEFAULT_PORTS = {**WEB_PORTS, "socks5": 1080, "socks5h": 1080}
_EXAMPLE = "write it like http://user:password@proxy.example:3128 (http, https or socks5)"


@dataclass(frozen=True)
class ProxyURL:
    scheme: str  # one of DEFAULT_PORTS
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``scheme://host:port``, what httpcore connects to (no credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "socks5" if self.scheme == "socks5h" else self.scheme
        return f"{scheme}://{host}:{self.port}"

    @property
    def masked(self) -> str:
        """The proxy as messages show it: ``http://user:***@proxy:3128``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = "" if self.username is None else (
            f"{self.username}:{MASK}@" if self.password else f"{self.username}@")
        return f"{self.scheme}://{user}{host}:{self.port}"


def parse_proxy(text: str) -> ProxyURL:
    """``text`` as a ProxyURL; ValueError (naming it with its password masked) otherwise."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"not a proxy URL: {masked_proxy(text)}; {_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"a proxy's scheme must be http, https, socks5 or socks5h, got "
                         f"{masked_proxy(text)}; {_EXAMPLE}")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"not a proxy URL: {masked_proxy(text)}; {_EXAMPLE}")
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    if password is not None and not username:
        raise ValueError(f"a proxy password needs a user name: {masked_proxy(text)}")
    return ProxyURL(scheme, parts.hostname, port or DEFAULT_PORTS[scheme], username, password)


def masked_proxy(text: str) -> str:
    """``text`` with everything between ``://`` and the last ``@`` as ``***``; for a
    value that may not even parse (an error message), or one that does."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        scheme, rest = "", scheme
    authority, slash, tail = rest.partition("/")
    _, at, host = authority.rpartition("@")
    shown = f"{MASK}@{host}" if at else authority
    return short_repr(f"{scheme}{sep}{shown}{slash}{tail}", 120)
