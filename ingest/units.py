"""Durations and byte sizes as people write them in config: ``1h30m``, ``5 MiB``.

Pure functions; a bad value raises ValueError whose message says what is
accepted. The config checks (config_checks.py) use them; the file, line
and key are added by config_source.RawSetting.
"""

from __future__ import annotations

import math
import re

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?\s*[a-z]+\s*)+")
_DURATION_HINT = "use seconds or a string like 90s, 15m, 1h30m, 2d"

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 2**10, "mib": 2**20, "gib": 2**30,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_SIZE_HINT = "use a number of bytes or a string like 500kB, 10MB, 5 MiB"


def _number(value: object, what: str, hint: str) -> float | None:
    """``value`` as a finite, non-negative float if it is a number, else None."""
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, got a boolean; {hint}")
    if not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected {what}, got {value!r}; it must be zero or more")
    return float(value)


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string such as ``90s``, ``1h30m``, ``2d``.

    Units: ms, s, m, h, d, w (case-insensitive); a bare number means seconds.
    """
    seconds = _number(value, "a duration", _DURATION_HINT)
    if seconds is not None:
        return seconds
    if not isinstance(value, str):
        raise ValueError(f"expected a duration, got {type(value).__name__}; {_DURATION_HINT}")
    text = value.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not _DURATION_WHOLE.fullmatch(text):
        raise ValueError(f"not a duration: {value!r}; {_DURATION_HINT}")
    total = 0.0
    for amount, unit in _DURATION_PART.findall(text):
        if unit not in _DURATION_UNITS:
            raise ValueError(f"unknown unit {unit!r} in duration {value!r}; "
                             f"units are {', '.join(_DURATION_UNITS)}")
        total += float(amount) * _DURATION_UNITS[unit]
    return total


def parse_size(value: object) -> int:
    """Bytes from an integer or a string such as ``500kB``, ``10MB``, ``5 MiB``.

    kB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024 (case-insensitive).
    """
    number = _number(value, "a size", _SIZE_HINT)
    if number is not None:
        if not number.is_integer():
            raise ValueError(f"expected a whole number of bytes, got {value!r}")
        return int(number)
    if not isinstance(value, str):
        raise ValueError(f"expected a size, got {type(value).__name__}; {_SIZE_HINT}")
    match = _SIZE.fullmatch(value.strip().lower())
    if not match:
        raise ValueError(f"not a size: {value!r}; {_SIZE_HINT}")
    amount, unit = match.groups()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown unit {unit!r} in size {value!r}; "
                         "units are B, kB, MB, GB, KiB, MiB, GiB")
    return round(float(amount) * _SIZE_UNITS[unit])


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` for messages: ``90s`` -> ``1m30s``."""
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    parts, rest = [], int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)
