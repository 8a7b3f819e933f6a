"""The checks of a feed's request settings (``headers``, ``cookies``, ``user_agent``,
``username``, ``password``, ``proxy``), and the Access model they make.

Their values may be secrets: no message here quotes a header value, a cookie value or a
password, only what is wrong with it. Header values and cookies must be ASCII, as httpx
sends them. Headers that ingest sets itself, or that shape the connection, are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ingest.config.checks import text
from ingest.config.proxy_url import parse_proxy
from ingest.config.source import BadValue, describe_value, key_line
from ingest.models import Access
from ingest.units import short_repr

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")  # RFC 9110 token, bounded
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]{0,8192}")  # visible ASCII, spaces and tabs
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,4096}")  # RFC 6265
# Set per request by ingest, or part of the connection: a feed cannot choose them.
_RESERVED = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
    "te", "trailer", "proxy-connection", "proxy-authorization", "expect", "accept",
    "accept-encoding", "content-encoding", "if-none-match", "if-modified-since", "range",
})
_OWN_KEY = {"cookie": "cookies", "user-agent": "user_agent"}
_MOST_PAIRS = 100


def headers(value: Any) -> tuple[tuple[str, str], ...]:
    """``headers:``, a mapping of header name to value."""
    pairs = _pairs(value, "header")
    for name, item in pairs:
        lower, where = name.lower(), (f".{name}", key_line(value, name))
        if lower in _OWN_KEY:
            raise BadValue(f"set it with the feed's {_OWN_KEY[lower]}: key, not as a header",
                           *where)
        if lower in _RESERVED:
            raise BadValue("ingest sets this header itself (or it belongs to the connection); "
                           "remove it", *where)
        if _HEADER_VALUE.fullmatch(item) is None:
            raise BadValue("a header value must be one line of printable ASCII (at most 8192 "
                           "characters); this one is not (value not shown)", *where)
    return pairs


def cookies(value: Any) -> tuple[tuple[str, str], ...]:
    """``cookies:``, a mapping of cookie name to value, sent as one Cookie header."""
    pairs = _pairs(value, "cookie")
    for name, item in pairs:
        if _COOKIE_VALUE.fullmatch(item) is None:
            raise BadValue("a cookie value must be printable ASCII without spaces, quotes, "
                           "commas, semicolons or backslashes (value not shown)",
                           f".{name}", key_line(value, name))
    return pairs


def _pairs(value: Any, what: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise BadValue(f"expected a mapping of {what} name to value, "
                       f"got {describe_value(value) if not isinstance(value, str) else 'text'}")
    if len(value) > _MOST_PAIRS:
        raise BadValue(f"more than {_MOST_PAIRS} {what}s")
    seen: set[str] = set()
    for name, item in value.items():
        shown = name if isinstance(name, str) and _TOKEN.fullmatch(name) else None
        if shown is None:
            raise BadValue(f"a {what} name must be a token of letters, digits and "
                           f"!#$%&'*+-.^_`|~, got {short_repr(name)}", "", key_line(value, name))
        if not isinstance(item, str):
            raise BadValue(f"expected text (quote it), got {_kind(item)}", f".{name}",
                           key_line(value, name))
        if name.lower() in seen:
            raise BadValue(f"{what} {name!r} is given twice", f".{name}", key_line(value, name))
        seen.add(name.lower())
    return tuple((str(name), str(item)) for name, item in value.items())


def _kind(value: Any) -> str:
    """A value's kind without the value: it may be a secret."""
    if value is None:
        return "null"
    return "a mapping" if isinstance(value, Mapping) else f"a value of type {type(value).__name__}"


def user_agent(value: Any) -> str:
    agent = text(value)
    if not agent.isascii():
        raise BadValue(f"a User-Agent must be ASCII, got {short_repr(agent)}")
    return agent


def username(value: Any) -> str:
    name = text(value)
    if ":" in name:
        raise BadValue("a user name for HTTP basic auth cannot hold ':'")
    return name


def password(value: Any) -> str:
    """Any one line of text; never quoted back."""
    if not isinstance(value, str) or not value:
        raise BadValue(f"expected non-empty text (quote it), got {_kind(value)}")
    if not value.isprintable():
        raise BadValue("a password must be one line of printable text (value not shown)")
    return value


def proxy(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"expected a proxy URL, got {_kind(value)}")
    try:
        parse_proxy(value)
    except ValueError as exc:
        raise BadValue(str(exc)) from None
    return value.strip()


def build_access(values: Mapping[str, Any]) -> Access:
    """The Access of a feed's checked values; ValueError if only one of username and
    password is given, or an Authorization header besides them (the caller names the key)."""
    if ("username" in values) != ("password" in values):
        raise ValueError("username and password go together: give both, or neither")
    if "username" in values and any(name.lower() == "authorization"
                                    for name, _ in values.get("headers", ())):
        raise ValueError("username and password make the Authorization header; remove the "
                         "one in headers, or them")
    return Access(headers=values.get("headers", ()), cookies=values.get("cookies", ()),
                  user_agent=values.get("user_agent"), username=values.get("username"),
                  password=values.get("password"), proxy=values.get("proxy"))

