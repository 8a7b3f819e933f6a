"""A text's fingerprint for near-duplicate search: its MinHash signature and LSH band keys.

``similarity`` of two signatures estimates the Jaccard resemblance of the texts' shingle
sets (ingest.dedup.shingles). The band keys find the candidates worth comparing: two texts
of resemblance ``s`` share at least one key with probability ``1 - (1 - s**ROWS)**BANDS``.
With two rows a band that is 0.95 at a resemblance of 0.3 and above 0.99 from 0.4 on, so
the banding only gathers candidates and the threshold is applied to the estimated
similarity. More bands would gather more at lower resemblance, but each band is one more
row per record in the store's index, written on every insert.

Everything here is a pure function of the text and fixed seeds: the same text gives the
same fingerprint in any process, on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.dedup.minhash import band_keys
from ingest.dedup.minhash import signature as minhash_signature
from ingest.dedup.shingles import SHINGLE, shingle_hashes, tokens

__all__ = ["BANDS", "NUM_PERM", "ROWS", "Fingerprint", "fingerprint", "similarity"]

NUM_PERM = 64  # MinHash values per signature, 4 bytes each: kept per record for the window
BANDS = 32  # LSH bands, each a row of the store's index
ROWS = NUM_PERM // BANDS
_VALUE = np.dtype("<u4")


@dataclass(frozen=True)
class Fingerprint:
    signature: bytes  # NUM_PERM unsigned 32-bit values, little-endian
    bands: tuple[int, ...]  # BANDS keys, signed 64-bit


def fingerprint(text: str, min_words: int) -> Fingerprint | None:
    """``text``'s fingerprint, or None when it has fewer than ``min_words`` words or none.

    Words are runs of letters and digits; in scripts written without spaces (Chinese,
    Japanese, Thai, ...) every two characters (shingles.CHARS_PER_WORD) count as a word."""
    found = tokens(text)
    if found.hashes.size == 0 or found.words < min_words:
        return None
    values = minhash_signature(shingle_hashes(found.hashes, SHINGLE), NUM_PERM)
    return Fingerprint(values.astype(_VALUE).tobytes(), tuple(band_keys(values, BANDS).tolist()))


def similarity(a: bytes, b: bytes) -> float:
    """The estimated Jaccard resemblance (0-1) of the texts behind two signatures; 0.0 for
    signatures that cannot be compared (different lengths, or empty)."""
    if len(a) != len(b) or not a or len(a) % _VALUE.itemsize:
        return 0.0
    left, right = np.frombuffer(a, dtype=_VALUE), np.frombuffer(b, dtype=_VALUE)
    return int(np.count_nonzero(left == right)) / left.size
