"""HTML fragments (feed summaries, titles) to plain text, one line per block."""

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
_DOCTYPE = re.compile(r"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", re.IGNORECASE | re.DOTALL)
_LOOKS_HTML = re.compile(r"<[a-zA-Z/!][^>]*>|&[#a-zA-Z0-9]+;")


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: block elements become line breaks."""
    if not fragment:
        return ""
    if not _LOOKS_HTML.search(fragment):
        return _tidy(fragment)
    fragment = _DOCTYPE.sub("", fragment)  # lxml leaves an internal subset's "]>" as text
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _tidy(html.unescape(re.sub(r"<[^>]+>", " ", fragment)))
    parts: list[str] = []
    _walk(root, parts)
    return _tidy("".join(parts))


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
