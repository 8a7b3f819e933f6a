"""Bounds on trafilatura's work: the page and tree it is handed, shaped to keep it linear.

trafilatura and the libraries it calls run regular expressions and loops whose work
grows faster than the page on some inputs (a DOCTYPE repair pattern, the tag stripper
run on metadata, the author clean-up, justext's paragraph comparisons). They can only be
bounded from outside, by shaping what they are handed: see each function below. What
real pages hold is left as it is (tests/extract/test_extract.py holds them to it over the corpus).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from html import unescape

_LEADING_SPACE = re.compile(r"\s*+")
_DOCTYPE_START = re.compile(r"< ?+! ?+doctype", re.IGNORECASE)
_DOCTYPE_WITHIN = 1024  # characters from "<!DOCTYPE" to its ">": far more than real ones need


def without_broken_doctype(html: str) -> str:
    """``html`` without a leading DOCTYPE with no ">" within 1 KB (dropped up to the next
    "<"): trafilatura's DOCTYPE repair pattern backtracks to that ">" in quadratic time."""
    leading = _LEADING_SPACE.match(html)  # always a match, if an empty one
    pos = leading.end() if leading else 0
    dropped = False
    while (start := _DOCTYPE_START.match(html, pos)) and html.find(
            ">", start.end(), start.end() + _DOCTYPE_WITHIN) < 0:
        after = html.find("<", start.end())  # and the next DOCTYPE, if broken too
        pos, dropped = len(html) if after < 0 else after, True
    return html[pos:] if dropped else html


# justext, trafilatura's fallback extractor, compares each short paragraph with its
# neighbours in quadratic time; its paragraphs start at these tags. Real pages stay
# below _MAX_BLOCKS (tests/extract/test_extract.py holds the corpus to it); a page with
# more is extracted without the fallbacks (readability, justext).
_BLOCK_TAGS = ("blockquote", "caption", "center", "col", "colgroup", "dd", "div", "dl",
               "dt", "fieldset", "form", "legend", "optgroup", "option", "p", "pre",
               "table", "td", "textarea", "tfoot", "th", "thead", "tr", "ul", "li", "h1",
               "h2", "h3", "h4", "h5", "h6", "br")
_MAX_BLOCKS = 2000


def many_blocks(tree) -> bool:
    beyond = itertools.islice(tree.iter(*_BLOCK_TAGS), _MAX_BLOCKS, None)
    return next(beyond, None) is not None


# Metadata values reach patterns that backtrack: trafilatura's tag stripper (on every
# <meta> content and JSON-LD block) in time quadratic in the "<"s that no ">" closes,
# its author clean-up in time quadratic in an author's length, and the merging of
# authors in time cubic in their number.
_AUTHOR_WORDS = ("author", "creator", "byl")  # in every name trafilatura reads authors from
_AUTHOR_CHARS = 300  # characters of one author value; real ones are under 100
_MAX_AUTHORS = 32  # author values a page may give; real pages give a handful
_META_CHARS = 8192  # characters of other <meta> values (descriptions are under 2,000)
_BROKEN_JSON_CHARS = 4096  # characters of a JSON-LD block that does not parse
_JSON_SCRIPTS = ('//script[@type="application/ld+json" '
                 'or @type="application/settings+json"]')
_AUTHOR_KEYS = frozenset(("author", "creator", "contributor"))
_NAME_KEYS = frozenset(("name", "givenName", "additionalName", "familyName"))
_NAMES_PER_AUTHOR = 8
# A "<" that no ">" closes before the next "<": without them, the tag stripper's scans
# from each "<" never overlap.
_STRAY_OPENER = re.compile(r"<(?![^<>]*+>)")
_COMMENT_START = re.compile(r"<!--")
_MAX_STRAY_OPENERS = 32  # the tag stripper's work is linear times this


def tame_tree(tree) -> None:
    """Bound the metadata passes' work on ``tree`` (in place): <meta> values and
    JSON-LD blocks lose the "<"s `_tamed_markup` removes, and author values are capped
    in length and number. What real pages hold is left as it is."""
    authors = [_MAX_AUTHORS]  # the page's budget of author values, shared by both
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content:
            _set_if_changed(meta, "content", _tamed_meta(meta, content, authors))
    for script in xpath(_JSON_SCRIPTS)(tree):
        if script.text:
            _set_if_changed(script, None, _tamed_json(script.text, authors))


