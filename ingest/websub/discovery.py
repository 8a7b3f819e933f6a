"""Where a feed says it is pushed: its hub and its topic (WebSub discovery).

A feed names its hub and its own URL in its links (``<atom:link rel="hub">`` and
``rel="self"``, read by `ingest.extract.feed` into ParsedFeed.hub/topic), or in its
answer's HTTP ``Link`` header (``Link: <https://hub.example/>; rel="hub"``). The feed's
own links win; the header fills in what they leave out. The header is untrusted: it is
read only up to MAX_LINK_HEADER characters, with ``find`` and ``split`` (linear, no
pattern), and only http(s) URLs of at most MAX_URL characters are taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

from ingest.models import ParsedFeed

MAX_LINK_HEADER = 8192  # characters of a Link header read; the rest is ignored
MAX_URL = 2048
RELS = ("hub", "self")


def feed_links(parsed: ParsedFeed, headers: Mapping[str, str],
               base: str) -> tuple[str | None, str | None]:
    """``(hub, topic)`` of a feed read from ``base``: its own links, else its Link header."""
    header = link_header(headers.get("link"), base)
    hub = usable_url(parsed.hub, base) or header.get("hub")
    topic = usable_url(parsed.topic, base) or header.get("self")
    return hub, topic


def link_header(value: str | None, base: str) -> dict[str, str]:
    """``{rel: url}`` for the first link of each of RELS in a Link header value."""
    found: dict[str, str] = {}
    text = (value or "")[:MAX_LINK_HEADER]
    pos = 0
    while len(found) < len(RELS):
        start = text.find("<", pos)
        end = text.find(">", start + 1) if start >= 0 else -1
        if end < 0:
            break
        following = text.find("<", end + 1)
        params = text[end + 1:following] if following >= 0 else text[end + 1:]
        if following >= 0:  # up to the comma that ends this link
            params = params.rpartition(",")[0]
        url = usable_url(text[start + 1:end], base)
        for rel in _rels(params):
            if rel in RELS and url and rel not in found:
                found[rel] = url
        pos = end + 1
    return found


def _rels(params: str) -> list[str]:
    """The relation types of one link's parameters (``; rel="hub self"``)."""
    rels: list[str] = []
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "rel":
            rels += value.strip().strip('"').lower().split()
    return rels


def usable_url(url: str | None, base: str) -> str | None:
    """``url`` made absolute against ``base`` when it is an http(s) URL of sane length."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        return None
    try:
        absolute = urljoin(base, url)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute
