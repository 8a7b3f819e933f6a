"""Feed bytes to Entries; the only module that imports feedparser.

feedparser is given the raw bytes plus the HTTP headers (content type for the
charset, Content-Location for the base URL), so encodings and relative links
resolve as the server meant. Its HTML sanitiser is off: we never render the
feed's HTML, we only turn it into plain text.

Before feedparser sees the bytes, `ingest.extract.feed_bytes.prepare` shapes them so that its
work on them is linear in their size (see there).

Every text of an entry (and the feed's title and rights) has its mojibake repaired
(`ingest.extract.textfix`) before the footer stage or anyone else reads it.

One entry that cannot be read costs that entry, counted in ParsedFeed.warning.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime

import feedparser

from ingest.errors import FeedParseError
from ingest.extract.authors import clean_authors
from ingest.extract.feed_bytes import COMMENT, prepare
from ingest.extract.htmltext import html_to_text
from ingest.extract.textfix import Repairs
from ingest.models import Entry, ParsedFeed

log = logging.getLogger("ingest.feeds")

# Untrusted bytes: possessive repeats (see ingest.extract.feed_bytes).
_HTML_START = re.compile(rb"\A(?:" + COMMENT + rb"\s*+)*+<(?:!doctype\s++html|html[\s>])",
                         re.IGNORECASE)  # anchored: a run of comments is read once
_PERIOD_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 604800,
                   "monthly": 2592000, "yearly": 31536000}
_MAX_ERROR = 200  # characters of an exception's text quoted in a warning


def parse_feed(content: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed document; raise FeedParseError when it holds no usable feed."""
    content, content_type = prepare(content, content_type)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(content, response_headers=headers,
                                  sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser raises little, but never let it escape
        raise FeedParseError(f"{url}: feed parser failed: {exc}") from exc
    problem = _bozo_message(parsed)
    fix = Repairs()  # one budget for the whole feed
    entries, dropped = _entries(parsed.entries, fix)
    if not entries and _HTML_START.match(content[:1024].lstrip()):
        raise FeedParseError(f"{url}: not a feed: the server sent an HTML page"
                             f" ({content_type or 'no content type'})")
    if not entries and problem and not _is_empty_feed(parsed):
        raise FeedParseError(f"{url}: not a usable feed ({problem})")
    if not entries and not parsed.get("version"):
        raise FeedParseError(f"{url}: not a feed (no RSS, Atom or RDF root element)")
    meta = parsed.feed
    unreadable: list[str] = []  # notes on feed fields that could not be read
    entry_repairs = fix.count
    title = fix(_feed_text(meta, "title", unreadable))
    rights = fix(_feed_text(meta, "rights", unreadable))
    return ParsedFeed(
        entries=entries,
        title=title,
        language=_stripped(meta.get("language")),
        rights=rights or None,
        ttl=_minutes(meta.get("ttl")),
        update_period=_update_period(meta),
        warning="; ".join(filter(None, (problem if entries else None, dropped,
                                        *unreadable))) or None,
        repaired=fix.count - entry_repairs,
        hub=_feed_link(meta, "hub"),
        topic=_feed_link(meta, "self"),
    )


def _entries(raws, fix: Repairs | None = None) -> tuple[tuple[Entry, ...], str | None]:
    """The feed's entries, their texts repaired by ``fix``, and a note on those that could
    not be read (None if none)."""
    fix = fix or Repairs()
    entries, failures = [], []
    for raw in raws:
        try:
            entry = _entry(raw)
            entry = entry and _repaired(entry, fix)
        except Exception as exc:  # noqa: BLE001 - one odd item costs that item, not the feed
            failures.append(exc)
            continue
        if entry is not None:
            entries.append(entry)
    if not failures:
        return tuple(entries), None
    return tuple(entries), (f"dropped {len(failures)} of {len(raws)} items that could not"
                            f" be read (first: {_describe(failures[0])})")


def _feed_text(meta, key: str, unreadable: list[str]) -> str:
    """A feed-level text field; one that cannot be read is empty, and noted."""
    try:
        return html_to_text(meta.get(key))
    except Exception as exc:  # noqa: BLE001 - a cosmetic field is never worth the feed
        unreadable.append(f"the feed's {key} could not be read ({_describe(exc)})")
        return ""


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:_MAX_ERROR]}"


def _stripped(value) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _bozo_message(parsed) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    # Routine notes, not problems: feedparser fixed the encoding, or the
    # server's content type is not an XML one (common, and parsed all the same).
    if isinstance(exc, (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)):
        return None
    return f"{type(exc).__name__}: {exc}" if exc else "malformed feed"


def _is_empty_feed(parsed) -> bool:
    """A well-formed feed with no items is fine; broken XML with none is not."""
    return bool(parsed.get("version")) and not parsed.get("bozo")


def _entry(raw) -> Entry | None:
    link = _link(raw)
    guid = (raw.get("id") or "").strip() or None
    if not link and not guid:
        return None
    return Entry(
        link=link,
        guid=guid,
        title=html_to_text(raw.get("title")),
        published=_iso(raw.get("published_parsed") or raw.get("updated_parsed")),
        authors=_authors(raw),
        summary=html_to_text(raw.get("summary")),
        content=_content(raw),
        tags=tuple(t["term"].strip() for t in raw.get("tags", ())
                   if t.get("term") and t["term"].strip()),
        image=_image(raw),
    )


def _repaired(entry: Entry, fix: Repairs) -> Entry:
    """The entry with the mojibake of its texts repaired, and counted."""
    before = fix.count
    title, summary, content = fix(entry.title), fix(entry.summary), fix(entry.content)
    authors = tuple(dict.fromkeys(fix(name) for name in entry.authors))
    if fix.count == before:
        return entry
    return replace(entry, title=title, summary=summary, content=content, authors=authors,
                   repaired=fix.count - before)


def _link(raw) -> str | None:
    for link in raw.get("links", ()):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"].strip()
    link = raw.get("link")
    return link.strip() if link else None


def _feed_link(meta, rel: str) -> str | None:
    """The feed's first link of relation ``rel`` (WebSub: "hub", "self")."""
    for link in meta.get("links", ()):
        href = link.get("href")
        if link.get("rel") == rel and isinstance(href, str) and href.strip():
            return href.strip()
    return None


def _content(raw) -> str:
    """The longest full-content block (content:encoded, atom:content) as text."""
    texts = [html_to_text(c.get("value")) for c in raw.get("content", ())]
    return max(texts, key=len, default="")


def _authors(raw) -> tuple[str, ...]:
    names = [a.get("name", "").strip() for a in raw.get("authors", ()) if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and raw.get("author"):
        names = [raw["author"].strip()]
    return clean_authors(names, url=raw.get("link"))


def _image(raw) -> str | None:
    for key in ("media_content", "media_thumbnail"):
        for media in raw.get(key, ()):
            if media.get("url") and media.get("medium", "image") == "image":
                return media["url"]
    for enc in raw.get("enclosures", ()):
        if enc.get("type", "").startswith("image/") and enc.get("href"):
            return enc["href"]
    return None


def _iso(struct) -> str | None:
    """feedparser's UTC struct_time to ISO 8601."""
    if not struct:
        return None
    try:
        stamp = calendar.timegm(struct)
        return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, TypeError):
        return None


def _minutes(value) -> float | None:
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _update_period(meta) -> float | None:
    period = _PERIOD_SECONDS.get((meta.get("sy_updateperiod") or "").strip().lower())
    if not period:
        return None
    try:
        frequency = max(1, int(meta.get("sy_updatefrequency") or 1))
    except ValueError:
        frequency = 1
    return period / frequency
