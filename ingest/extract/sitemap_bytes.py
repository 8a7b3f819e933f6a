"""A sitemap's bytes before parsing (gunzipped within a cap, recognised from a prefix), and
the values read from it (its dates and URLs), each read within a length bound.

Sitemaps are often served as ``.xml.gz`` files: gzip bytes with no Content-Encoding, which
the fetch stage leaves as they are. `gunzip` undoes them in bounded pieces, so a small
gzip bomb never inflates past the cap (`ingest.config.model.SitemapConfig.max_bytes`).

`is_sitemap` tells a sitemap from a feed by its root element, read from the first few
kilobytes only (a gzip file's first few kilobytes once inflated): it runs in the main
process on every changed body of a ``type: feed``, so it must stay cheap and bounded.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ingest.errors import FeedParseError

GZIP_MAGIC = b"\x1f\x8b"
SITEMAP_ROOTS = ("urlset", "sitemapindex")
PREFIX = 4096  # bytes read to find the root element
_PIECE = 1 << 20  # bytes inflated per step
_MAX_NAME = 100  # characters of an element name worth reading
MAX_URL = 2048  # characters: the protocol's limit for a <loc>
_MAX_DATE = 40  # characters of a date worth reading


def gunzip(content: bytes, *, url: str, limit: int) -> bytes:
    """``content`` inflated if it is a gzip file, else as it is; FeedParseError when it
    is, or inflates to, more than ``limit`` bytes, or is broken gzip."""
    if not content.startswith(GZIP_MAGIC):
        if len(content) > limit:
            raise FeedParseError(f"{url}: sitemap too large: more than {limit} bytes")
        return content
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pieces, size, pending = [], 0, content
    try:
        while not inflate.eof:
            piece = inflate.decompress(pending, min(_PIECE, limit + 1 - size))
            pending = inflate.unconsumed_tail
            if not piece and not pending:  # all read, and nothing more to give: cut short
                break
            size += len(piece)
            if size > limit:
                raise FeedParseError(f"{url}: sitemap too large: more than {limit} bytes"
                                     " after gunzip")
            pieces.append(piece)
    except zlib.error as exc:
        raise FeedParseError(f"{url}: not a sitemap: broken gzip ({exc})") from exc
    if not inflate.eof:
        raise FeedParseError(f"{url}: not a sitemap: broken gzip (the file is cut short)")
    return b"".join(pieces)


def is_sitemap(content: bytes) -> bool:
    """Whether ``content`` (gzipped or not) is a sitemap or a sitemap index."""
    return root_name(head(content)) in SITEMAP_ROOTS


def head(content: bytes) -> bytes:
    """The first PREFIX bytes of the document, inflated first if it is gzipped."""
    if not content.startswith(GZIP_MAGIC):
        return content[:PREFIX]
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(content[:PREFIX * 4], PREFIX)
    except zlib.error:
        return b""


def root_name(prefix: bytes) -> str | None:
    """The local name of the first element in ``prefix`` (lower-cased), skipping the XML
    declaration, processing instructions, comments and a doctype; None if none is found."""
    text = prefix.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    pos = 0
    while True:
        start = text.find("<", pos)
        if start < 0 or start + 1 >= len(text):
            return None
        mark = text[start + 1]
        if mark == "?":
            pos = _after(text, "?>", start)
        elif text.startswith("<!--", start):
            pos = _after(text, "-->", start)
        elif mark == "!":  # a doctype: its internal subset, if any, ends with "]>"
            close = text.find(">", start)
            bracket = text.find("[", start, close if close >= 0 else len(text))
            pos = _after(text, "]>" if bracket >= 0 else ">", start)
        else:
            return _name_at(text, start + 1)
        if pos < 0:
            return None


def _after(text: str, end: str, start: int) -> int:
    found = text.find(end, start)
    return found + len(end) if found >= 0 else -1


def _name_at(text: str, start: int) -> str | None:
    name = []
    for char in text[start:start + _MAX_NAME]:
        if char in " \t\r\n/>":
            break
        name.append(char)
    local = "".join(name).rpartition(":")[2].lower()
    return local or None


def web_url(value: str | None) -> str | None:
    """``value`` when it is an absolute http(s) URL with a host, else None."""
    if not value or len(value) > MAX_URL:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def parse_date(value: str | None) -> float | None:
    """Epoch seconds of a W3C datetime (``2025-12-03``, ``2025-12-03T10:00:00+01:00``,
    ``...Z``, with or without seconds and fractions); a date without a zone is UTC."""
    text = (value or "").strip()
    if not text or len(text) > _MAX_DATE:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso_utc(stamp: float | None) -> str | None:
    """ISO 8601 in UTC, as feed entries give their dates (``2025-12-03T10:00:00Z``)."""
    if stamp is None:
        return None
    try:
        return datetime.fromtimestamp(int(stamp), UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):  # past year 9999
        return None
