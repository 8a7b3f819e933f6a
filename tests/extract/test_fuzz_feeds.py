"""Property tests of feeds.parse_feed: on any bytes it returns a ParsedFeed or raises
FeedParseError, nothing else, within the profile's deadline (bounded work); in a
well-formed feed, one hostile item never costs the others."""

from __future__ import annotations

from html import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import FeedParseError
from ingest.extract.feed import parse_feed
from ingest.models import Entry, ParsedFeed

pytestmark = pytest.mark.fuzz

URL = "http://127.0.0.1/feed.xml"


def _parse(content: bytes, content_type: str = "") -> ParsedFeed | None:
    """parse_feed's result, None when it refused the feed with FeedParseError."""
    try:
        parsed = parse_feed(content, url=URL, content_type=content_type)
    except FeedParseError:
        return None
    assert isinstance(parsed, ParsedFeed)
    assert all(isinstance(e, Entry) and isinstance(e.title, str) for e in parsed.entries)
    return parsed


_CHARSETS = ["utf-8", "UTF-16", "iso-8859-1", "windows-1252", "utf-32", "gb2312", "punycode",
             "rot13", "undefined", "x-unknown", ""]
_CONTENT_TYPES = st.one_of(
    st.sampled_from(["", "application/rss+xml", "text/html", "application/atom+xml"]),
    st.builds("text/xml; charset={}".format, st.sampled_from(_CHARSETS)),
    st.text(max_size=40))


@given(content=st.binary(max_size=3000), content_type=_CONTENT_TYPES)
def test_any_bytes_give_a_feed_or_a_feed_parse_error(content, content_type):
    _parse(content, content_type)


# Text that exercises markup: XML's special characters, references (declared, predefined,
# HTML-only, numeric, broken), CDATA and comment delimiters, long runs for the patterns.
_MARKUP_BITS = ["<", ">", "&", ";", '"', "'", "]]>", "<![CDATA[", "<!--", "-->", "<?", "?>",
                "&amp;", "&lt;", "&#60;", "&#x3C;", "&eacute;", "&nbsp;", "&e;", "&undefined;",
                "&#0;", "&#xD800;", "<b>", "</b>", "<html>", "\x00", "\n", "\t", " ", "@",
                "a" * 80, "a." * 40, "[" * 50, "encoding='x'", "http://x.it/a", "é", "中",
                # long runs: work superlinear in them would pass the deadline
                "a" * 20_000, "\n" * 20_000, "<!---->" * 22, "encoding=''" * 500]
_VALUE = st.lists(st.one_of(st.sampled_from(_MARKUP_BITS), st.text(max_size=8)),
                  max_size=12).map("".join)
_PROLOGUES = st.lists(st.one_of(
    st.sampled_from(['<?xml version="1.0" encoding="utf-8"?>', "<?xml version='1.0'?>",
                     '<?xml version="1.0" encoding="punycode"?>', "\n\n  ", "<!-- c -->",
                     '<?xml-stylesheet href="s.xsl"?>', "<!DOCTYPE rss>",
                     ('<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                      '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'), "<!---->" * 5]),
    _VALUE.map(lambda v: f'<!DOCTYPE rss [<!ENTITY e "{escape(v)}">]>'),
    _VALUE), max_size=4).map("".join)


@st.composite
def rss_items(draw, raw: bool):
    """An item whose fields hold generated text: raw, or well-formed (escaped, in a CDATA
    section, or with references to the entity ``e`` the prologue declares)."""
    def field():
        value = draw(_VALUE)
        if raw:
            return value
        return draw(st.sampled_from([
            escape(value, quote=False),
            "<![CDATA[" + value.replace("]]>", "") + "]]>",
            "&e;".join(escape(part, quote=False) for part in value.split("a"))]))
    tags = ["title", "description", "author", "dc:creator", "category", "pubDate", "guid",
            "link", "content:encoded", "comments"]
    body = "".join(f"<{t}>{field()}</{t}>" for t in draw(st.lists(st.sampled_from(tags),
                                                                   max_size=6)))
    return f"<item>{body}</item>"


def _rss(prologue: str, items: list[str]) -> str:
    return (f'{prologue}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Feed</title>{''.join(items)}</channel></rss>")


def _atom(prologue: str, items: list[str]) -> str:
    entries = [i.replace("<item>", "<entry>").replace("</item>", "</entry>") for i in items]
    return (f'{prologue}<feed xmlns="http://www.w3.org/2005/Atom"><title>Feed</title>'
            f"{''.join(entries)}</feed>")


_ENCODINGS = st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                              "iso-8859-1", "cp1252"])


@given(prologue=_PROLOGUES, items=st.lists(rss_items(raw=True), max_size=4),
       template=st.sampled_from([_rss, _atom]), encoding=_ENCODINGS,
       content_type=_CONTENT_TYPES)
def test_generated_feeds_give_a_feed_or_a_feed_parse_error(prologue, items, template,
                                                           encoding, content_type):
    _parse(template(prologue, items).encode(encoding, "replace"), content_type)


def _good_item(n: int) -> str:
    return f"<item><title>Good {n}</title><link>http://127.0.0.1/a/{n}</link></item>"


@given(hostile=rss_items(raw=False), at=st.integers(0, 2), encoding=_ENCODINGS,
       entity=_VALUE)
def test_one_hostile_item_never_costs_the_others(hostile, at, encoding, entity):
    items = [_good_item(1), _good_item(2)]
    items.insert(at, hostile)
    prologue = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "{escape(entity)}">]>'
    parsed = _parse(_rss(prologue, items).encode(encoding, "replace"))
    assert parsed is not None
    links = [e.link for e in parsed.entries]
    assert {"http://127.0.0.1/a/1", "http://127.0.0.1/a/2"} <= set(links), links
