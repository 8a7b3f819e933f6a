"""Value checks for config settings: a raw YAML value in, a typed value out, or BadValue.

Each check is a function of one value; the factories (``duration``,
``integer``, ``choice``, ``optional``) return one. config_schema.py says which
check applies to which key; config_source.RawSetting adds the file, line and key
to the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.config_source import BadValue, describe_value, item_line, key_line
from ingest.units import parse_duration, parse_size


def _scalar(value: Any, expected: str) -> Any:
    if value is None or isinstance(value, (bool, dict, list)):
        raise BadValue(f"expected {expected}, got {describe_value(value)}")
    return value


def duration(positive: bool = True) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        seconds = parse_duration(_scalar(value, "a duration"))
        if positive and seconds <= 0:
            raise BadValue(f"must be more than 0 seconds, got {value!r}")
        return seconds
    return check


def integer(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"expected an integer, got {describe_value(value)}")
        if value < minimum:
            raise BadValue(f"must be {minimum} or more, got {value}")
        return int(value)
    return check


def size(value: Any) -> int:
    nbytes = parse_size(_scalar(value, "a size"))
    if nbytes <= 0:
        raise BadValue(f"must be more than 0 bytes, got {value!r}")
    return nbytes


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, got {describe_value(value)}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"expected non-empty text, got {describe_value(value)}")
    if not value.isprintable():
        raise BadValue(f"must be one line of printable text, got {value!r}")
    return str(value).strip()


def path(value: Any) -> Path:
    return Path(text(value)).expanduser()  # made absolute by RawSetting.convert


def choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise BadValue(f"expected one of {', '.join(options)}; got {describe_value(value)}")
        return str(value)
    return check


def port(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not 0 <= value <= 65535):
        raise BadValue("expected a port 1-65535, or 0 or null for no server; "
                       f"got {describe_value(value)}")
    return int(value) if value else None  # 0 and null both mean "no server"


def footer_sites(value: Any) -> dict[str, tuple[str, ...]]:
    """``footers.sites``: host -> regexes, hosts lower-cased and without ``www.``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadValue("expected a mapping of host name to list of patterns, "
                       f"got {describe_value(value)}")
    sites: dict[str, tuple[str, ...]] = {}
    for host, patterns in value.items():
        line = key_line(value, host)
        site = str(host).strip().lower().removeprefix("www.")
        if not isinstance(host, str) or not site or re.search(r"[/:\s]", site):
            raise BadValue(f"expected a host name such as 'ansa.it', got {describe_value(host)}",
                           f".{host}", line)
        if site in sites:
            raise BadValue(f"site {site!r} is listed twice", f".{host}", line)
        sites[site] = _patterns(patterns, f".{host}", line)
    return sites


def _patterns(value: Any, sub: str, line: int | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadValue(f"expected a list of regular expressions, got {describe_value(value)}",
                       sub, line)
    for i, pattern in enumerate(value):
        where = (f"{sub}[{i}]", item_line(value, i))
        if not isinstance(pattern, str):
            raise BadValue(f"expected a regular expression, got {describe_value(pattern)}",
                           *where)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise BadValue(f"not a valid regular expression: {exc}", *where) from None
        if compiled.fullmatch(""):
            raise BadValue(f"{pattern!r} matches an empty line, so it would match every line",
                           *where)
    return tuple(str(p) for p in value)


def http_url(value: Any) -> str:
    url = text(value)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        raise BadValue(f"not an http(s) URL: {url!r}; write it like https://example.com/rss.xml")
    return url


def tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadValue(f"expected a list of tags, got {describe_value(value)}")
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip() or not tag.isprintable():
            raise BadValue(f"expected a tag (one line of text), got {describe_value(tag)}",
                           f"[{i}]", item_line(value, i))
    return tuple(str(tag).strip() for tag in value)


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)
