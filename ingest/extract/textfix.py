"""Mojibake repair with ftfy, and nothing else: a clean text comes out unchanged.

What is repaired: UTF-8 read as a single-byte encoding (Latin-1, cp1252, their sloppy
variants), C1 control characters standing for cp1252 ones, and such mojibake written as
HTML entities (a feed that escaped ``enth&Atilde;&curren;lt`` once more than it meant).
What is never touched: quotes, ligatures, character widths, Unicode normalisation, line
breaks, control characters, literal entities in prose (``&amp;`` in an article about HTML),
and replacement characters (U+FFFD) that were in the source.

Every text comes from the network, so the work is linear in it and capped: ASCII lines
without an entity are skipped before ftfy sees them, no segment handed to ftfy is longer
than _SEGMENT characters, and one feed or page hands it at most _BUDGET characters in all
(ftfy spends microseconds per character on a hostile run of Latin-1 letters; no real feed
comes near the budget). It runs in the worker jobs (feed parsing, page extraction).
"""

from __future__ import annotations

import html
import re

import ftfy

_SEGMENT = 20_000  # characters: a longer line is repaired in pieces, cut at a space
_BUDGET = 1_000_000  # characters handed to ftfy per feed or page; past it texts stay as they are
_CUT_WINDOW = 200  # characters before the cap searched for that space

# Only ftfy's encoding fixes. ftfy.fix_encoding runs those alone and reads only their options
# (the first six after unescape_html); every other fix would alter a correct text and is
# off as well, so the config means the same wherever it is used. ftfy.fix_text is not used:
# it does not hand its config to its encoding step (that runs with the defaults when
# explanations are off).
_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,  # entities: see _unescape_mojibake
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    # On: ftfy's sloppy codecs carry a "�" of the source through as byte 1A, and only this
    # step turns it back into "�" (off, it would come out as U+001A).
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    max_decode_length=_SEGMENT,
    explain=False,
)

# An entity's name or number has a bounded length: no search runs past 40 characters.
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# What UTF-8 read as Latin-1 or cp1252 is made of, beyond ASCII: an entity for one of these
# may be escaped mojibake, and is decoded to find out; &amp;, &lt; and the like never are.
_MOJIBAKE_CHARS = frozenset(
    [chr(c) for c in range(0x80, 0x100)] + list("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"))


def repair(text: str) -> tuple[str, bool]:
    """The text with its mojibake repaired, and whether anything was."""
    if _clean_ascii(text):
        return text, False
    pieces = [_repair_segment(segment) for segment in _segments(text)]
    fixed = "".join(pieces)
    return fixed, fixed != text


class Repairs:
    """Repairs the texts of one feed or one page and counts those that changed (a poll's
    metric), within a budget of characters handed to ftfy."""

    def __init__(self, budget: int = _BUDGET) -> None:
        self.count = 0
        self.budget = budget

    def __call__(self, text: str) -> str:
        if _clean_ascii(text) or len(text) > self.budget:
            return text
        self.budget -= len(text)
        fixed, changed = repair(text)
        self.count += changed
        return fixed

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self(text)


def _segments(text: str):
    """Lines (each with its "\\n"; not str.splitlines, whose breaks include U+0085, a C1
    control that mojibake is made of), a longer one cut at a space into pieces of at most
    _SEGMENT characters: mojibake never spans a line, and ftfy decides per piece."""
    start = 0
    while start < len(text):
        end = text.find("\n", start, start + _SEGMENT) + 1
        if end == 0:
            end = min(len(text), start + _SEGMENT)
            if end < len(text):
                space = text.rfind(" ", end - _CUT_WINDOW, end)
                end = space + 1 if space > start else end
        yield text[start:end]
        start = end


def _clean_ascii(text: str) -> bool:
    """Nothing to repair: mojibake is made of non-ASCII characters or of entities."""
    return text.isascii() and "&" not in text


def _repair_segment(segment: str) -> str:
    if _clean_ascii(segment):
        return segment
    fixed = ftfy.fix_encoding(segment, _CONFIG)
    if "&" in fixed:
        fixed = _unescape_mojibake(fixed)
    return fixed


def _unescape_mojibake(segment: str) -> str:
    """The segment with its entities for mojibake characters decoded and repaired, when
    that repairs something; else the segment as it was (its entities were meant)."""
    unescaped = _ENTITY.sub(_mojibake_entity, segment)
    if unescaped == segment:
        return segment
    fixed = ftfy.fix_encoding(unescaped, _CONFIG)
    return fixed if fixed != unescaped else segment


def _mojibake_entity(match: re.Match) -> str:
    decoded = html.unescape(match.group())
    return decoded if decoded in _MOJIBAKE_CHARS else match.group()