def _tamed_meta(meta, content: str, authors: list[int]) -> str:
    names = " ".join(meta.get(a, "") for a in ("name", "property", "itemprop")).lower()
    if not any(word in names for word in _AUTHOR_WORDS):
        return _tamed_markup(content[:_META_CHARS])
    authors[0] -= 1
    return _tamed_markup(content[:_AUTHOR_CHARS]) if authors[0] >= 0 else ""


def _tamed_json(text: str, authors: list[int]) -> str:
    try:
        data = json.loads(text, strict=False)
        capped = _capped_authors(data, authors)
        if capped != data:
            text = json.dumps(capped, ensure_ascii=False)
    except (ValueError, RecursionError):  # trafilatura reads it with patterns: keep it short
        text = text[:_BROKEN_JSON_CHARS]
    text = _tamed_markup(text)
    # trafilatura decodes \u escapes and HTML entities in the block, and again in the
    # values it takes, before it strips tags: a "<" written as \u003c or &lt; counts too.
    # A block that still has many untamed "<"s then is an attack, not metadata.
    decoded = _decoded_twice(text)
    return "" if len(decoded) - len(_tamed_markup(decoded)) > _MAX_STRAY_OPENERS else text


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decoded_twice(text: str) -> str:
    for _ in range(2):
        text = unescape(_JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    return text


def _capped_authors(value, authors: list[int]):
    """A copy of JSON ``value`` whose authors fit the page's budget and whose author
    names fit `_AUTHOR_CHARS` (the rest of an author, a biography say, is left alone)."""
    if isinstance(value, dict):
        return {key: _author_value(item, authors) if key in _AUTHOR_KEYS
                else _capped_authors(item, authors) for key, item in value.items()}
    if isinstance(value, list):
        return [_capped_authors(item, authors) for item in value]
    return value


def _author_value(value, authors: list[int]):
    items = value if isinstance(value, list) else [value]
    kept = [_capped_name(item, authors) for item in items[:max(authors[0], 0)]]
    authors[0] -= len(items)
    return kept if isinstance(value, list) else kept[0] if kept else []


def _capped_name(value, authors: list[int]):
    """One author: a name, or an object with name parts (which may be lists of names)."""
    if isinstance(value, str):
        return value[:_AUTHOR_CHARS]
    if isinstance(value, list):  # trafilatura joins a list of names into one
        return [_capped_name(item, authors) for item in value[:_NAMES_PER_AUTHOR]]
    if isinstance(value, dict):
        return {key: _capped_name(item, authors) if key in _NAME_KEYS
                else _capped_authors(item, authors) for key, item in value.items()}
    return value


def _tamed_markup(text: str) -> str:
    """``text`` without the "<"s that make trafilatura's tag stripper (``<!--.*?-->|<[^>]*>``)
    rescan it: those no ">" closes, and those of comments not closed on their line."""
    text = _STRAY_OPENER.sub("", text)
    if "<!--" not in text:
        return text
    kept, done, close, line_end = [], 0, -1, -1
    for start in _COMMENT_START.finditer(text):  # the two searches only move forwards
        at = start.start()
        if close < at + 4:
            close = _find(text, "-->", at + 4)
        if line_end < at:
            line_end = _find(text, "\n", at)
        if close >= line_end:  # not closed on its line (or at all)
            kept.append(text[done:at])
            done = at + 1
    return "".join(kept) + text[done:]


def _find(text: str, needle: str, start: int) -> int:
    found = text.find(needle, start)
    return len(text) if found < 0 else found


def _set_if_changed(element, attribute: str | None, value: str) -> None:
    current = element.text if attribute is None else element.get(attribute)
    if value == current:
        return
    try:
        if attribute is None:
            element.text = value
        else:
            element.set(attribute, value)
    except ValueError:  # lxml refuses a character JSON let through (a lone surrogate)
        pass


@functools.cache
def xpath(expression: str):
    """``expression`` compiled once per worker (lxml comes with trafilatura, in workers)."""
    from lxml.etree import XPath

    return XPath(expression)
