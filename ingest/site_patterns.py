"""Compiling a user's footer pattern (config ``footers.sites``): shared by the config check
and the footer stage, so that a pattern the check accepts is the pattern the stage runs.

A footer pattern is the user's program on untrusted text. It is written in the syntax of
Python's ``re``, but compiled with the ``regex`` module, because only that one can stop a
search that takes too long (``pattern.search(line, timeout=...)``).
"""

from __future__ import annotations

import functools

import regex


@functools.cache  # the config check and the footer stage get one compiled object
def compile_site_pattern(pattern: str) -> regex.Pattern:
    """``pattern`` as the footer stage runs it: case-insensitive, ``re``'s syntax (V0).

    Raises what the library raises on a bad pattern (regex.error, ValueError,
    OverflowError, RecursionError); callers name the config key."""
    return regex.compile(pattern, regex.IGNORECASE | regex.V0)
