"""HTML fragments (feed summaries, titles) to plain text, one line per block.

Every feed title and summary passes through here, so nothing here may raise or take more
than linear time on any text: a raise would fail the whole feed, and a pattern retried
from every "<" of a long hostile fragment would hold the event loop for seconds.
"""

from __future__ import annotations

import html
import re

import lxml.etree
import lxml.html

_BLOCKS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article "
    "header footer figure figcaption dd dt hr".split())
_DROP = frozenset(("script", "style", "noscript", "template", "iframe"))
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
# A doctype, with its internal subset up to the "]" that closes it (quoted values may hold
# brackets). Its runs stop at the next "<" or "[", so a search that fails from one
# "<!DOCTYPE" of a hostile fragment ends where the next one starts.
_DOCTYPE = re.compile(
    r"""<!DOCTYPE[^\[<>]*+(?:\[(?:[^\[\]"']++|"[^"]*+"|'[^']*+')*+\])?\s*+>""", re.IGNORECASE)
_TAG_START = re.compile(r"<[a-zA-Z/!]")
_ENTITY = re.compile(r"&[#a-zA-Z0-9]++;")
# A "<" inside a tag starts the next one: a search from each "<" of a fragment full of
# them stops at the next "<", never rescanning the rest.
_TAG = re.compile(r"<[^<>]++>")
# lxml's ways of refusing a fragment: ParserError ("Document is empty"), ValueError (control
# characters XML cannot hold), AssertionError ("too many bodies" for "<html>").
_UNPARSABLE = (lxml.etree.LxmlError, ValueError, AssertionError)


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: block elements become line breaks."""
    if not fragment:
        return ""
    if not _looks_html(fragment):
        return _tidy(fragment)
    fragment = _DOCTYPE.sub("", fragment)  # lxml leaves an internal subset's "]>" as text
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except _UNPARSABLE:
        return _tidy(html.unescape(_TAG.sub(" ", fragment)))
    parts: list[str] = []
    _walk(root, parts)
    return _tidy("".join(parts))


def _looks_html(text: str) -> bool:
    """A tag ("<p ...>") or an entity ("&amp;"). A tag is a tag's start before the last
    ">": the same answer as a regex for a whole tag, without rescanning the text after
    each "<" when no ">" follows."""
    end = text.rfind(">")
    return ((end > 0 and _TAG_START.search(text, 0, end) is not None)
            or _ENTITY.search(text) is not None)


def _walk(el, parts: list[str]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _DROP:
        parts.append(el.tail or "")
        return
    block = tag in _BLOCKS
    if block:
        parts.append("\n")
    parts.append(el.text or "")
    for child in el:
        _walk(child, parts)
    if block:
        parts.append("\n")
    parts.append(el.tail or "")


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
