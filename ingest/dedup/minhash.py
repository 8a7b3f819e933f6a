"""MinHash signatures and their LSH band keys.

Hash function ``i`` maps a shingle hash ``x`` to the top 32 bits of ``a_i * x mod 2**64``,
``a_i`` odd (multiply-shift: the shingle hashes are already well mixed, so this family is
enough), and the signature keeps each function's minimum (taking the top bits commutes with
taking the minimum). Two texts agree on a function's minimum with the probability of their
Jaccard resemblance, so the share of equal values estimates it.

A band is ``rows`` consecutive values; two signatures that agree on all values of one band
share its key, which is what the index is queried by. The key mixes in the band's number,
so equal values in different bands never make the same key.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from ingest.dedup.hashing import U64, mix, odd_constants, random_words

_CHUNK = 4096  # shingles per step: the products held at once stay small for a huge text


@functools.cache
def _multipliers(num_perm: int) -> NDArray[np.uint64]:
    found = random_words(2, num_perm) | U64(1)
    found.flags.writeable = False
    return found


def signature(shingles: NDArray[np.uint64], num_perm: int) -> NDArray[np.uint32]:
    """The MinHash signature of a non-empty set of shingle hashes."""
    multipliers = _multipliers(num_perm)
    low = np.full(num_perm, np.iinfo(U64).max, dtype=U64)
    for start in range(0, shingles.size, _CHUNK):
        hashed = np.multiply.outer(multipliers, shingles[start:start + _CHUNK])
        np.minimum(low, hashed.min(axis=1), out=low)
    return (low >> U64(32)).astype(np.uint32)


def band_keys(values: NDArray[np.uint32], bands: int) -> NDArray[np.int64]:
    """One signed 64-bit key per band of ``values`` (its last axis: one signature per row
    of a 2-D array), len(values) // bands values to a band."""
    rows = values.shape[-1] // bands
    weights = odd_constants(rows + 1)  # one per row, and one for the band's number
    grid = values[..., :bands * rows].reshape(*values.shape[:-1], bands, rows).astype(U64)
    combined = (grid * weights[1:]).sum(axis=-1, dtype=U64)
    combined += np.arange(bands, dtype=U64) * weights[0]
    return mix(combined).view(np.int64)
