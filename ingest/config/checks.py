"""Value checks for config settings: a raw YAML value in, a typed value out, or BadValue.

Each check is a function of one value; the factories (``duration``, ``size``,
``integer``, ``choice``, ``optional``) return one, with the bounds that
ingest.config.schema chooses per setting. ingest.config.source.RawSetting adds the
file, line and key to the message.

A footer pattern is a program from the user, run on every article's lines. It is
compiled here as the footer stage compiles it (`ingest.site_patterns`), so a pattern
the stage cannot take is a config error, whatever the compiler raises. Its
length and counted repeats are bounded before it is compiled: the compiler writes
``(?:(?:a{100}){100}){100}`` out in full, so its work multiplies with each level of nesting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.config.source import BadValue, describe_value, item_line, key_line
from ingest.units import format_duration, parse_duration, parse_size, short_repr
from ingest.urls import without_www

_LONGEST_PATTERN = 1000  # characters; a footer pattern matches within one line
_MOST_REPEAT_WORK = 100_000  # the counts of all {n,m} repeats multiplied
_COUNTED_REPEAT = re.compile(r"\{(\d*+)(?:,(\d*+))?+\}")
# The regex module's recursion: (?R), (?1), (?-1), (?&name), (?P>name). Python's re,
# whose syntax footer patterns are written in, has none; on an empty line it recurses
# until memory runs out, and the match timeout does not stop it in time.
_RECURSION = re.compile(r"\(\?(?:R|[+-]?+\d++|&\w++|P>\w++)\)")
_EMPTY_LINE_TIMEOUT = 0.5  # seconds


def _scalar(value: Any, expected: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadValue(f"expected {expected}, got {describe_value(value)}")
    return value


def duration(*, most: str, positive: bool = True) -> Callable[[Any], float]:
    """Seconds, at most ``most`` (``"1h"``); more than 0 if ``positive``."""
    limit = parse_duration(most)

    def check(value: Any) -> float:
        seconds = parse_duration(_scalar(value, "a duration"), most=limit)
        if positive and seconds <= 0:
            raise BadValue(f"must be more than 0 seconds, got {short_repr(value)}")
        return seconds
    return check


def size(*, most: str) -> Callable[[Any], int]:
    """Bytes, more than 0 and at most ``most`` (``"1GiB"``)."""
    limit = parse_size(most)

    def check(value: Any) -> int:
        nbytes = parse_size(_scalar(value, "a size"), most=limit)
        if nbytes <= 0:
            raise BadValue(f"must be more than 0 bytes, got {short_repr(value)}")
        return nbytes
    return check


def integer(least: int, most: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"expected an integer, got {describe_value(value)}")
        if value < least:
            raise BadValue(f"must be {least} or more, got {short_repr(int(value))}")
        if value > most:
            raise BadValue(f"must be {most} or less, got {short_repr(int(value))}")
        return int(value)
    return check


def fraction(value: Any) -> float:
    """A number more than 0 and at most 1."""
    number = _scalar(value, "a number from 0 to 1")
    if isinstance(number, str) or not 0 < number <= 1:
        raise BadValue(f"expected a number more than 0 and at most 1, got {short_repr(value)}")
    return float(number)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, got {describe_value(value)}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"expected non-empty text, got {describe_value(value)}")
    if not value.isprintable():
        raise BadValue(f"must be one line of printable text, got {short_repr(value)}")
    return str(value).strip()


def path(value: Any) -> Path:
    return Path(text(value)).expanduser()  # made absolute by RawSetting.convert


def choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
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
        sub = f".{host}" if isinstance(host, str) and len(host) <= 100 else ""
        site = without_www(host.strip().lower()) if isinstance(host, str) else ""
        if not site or re.search(r"[/:\s]", site):
            raise BadValue(f"expected a host name such as 'ansa.it', got {describe_value(host)}",
                           sub, line)
        if site in sites:
            raise BadValue(f"site {site!r} is listed twice", sub, line)
        sites[site] = _patterns(patterns, sub, line)
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
        problem = _footer_pattern_problem(pattern)
        if problem:
            raise BadValue(problem, *where)
    return tuple(str(p) for p in value)


def _footer_pattern_problem(pattern: str) -> str:
    """Why the footer stage could not use ``pattern``; '' if it can."""
    if len(pattern) > _LONGEST_PATTERN:
        return (f"{short_repr(pattern)} is longer than {_LONGEST_PATTERN} characters; "
                "a footer pattern matches within one line")
    if _RECURSION.search(pattern):
        return (f"{short_repr(pattern)} recurses ((?R), (?1), (?&name)...), which footer "
                "patterns, written as for Python's re, cannot")
    work = _repeat_work(pattern)
    if work > _MOST_REPEAT_WORK:
        return (f"the counted repeats ({{n}}, {{n,m}}) of {short_repr(pattern)} multiply to "
                f"more than {_MOST_REPEAT_WORK:,}; use smaller counts, or + and *")
    from ingest.site_patterns import compile_site_pattern  # regex: only for a config with some

    try:
        empty = compile_site_pattern(pattern).fullmatch("", timeout=_EMPTY_LINE_TIMEOUT)
    except TimeoutError:
        return (f"{short_repr(pattern)} does not finish matching even an empty line "
                f"in {format_duration(_EMPTY_LINE_TIMEOUT)}; write a simpler pattern")
    except Exception as exc:  # noqa: BLE001 - the compiler's errors on user text, any kind
        return f"not a valid regular expression: {_compile_problem(exc)} in {short_repr(pattern)}"
    if empty:
        return f"{short_repr(pattern)} matches an empty line, so it would match every line"
    return ""


def _repeat_work(pattern: str) -> int:
    """The largest counts of the pattern's counted repeats multiplied, stopping past the
    bound: at least what the compiler writes out for the most deeply nested ones."""
    work = 1
    for low, high in _COUNTED_REPEAT.findall(pattern):
        work *= max(int(low or 1), int(high or 1), 1)
        if work > _MOST_REPEAT_WORK:
            break
    return work


def _compile_problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "its groups are nested too deeply"
    if isinstance(exc, MemoryError):
        return "it is too large to compile"
    return " ".join(str(exc).split()) or type(exc).__name__


def http_url(value: Any) -> str:
    url = text(value)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:  # a bad port, or a bracketed host that is not an IPv6 address
        parts = urlsplit("")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        raise BadValue(f"not an http(s) URL: {short_repr(url)}; "
                       "write it like https://example.com/rss.xml")
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
