"""Durations and byte sizes as people write them in config: ``1h30m``, ``5 MiB``; and
durations, sizes and times as messages and records show them.

Pure functions; a bad value raises ValueError whose message says what is
accepted. ``most`` is the largest value a setting accepts (ingest.config.schema
chooses it per setting); without it a value still has to be finite. The config
checks (ingest.config.checks) use them; the file, line and key are added by
ingest.config.source.RawSetting.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable
from typing import TypeVar

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# Possessive repeats: text from the config or the environment is matched in linear time.
_DURATION_PART = re.compile(r"(\d++(?:\.\d++)?+)\s*+([a-z]++)")
_DURATION_WHOLE = re.compile(r"(?:\d++(?:\.\d++)?+\s*+[a-z]++\s*+)++")
_PLAIN_NUMBER = re.compile(r"\d++(?:\.\d++)?+")
_DURATION_HINT = "use seconds or a string like 90s, 15m, 1h30m, 2d"

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 2**10, "mib": 2**20, "gib": 2**30,
}
_SIZE = re.compile(r"(\d++(?:\.\d++)?+)\s*+([a-z]*+)")
_SIZE_HINT = "use a number of bytes or a string like 500kB, 10MB, 5 MiB"

_LONGEST_TEXT = 1000  # characters; longer text is refused before any matching
_Amount = TypeVar("_Amount", int, float)  # a setting's most, as its ``shown`` writes it


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message: long text cut short, and integers too long for
    Python to print (over 4,300 digits) described instead."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"a number of about {digits} digits"
    text = repr(value)
    length = len(value) if isinstance(value, str) else len(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({length:,} characters)"


def _number(value: object, what: str, hint: str) -> float | None:
    """``value`` as a non-negative float (``inf`` if too large for one) if it is a
    number, else None."""
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, got a boolean; {hint}")
    if not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value) or value < 0:
        raise ValueError(f"expected {what}, got {short_repr(value)}; "
                         "it must be a finite number, zero or more")
    # An int beyond the float range compares exactly, and stands for infinity.
    return float(value) if value <= sys.float_info.max else math.inf


def _text(value: object, what: str, hint: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected {what}, got {type(value).__name__}; {hint}")
    if len(value) > _LONGEST_TEXT:
        raise ValueError(f"not {what}: {short_repr(value)} is longer than "
                         f"{_LONGEST_TEXT} characters; {hint}")
    return value.strip().lower()


def parse_duration(value: object, most: float | None = None) -> float:
    """Seconds from a number of seconds or a string such as ``90s``, ``1h30m``, ``2d``.

    Units: ms, s, m, h, d, w (case-insensitive); a bare number means seconds.
    """
    seconds = _number(value, "a duration", _DURATION_HINT)
    if seconds is None:
        seconds = _duration_text(_text(value, "a duration", _DURATION_HINT), value)
    return _within(value, seconds, most, over="longer than", shown=format_duration,
                   endless=f"too long a duration; {_DURATION_HINT}")


def _within(value: object, amount: float, most: _Amount | None, *, over: str,
            shown: Callable[[_Amount], str], endless: str) -> float:
    """``amount`` if it is finite and at most ``most``; else ValueError saying that
    ``value`` is ``over`` the most (as ``shown`` writes it), or ``endless``."""
    if most is not None and amount > most:
        raise ValueError(f"{short_repr(value)} is {over} {shown(most)}, "
                         "the most this setting accepts")
    if amount == math.inf:
        raise ValueError(f"{short_repr(value)} is {endless}")
    return amount


def _duration_text(text: str, value: object) -> float:
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION_WHOLE.fullmatch(text):
        raise ValueError(f"not a duration: {short_repr(value)}; {_DURATION_HINT}")
    total = 0.0
    for amount, unit in _DURATION_PART.findall(text):
        if unit not in _DURATION_UNITS:
            raise ValueError(f"unknown unit {short_repr(unit)} in duration {short_repr(value)}; "
                             f"units are {', '.join(_DURATION_UNITS)}")
        total += float(amount) * _DURATION_UNITS[unit]  # inf when too large, never an error
    return total


def parse_size(value: object, most: int | None = None) -> int:
    """Bytes from an integer or a string such as ``500kB``, ``10MB``, ``5 MiB``.

    kB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024 (case-insensitive).
    """
    number = _number(value, "a size", _SIZE_HINT)
    if number is not None and not (number == math.inf or number.is_integer()):
        raise ValueError(f"expected a whole number of bytes, got {short_repr(value)}")
    if number is None:
        number = _size_text(_text(value, "a size", _SIZE_HINT), value)
    _within(value, number, most, over="more than", shown=format_size,
            endless=f"too large a size; {_SIZE_HINT}")
    return int(value) if isinstance(value, int) else round(number)


def _size_text(text: str, value: object) -> float:
    match = _SIZE.fullmatch(text)
    if not match:
        raise ValueError(f"not a size: {short_repr(value)}; {_SIZE_HINT}")
    amount, unit = match.groups()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown unit {short_repr(unit)} in size {short_repr(value)}; "
                         "units are B, kB, MB, GB, KiB, MiB, GiB")
    return float(amount) * _SIZE_UNITS[unit]  # inf when too large, never an error


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` for messages: ``90s`` -> ``1m30s``."""
    if not math.isfinite(seconds) or seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    parts, rest = [], int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


def utc_iso(stamp: float) -> str:
    """A Unix time as people and records show it: ``2026-12-03T14:21:05Z`` (UTC, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def format_size(nbytes: int) -> str:
    """A short form of ``nbytes`` for messages, in the largest unit that divides it:
    ``1073741824`` -> ``1GiB``, ``100000000000`` -> ``100GB``."""
    for unit in ("GiB", "GB", "MiB", "MB", "KiB", "kB"):
        size = _SIZE_UNITS[unit.lower()]
        if nbytes >= size and nbytes % size == 0:
            return f"{nbytes // size}{unit}"
    return f"{nbytes} bytes"
