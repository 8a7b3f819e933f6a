"""The 64-bit mixing that every hash of the stage is built from, in numpy's wrapping uint64
arithmetic, and the constants it needs, derived from fixed seeds by splitmix64 in Python
integers: a signature depends on nothing but the text (no Python ``hash()``, no numpy
random stream whose algorithm could change between versions), so signatures stored by
one process compare with those made by any other."""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

U64 = np.uint64
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def splitmix64(state: int) -> int:
    """The splitmix64 output for ``state``: a well-mixed 64-bit integer."""
    z = (state + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser over an array: every output bit depends on every input bit."""
    x = x ^ (x >> U64(30))
    x *= U64(0xBF58476D1CE4E5B9)
    x ^= x >> U64(27)
    x *= U64(0x94D049BB133111EB)
    x ^= x >> U64(31)
    return x


def random_words(seed: int, count: int) -> NDArray[np.uint64]:
    """``count`` 64-bit constants drawn from ``seed``."""
    values = np.array([splitmix64(seed * _GOLDEN + i) for i in range(count)], dtype=U64)
    values.flags.writeable = False
    return values


@functools.cache
def odd_constants(count: int) -> NDArray[np.uint64]:
    """Odd multipliers that weigh a run of hashes by position."""
    values = random_words(1, count) | U64(1)
    values.flags.writeable = False
    return values
