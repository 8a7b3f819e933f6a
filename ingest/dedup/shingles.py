"""Text to shingle hashes: the sets whose resemblance MinHash estimates.

Each character is folded on its own: compatibility forms to their plain form (full-width
letters and digits, no-break spaces), upper case to lower case, wherever the result is one
character. Tokens are the runs of letters, digits and combining marks; everything else
separates them, so punctuation is stripped. Scripts written without spaces (Chinese,
Japanese kana, Thai, Lao, Khmer, Myanmar) have no words to find: each of their letters is a
token of its own and their marks are dropped, so their shingles are character n-grams. A
shingle is SHINGLE consecutive tokens, whatever the script.

The work is a handful of numpy operations over the code points, linear in the text, and
only the first MAX_CHARS characters are read: a copy is recognised long before that, and a
huge text costs no more than a long article. Characters beyond the Basic Multilingual Plane
separate tokens (emoji, symbols), except the CJK ideographs of planes 2 and 3, which are
spaceless characters like the others.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.dedup.hashing import U64, mix, odd_constants

MAX_CHARS = 100_000
SHINGLE = 3  # tokens per shingle: words, or characters of the scripts without spaces
CHARS_PER_WORD = 2  # for min_words, that many characters of those scripts make a word

_SEPARATOR, _WORD, _SPACELESS = 0, 1, 2
_BMP = 0x10000
_SPACELESS_BLOCKS = [(0x0E00, 0x0EFF),  # Thai, Lao
                     (0x1000, 0x109F),  # Myanmar
                     (0x1780, 0x17FF),  # Khmer
                     (0x3040, 0x30FF), (0x31F0, 0x31FF),  # kana
                     (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)]  # ideographs
_ASTRAL_IDEOGRAPHS = (0x20000, 0x3FFFF)
_END = 0x40000  # code points from here on share this entry of the tables: a separator
_POLY_BASE = 0x100000001B3  # odd: its powers are invertible modulo 2**64


@dataclass(frozen=True)
class Tokens:
    hashes: NDArray[np.uint64]  # one per token, in text order
    words: int  # words, characters of the scripts without spaces CHARS_PER_WORD to a word
    characters: int  # tokens that are characters of the scripts without spaces


def tokens(text: str) -> Tokens:
    """The tokens of ``text``'s first MAX_CHARS characters, as 64-bit hashes."""
    text = text[:MAX_CHARS]
    if not unicodedata.is_normalized("NFC", text):  # one form for accented letters
        text = unicodedata.normalize("NFC", text)[:MAX_CHARS]
    raw = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    fold, classes = _tables()
    points = fold[np.minimum(raw, _END)]
    kind = classes[points]
    word, single = kind == _WORD, kind == _SPACELESS
    changed = np.ones(points.size + 1, dtype=bool)
    np.not_equal(kind[1:], kind[:-1], out=changed[1:-1])
    starts = np.flatnonzero((changed[:-1] & word) | single)
    ends = np.flatnonzero((changed[1:] & word) | single)  # inclusive
    characters = int(np.count_nonzero(single))
    words = starts.size - characters + characters // CHARS_PER_WORD
    return Tokens(_substring_hashes(points, starts, ends), words, characters)


def shingle_hashes(hashes: NDArray[np.uint64], k: int) -> NDArray[np.uint64]:
    """One hash per run of ``k`` consecutive tokens (order matters); a text of fewer tokens
    is one shingle of them all."""
    k = max(1, min(k, hashes.size))
    count = hashes.size - k + 1
    weights = odd_constants(k)
    combined = hashes[:count] * weights[0]
    for i in range(1, k):
        combined += hashes[i:i + count] * weights[i]
    return mix(combined)


def _substring_hashes(points: NDArray[np.uint32], starts: NDArray[np.intp],
                      ends: NDArray[np.intp]) -> NDArray[np.uint64]:
    """A polynomial hash of each token's code points, the same wherever it stands: the
    prefix sums of ``point * base**i`` taken over the token, times ``base**-start``."""
    if starts.size == 0:
        return np.empty(0, U64)
    powers, inverses = _powers()
    prefix = np.cumsum(points * powers[:points.size], dtype=U64)
    before = np.where(starts > 0, prefix[starts - 1], U64(0))
    return mix((prefix[ends] - before) * inverses[starts])


@functools.cache
def _powers() -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """``base**i`` and ``base**-i`` modulo 2**64 (numpy's uint64 wraps), i < MAX_CHARS."""
    found = []
    for base in (_POLY_BASE, pow(_POLY_BASE, -1, 1 << 64)):
        steps = np.full(MAX_CHARS, base, dtype=U64)
        steps[0] = 1
        table = np.cumprod(steps, dtype=U64)
        table.flags.writeable = False
        found.append(table)
    return found[0], found[1]


@functools.cache
def _tables() -> tuple[NDArray[np.uint32], NDArray[np.uint8]]:
    """Each code point's folded form, and each folded code point's class: separator, word
    character or spaceless character. Letters, digits and marks make words; in the
    spaceless scripts letters and digits stand alone and marks (Thai vowel and tone signs)
    are dropped."""
    fold = np.arange(_END + 1, dtype=np.uint32)
    fold[:_BMP] = [ord(_folded(chr(point))) for point in range(_BMP)]
    major = [unicodedata.category(chr(point))[0] for point in range(_BMP)]
    classes = np.zeros(_END + 1, dtype=np.uint8)
    classes[:_BMP] = [_WORD if c in "LMN" else _SEPARATOR for c in major]
    for first, last in _SPACELESS_BLOCKS:
        classes[first:last + 1] = [_SPACELESS if c in "LN" else _SEPARATOR
                                   for c in major[first:last + 1]]
    classes[_ASTRAL_IDEOGRAPHS[0]:_ASTRAL_IDEOGRAPHS[1] + 1] = _SPACELESS
    classes[_END] = _SEPARATOR
    fold.flags.writeable = classes.flags.writeable = False
    return fold, classes


def _folded(char: str) -> str:
    for form in (unicodedata.normalize("NFKC", char).lower(), char.lower()):
        if len(form) == 1:
            return form
    return char
