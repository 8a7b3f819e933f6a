"""A news site on 127.0.0.1 that carries every hostile input the hardening audit found.

    with FaultServer() as server:
        site = build(server)        # site.feeds: [(name, url)], site.healthy: [page URL]

One feed, "poisoned", holds healthy items beside items whose title, link or page is
hostile; the other feeds are hostile documents themselves. Each input is the audit's
reproducer at the size that froze or blew up the daemon (before the fixes). Used by
tests/e2e/test_hostile_daemon.py and bench/hostile.py.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from .faultserver import FaultServer, gzip_bomb
from .newssite import write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
# A user's footers.sites patterns that backtrack: on prose (re), on one long word (regex too).
FOOTER_PATTERNS = [r"(\w+\s?)+©", r"(?:\w|\w\w)+x"]


def _paragraphs(topic: str, n: int) -> str:
    return "".join(
        f"<p>{topic}: paragraph {i} of a story about the harbour of town number {n}, the "
        f"council meeting of week {n * 7 + i} and what the residents said about it.</p>"
        for i in range(5))


def article(title: str, n: int, *, head: str = "", before: str = "", last: str = "") -> bytes:
    """An article page; ``last`` is its body's last paragraph (a footer line)."""
    tail = f"<p>{escape(last)}</p>" if last else ""
    return (f"{before}<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title>{head}</head><body><article><h1>{escape(title)}</h1>"
            f"{_paragraphs(title, n)}{tail}</article></body></html>").encode()


# Pages whose extraction or footer stage met super-linear work (name -> page bytes).
HOSTILE_PAGES = {
    "agency-signature": article("Signature", 11, last="ANSA" + "/AP" * 22 + "/1"),
    "agency-commas": article("Commas", 12, last="AP" + " , DPA" * 40 + "!"),
    "contributor-accents": article("Accents", 13, last="\u00b4" * 200 + "!"),
    "user-pattern": article("Pattern", 14, last="word " * 45 + "!"),
    "user-pattern-long-word": article("Long word", 18, last="x" + "a" * 60 + "!"),
    "meta-author-brackets": article("Brackets", 15,
                                    head=f"<meta name='author' content='{'[' * 16000}'>"),
    "justext-prologue": article("Prologue", 16, before="<p>a" * 8000),
    "lang-in-comment": article("Comment", 17, before="<!--" + "<html" * 3200 + "-->"),
}


def _item(title: str, link: str, guid: str, description: str = "") -> str:
    return (f"<item><title>{title}</title><link>{link}</link><guid>{escape(guid)}</guid>"
            f"<pubDate>Wed, 03 Dec 2025 10:00:00 GMT</pubDate>"
            f"<description>{description}</description></item>")


def _rss(items: list[str]) -> bytes:
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            "<title>Hostile</title><link>http://127.0.0.1/</link><language>en</language>"
            + "".join(items) + "</channel></rss>").encode()


@dataclass
class HostileSite:
    feeds: list[tuple[str, str]] = field(default_factory=list)
    healthy: list[str] = field(default_factory=list)  # page URLs that must be written


def build(server: FaultServer) -> HostileSite:
    site = HostileSite()
    items = []
    for n in (1, 2, 3):
        path = f"/healthy/{n}.html"
        server.add(path, article(f"Healthy story {n}", n), HTML)
        site.healthy.append(server.url(path))
        items.append(_item(f"Healthy story {n}", escape(server.url(path)), f"healthy-{n}"))
    for name, page in HOSTILE_PAGES.items():
        server.add(f"/hostile/{name}.html", page, HTML)
        items.append(_item(name, escape(server.url(f"/hostile/{name}.html")), name))
    server.add("/hostile/stacked-gzip.html", gzip.compress(gzip_bomb(), 1),
               {**HTML, "Content-Encoding": "gzip, gzip"})
    items.append(_item("stacked", escape(server.url("/hostile/stacked-gzip.html")), "stacked"))
    # Items that failed their whole feed: a title that is an HTML document, links that do
    # not parse, a real IDN domain (never fetched: it is not on loopback), huge summaries.
    items += [
        _item("&lt;html&gt;", escape(server.url("/healthy/1.html")) + "?dup", "html-title"),
        _item("fullwidth", "http://example.com\uff03/a", "bad-link-1"),
        _item("bracket", "http://[::1", "bad-link-2"),
        _item("bracket2", "http://[x]/", "bad-link-3"),
        _item("idn", "http://xn--i-7iq.ws/", "idn-link"),
        _item("looks-html", escape(server.url("/hostile/none-1.html")), "looks-html",
              escape("<a" * 100_000)),
        _item("doctype", escape(server.url("/hostile/none-2.html")), "doctype",
              escape("<!DOCTYPE[" * 20_000)),
    ]
    server.add("/poisoned.xml", _rss(items), RSS)
    site.feeds.append(("poisoned", server.url("/poisoned.xml")))
    for name, body, headers in _hostile_feeds():
        server.add(f"/feeds/{name}.xml", body, headers)
        site.feeds.append((name, server.url(f"/feeds/{name}.xml")))
    return site


def _hostile_feeds() -> list[tuple[str, bytes, dict[str, str]]]:
    """Feeds whose bytes alone met super-linear work or blew past the size cap."""
    utf16 = ("<?xml version='1.0' encoding='utf-16'?><rss version='2.0'><channel><title>"
             + "x" * 160_000 + "</title></channel></rss>").encode("utf-16-le")
    author = _rss(["<item><title>a</title><link>http://127.0.0.1/a</link><author>"
                   + "a" * 24_000 + "@</author></item>"])
    return [
        ("utf16-no-bom", utf16, {"Content-Type": "application/xml"}),
        ("doctype-newlines", b"x" + b"\n" * 40_000 + b"<a/>", RSS),
        ("xml-declaration", b"<?" + b"encoding=''" * 1_000, RSS),
        ("long-author", author, RSS),
        ("html-comments", b"<!---->" * 146 + b"x", RSS),
        ("stacked-gzip", gzip.compress(gzip_bomb(), 1), {**RSS, "Content-Encoding": "gzip, gzip"}),
    ]


def daemon_config(path: Path, site: HostileSite, port: int, *, workers: int = 2,
                  timeout: str = "10s") -> Path:
    """A config for `ingest run` on the site: one poll of each feed in the first hour, the
    ops server on ``port``, and the user footer patterns that backtrack."""
    return write_config(
        path, site.feeds, schedule={"interval": "1h", "min_interval": "1h", "max_interval": "2h"},
        server={"host": "127.0.0.1", "port": port},
        extract={"workers": workers, "timeout": timeout},
        footers={"sites": {"127.0.0.1": FOOTER_PATTERNS}})
