"""Sitemap bytes to Entries (a ``<urlset>``) or to the sitemaps it lists (a ``<sitemapindex>``).

Covers Google News sitemaps (``<news:news>``: publication date, title, language, keywords),
plain sitemaps dated by ``<lastmod>``, sitemap index files and gzipped files
(`ingest.extract.sitemap_bytes`). Elements are matched by local name, whatever their
namespace: sites get the namespaces wrong (or leave a prefix undeclared, which lxml's
recovering parser lets by).

Only what is recent becomes work: a URL published or modified at or after ``since`` (an
index's child modified at or after it, or undated). A plain sitemap lists a whole site, so
an undated URL is counted, never taken. ``max_urls`` bounds the ``<url>`` (or ``<sitemap>``)
elements read per file.

lxml reads the bytes with no DTD, no entity expansion and no network (XXE, billion laughs);
this runs in a worker under the pool's deadline (`ingest.pipeline.jobs.parse_sitemap`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree

from ingest.errors import FeedParseError
from ingest.extract.sitemap_bytes import (
    SITEMAP_ROOTS,
    gunzip,
    head,
    iso_utc,
    parse_date,
    root_name,
    web_url,
)
from ingest.models import Entry

MAX_TITLE = 1000  # characters of a news title kept
MAX_TAGS, MAX_TAG = 20, 100  # keywords kept per URL, characters per keyword
MAX_LANGUAGE = 35  # characters of a language tag
_FATAL = 3  # libxml2's level of an error that ends the document (FATAL)


@dataclass(frozen=True)
class SitemapChild:
    """A sitemap an index lists, with its ``<lastmod>`` (epoch seconds) if it has one."""

    url: str
    lastmod: float | None = None


@dataclass(frozen=True)
class Sitemap:
    """One sitemap file, read: its kind and what of it is recent."""

    kind: str  # "urlset" | "sitemapindex"
    entries: tuple[Entry, ...] = ()  # urlset: URLs within the window, in the file's order
    children: tuple[SitemapChild, ...] = ()  # index: recent or undated, newest first
    old: int = 0  # URLs (or children) dated before the window
    undated: int = 0  # URLs without any date (not taken)
    warning: str | None = None  # a recoverable problem (cut short, past max_urls)


def parse_sitemap(content: bytes, *, url: str, since: float, max_urls: int,
                  max_bytes: int) -> Sitemap:
    """Read one sitemap file; FeedParseError when it is not one (see the module docstring)."""
    data = gunzip(content, url=url, limit=max_bytes)
    first = root_name(head(data))
    if first == "html":
        raise FeedParseError(f"{url}: not a sitemap: the server sent an HTML page")
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), recover=True,
                             resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        return _read(events, url=url, since=since, max_urls=max_urls)
    except etree.XMLSyntaxError as exc:  # recover=True raises only for an empty document
        raise FeedParseError(f"{url}: not a sitemap: not XML ({exc})") from exc


def _read(events, *, url: str, since: float, max_urls: int) -> Sitemap:
    kind = None
    items: list[dict[str, str]] = []
    notes: list[str] = []
    depth = 0  # of the element an event is about: the root is 0, a <url> 1
    for event, elem in events:
        if event == "start":
            depth += 1
            if kind is None:
                kind = _root_kind(url, elem)
            continue
        depth -= 1
        if depth == 1 and local_name(elem) in ("url", "sitemap"):
            if len(items) >= max_urls:
                notes.append(f"more than {max_urls} entries: the rest not read")
                break
            items.append(_fields(elem))
            _drop_read(elem)
    if kind is None:
        raise FeedParseError(f"{url}: not a sitemap: not XML (no root element)")
    fatal = [e for e in events.error_log if e.level >= _FATAL]
    if fatal:
        notes.insert(0, f"the XML is broken, read up to line {fatal[0].line}"
                        f" ({fatal[0].message[:200]})")
    warning = "; ".join(notes) or None
    if kind == "urlset":
        return _urlset(items, since, warning)
    return _index(items, since, warning)


def _root_kind(url: str, root: etree._Element) -> str:
    name = local_name(root)
    if name not in SITEMAP_ROOTS:
        raise FeedParseError(f"{url}: not a sitemap: the root element is <{name[:40]}>,"
                             " not <urlset> or <sitemapindex>")
    return name


def _drop_read(elem: etree._Element) -> None:
    """Free what is read: the element's content and the elements before it, so that a
    large file is never held whole."""
    elem.clear()
    parent = elem.getparent()
    while elem.getprevious() is not None:
        del parent[0]


def _urlset(urls: list[dict[str, str]], since: float, warning: str | None) -> Sitemap:
    entries, old, undated = [], 0, 0
    for fields in urls:
        link = web_url(fields.get("loc"))
        if link is None:
            continue
        published = parse_date(fields.get("publication_date"))
        modified = parse_date(fields.get("lastmod"))
        dates = [d for d in (published, modified) if d is not None]
        if not dates:
            undated += 1
        elif max(dates) < since:
            old += 1
        else:
            entries.append(_entry(link, fields, published))
    return Sitemap("urlset", entries=tuple(entries), old=old, undated=undated, warning=warning)


def _index(sitemaps: list[dict[str, str]], since: float, warning: str | None) -> Sitemap:
    children, old = [], 0
    for fields in sitemaps:
        link = web_url(fields.get("loc"))
        lastmod = parse_date(fields.get("lastmod"))
        if link is None:
            continue
        if lastmod is not None and lastmod < since:
            old += 1
            continue
        children.append(SitemapChild(link, lastmod))
    # newest first, the undated after them (a stable sort keeps the file's order within)
    children.sort(key=lambda c: -c.lastmod if c.lastmod is not None else float("inf"))
    return Sitemap("sitemapindex", children=tuple(children), old=old, warning=warning)


def _fields(elem: etree._Element) -> dict[str, str]:
    """The texts of a <url>/<sitemap>: its own ``loc`` and ``lastmod``, and the news
    fields and first image of its <news:news> and <image:image> blocks."""
    fields: dict[str, str] = {}
    for child in elem:
        name = local_name(child)
        if name in ("loc", "lastmod"):
            fields.setdefault(name, _text(child))
        elif name in ("news", "image"):
            for inner in child.iterdescendants():
                inner_name = local_name(inner)
                key = "image" if name == "image" and inner_name == "loc" else inner_name
                if key in ("image", "publication_date", "title", "keywords", "language"):
                    fields.setdefault(key, _text(inner))
    return fields


def _entry(link: str, fields: dict[str, str], published: float | None) -> Entry:
    keywords = (k.strip()[:MAX_TAG] for k in fields.get("keywords", "").split(","))
    return Entry(
        link=link,
        guid=None,
        title=" ".join(fields.get("title", "").split())[:MAX_TITLE],
        published=iso_utc(published),
        tags=tuple(dict.fromkeys(k for k in keywords if k))[:MAX_TAGS],
        image=web_url(fields.get("image")),
        language=fields.get("language", "").strip()[:MAX_LANGUAGE] or None,
    )


def local_name(elem: etree._Element) -> str:
    """The element's name without namespace or prefix, lower-cased ("" for a comment)."""
    tag = elem.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].rpartition(":")[2].lower()


def _text(elem: etree._Element) -> str:
    return (elem.text or "").strip()
