"""feeds.parse_feed against real feeds from the corpus and small hand-made cases."""

from __future__ import annotations

import time

import feedparser
import pytest

from ingest.errors import FeedParseError
from ingest.extract.feed import parse_feed
from ingest.extract.htmltext import html_to_text
from ingest.models import ParsedFeed

REAL_FEEDS = ["rss-parser/test/input", "feedjira/spec/sample_feeds", "laminas-feed/test",
              "simplepie/tests", "miniflux/internal"]


def _corpus_feeds(corpus):
    for folder in REAL_FEEDS:
        for path in sorted((corpus / "feeds" / folder).rglob("*")):
            if path.suffix in {".xml", ".rss", ".atom", ".rdf"} and path.is_file():
                yield path


def test_real_feeds_give_the_entries_feedparser_finds(corpus):
    """Every entry feedparser itself finds (with a link or id) comes out, same link and GUID."""
    compared = 0
    for path in _corpus_feeds(corpus):
        raw = path.read_bytes()
        reference = feedparser.parse(raw.lstrip(), response_headers={
            "content-location": "http://example.com/feed"})
        expected = [(e.get("link"), e.get("id")) for e in reference.entries
                    if e.get("link") or e.get("id")]
        try:
            parsed = parse_feed(raw, url="http://example.com/feed")
        except FeedParseError:
            assert not expected, f"{path}: feedparser found {len(expected)} entries, we none"
            continue
        got = [(e.link, e.guid) for e in parsed.entries]
        if not expected:  # we also repair what expat rejects (UTF-16 without BOM...)
            continue
        assert got == [(link or None, g or None) for link, g in expected], path
        assert len(got) == len(expected), path
        compared += 1
    assert compared >= 60


@pytest.mark.parametrize("name", ["rss091", "rss10", "rss20", "atom10", "atom03"])
def test_formats(name):
    docs = {
        "rss091": b'<?xml version="1.0"?><rss version="0.91"><channel><title>T</title>'
                  b'<language>it</language><item><title>A</title><link>http://x.it/a</link>'
                  b'</item></channel></rss>',
        "rss10": b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
                 b'syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://x.it/">'
                 b'<title>T</title></channel><item rdf:about="http://x.it/a"><title>A</title>'
                 b'<link>http://x.it/a</link></item></rdf:RDF>',
        "rss20": b'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
                 b'<link>http://x.it/a</link><guid>g1</guid></item></channel></rss>',
        "atom10": b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><title>A'
                  b'</title><link href="http://x.it/a"/><id>g1</id></entry></feed>',
        "atom03": b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>T</title><entry>'
                  b'<title>A</title><link rel="alternate" href="http://x.it/a"/><id>g1</id>'
                  b'</entry></feed>',
    }
    parsed = parse_feed(docs[name], url="http://x.it/feed")
    assert [e.link for e in parsed.entries] == ["http://x.it/a"]
    assert parsed.entries[0].title == "A"


def test_relative_links_resolve_against_final_url():
    doc = (b'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
           b'<link>/news/a.html</link></item></channel></rss>')
    parsed = parse_feed(doc, url="https://www.site.it/feeds/all.xml")
    assert parsed.entries[0].link == "https://www.site.it/news/a.html"


def test_http_charset_decides_encoding():
    doc = ('<rss version="2.0"><channel><title>Città</title><item><title>Perché sì</title>'
           '<link>http://x.it/a</link></item></channel></rss>').encode("iso-8859-1")
    parsed = parse_feed(doc, url="http://x.it/f", content_type="application/rss+xml; charset=iso-8859-1")
    assert parsed.title == "Città" and parsed.entries[0].title == "Perché sì"


def test_feed_metadata_and_entry_fields():
    doc = b"""<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
      xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/">
      <channel><title>T</title><language>it-IT</language><copyright>(c) ANSA</copyright><ttl>30</ttl>
      <sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>
      <item><title>A &amp; B</title><link>http://x.it/a</link><guid isPermaLink="false">g1</guid>
      <pubDate>Wed, 03 Dec 2025 10:00:00 +0100</pubDate><author>ed@x.it (Ed)</author>
      <category>Politica</category>
      <description>&lt;p&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;/p&gt;</description>
      <content:encoded><![CDATA[<p>First para.</p><p>Second para.</p><script>bad()</script>]]>
      </content:encoded>
      <media:content url="http://x.it/a.jpg" medium="image"/></item></channel></rss>"""
    parsed = parse_feed(doc, url="http://x.it/f")
    assert (parsed.language, parsed.rights, parsed.ttl, parsed.update_period) == (
        "it-IT", "(c) ANSA", 1800.0, 900.0)
    e = parsed.entries[0]
    assert e.title == "A & B" and e.guid == "g1"
    assert e.published == "2025-12-03T09:00:00Z"
    assert e.summary == "Short summary"
    assert e.content == "First para.\nSecond para."
    assert e.tags == ("Politica",) and e.image == "http://x.it/a.jpg"


@pytest.mark.parametrize("doc, message", [
    (b"<html><head><title>Document Moved</title></head><body>moved</body></html>", "not"),
    (b"", "not"),
    (b"\x00\x01\x02binary", "not"),
])
def test_not_a_feed(doc, message):
    with pytest.raises(FeedParseError, match=message):
        parse_feed(doc, url="http://x.it/f")


def test_empty_valid_feed_is_not_an_error():
    parsed = parse_feed(b'<rss version="2.0"><channel><title>T</title></channel></rss>',
                        url="http://x.it/f")
    assert parsed.entries == () and parsed.warning is None


def test_truncated_feed_keeps_recoverable_entries():
    doc = (b'<rss version="2.0"><channel><title>T</title>'
           b'<item><title>A</title><link>http://x.it/a</link></item>'
           b'<item><title>B</title><link>http://x.it/b</link></item>'
           b'<item><title>C</title><link>http://x.it/')
    parsed = parse_feed(doc, url="http://x.it/f")
    assert [e.link for e in parsed.entries][:2] == ["http://x.it/a", "http://x.it/b"]
    assert parsed.warning


@pytest.mark.parametrize("fragment, text", [
    ("<p>a</p><p>b</p>", "a\nb"),
    ("plain &amp; simple", "plain & simple"),
    ("no markup at all", "no markup at all"),
    ("x<br>y<script>z()</script>", "x\ny"),
    ('<!DOCTYPE html [<!ENTITY e "boom">]><p>text</p>', "text"),
    ("", ""),
    (None, ""),
])
def test_html_to_text(fragment, text):
    assert html_to_text(fragment) == text


# -- one odd item, and the feed's other items ---------------------------------------------

def _rss(items: str, channel: str = "<title>T</title>", prologue: str = "") -> bytes:
    return (f'{prologue}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel>{channel}{items}</channel></rss>").encode()


def _item(n: int, extra: str = "") -> str:
    return (f"<item><title>Story {n}</title><link>http://x.it/{n}</link>"
            f"<guid>g{n}</guid>{extra}</item>")


def test_a_feed_with_one_odd_item_keeps_the_others():
    """An item (or a feed title) that the text conversion chokes on costs that field or
    that item, never the feed's other items."""
    doc = _rss(_item(1) + "<item><title>&lt;html&gt;</title><link>http://x.it/2</link></item>"
               + _item(3), channel="<title>&lt;html&gt;</title>")
    parsed = parse_feed(doc, url="http://x.it/f")
    assert {"http://x.it/1", "http://x.it/3"} <= {e.link for e in parsed.entries}


def test_an_item_that_cannot_be_read_is_dropped_and_counted():
    """feedparser-shaped items with values of the wrong type: each costs only itself."""
    from feedparser import FeedParserDict as D

    from ingest.extract.feed import _entries

    raws = [D(link="http://x.it/1", id="g1", title="One"),
            D(links=[D(href=5, rel="alternate")], id="g2"),  # a number for a link
            D(link="http://x.it/3", id=["g3"]),  # a list for an id
            D(link="http://x.it/4", id="g4", tags=[D(term={"a": 1})]),  # a dict for a term
            D(link="http://x.it/5", id="g5", media_content=["x"]),  # a string for a dict
            D(link="http://x.it/6", id="g6", title="Six")]
    entries, note = _entries(raws)
    assert [e.guid for e in entries] == ["g1", "g6"]
    assert note.startswith("dropped 4 of 6 items that could not be read (first: Attribute")


def test_dropped_items_are_reported_in_the_feeds_warning(monkeypatch):
    """No real item makes `_entry` fail once the text conversion copes with everything;
    one made to fail shows where the count goes."""
    import ingest.extract.feed

    real = ingest.extract.feed._entry
    monkeypatch.setattr(ingest.extract.feed, "_entry",
                        lambda raw: real(raw) if raw.get("title") != "Story 2" else 1 / 0)
    parsed = parse_feed(_rss(_item(1) + _item(2) + _item(3)), url="http://x.it/f")
    assert [e.link for e in parsed.entries] == ["http://x.it/1", "http://x.it/3"]
    assert parsed.warning == ("dropped 1 of 3 items that could not be read "
                              "(first: ZeroDivisionError: division by zero)")


def test_authors_of_real_shapes_are_kept():
    doc = _rss(_item(1, "<author>ed@x.it (Ed Smith)</author>")
               + _item(2, "<dc:creator><![CDATA[Jane Doe, John Roe]]></dc:creator>"),
               prologue='<?xml version="1.0"?>\n')
    parsed = parse_feed(doc, url="http://x.it/f")
    assert [e.authors for e in parsed.entries] == [("Ed Smith",), ("Jane Doe, John Roe",)]


# -- what comes before the root element ---------------------------------------------------

def test_the_prologue_keeps_what_feedparser_reads_from_it():
    """Encoding from the XML declaration, entities from the DOCTYPE, whitespace, comments
    and processing instructions before the root: all as before the rewrite."""
    prologue = ('\n  <?xml version="1.0" encoding="iso-8859-1"?>\n<!-- generator -->\n'
                '<?xml-stylesheet href="s.xsl" type="text/xsl"?>\n'
                '<!DOCTYPE rss [\n  <!ENTITY co "ACME   Corp">\n  <!ENTITY % pe "x">\n]>\n')
    doc = _rss("<item><title>&co; news: città</title><link>http://x.it/1</link></item>",
               prologue=prologue).decode().encode("iso-8859-1")
    parsed = parse_feed(doc, url="http://x.it/f")
    assert [e.title for e in parsed.entries] == ["ACME Corp news: città"]


@pytest.mark.parametrize("encoding, bom", [
    ("utf-16-le", b""), ("utf-16-be", b""), ("utf-16", b""),
    ("utf-32-le", b""), ("utf-32-be", b""), ("utf-32", b""), ("cp037", b""),
])
def test_feeds_in_wide_and_ebcdic_encodings_are_read(encoding, bom):
    doc = _rss(_item(1).replace("Story 1", "Città 1"),
               prologue=f'<?xml version="1.0" encoding="{encoding}"?>').decode()
    parsed = parse_feed(bom + doc.encode(encoding), url="http://x.it/f",
                        content_type="text/xml; charset=iso-8859-1")  # the BOM/bytes win
    assert [e.title for e in parsed.entries] == ["Città 1"]


@pytest.mark.parametrize("where", ["declaration", "header"])
def test_a_charset_that_is_not_a_text_encoding_is_ignored(where):
    """undefined raises whatever the error handler (it failed the feed), punycode decodes
    in quadratic time, rot13 and base64 are not text at all."""
    for charset in ("punycode", "rot13", "base64", "undefined"):
        prologue = f'<?xml version="1.0" encoding="{charset}"?>' if where == "declaration" else ""
        content_type = f"application/rss+xml; charset={charset}" if where == "header" else ""
        doc = _rss(_item(1) + "<item><title>" + "a" * 200_000 + "\xe9</title></item>",
                   prologue=prologue)
        elapsed, parsed = _timed(lambda doc=doc, content_type=content_type: parse_feed(
            doc, url="http://x.it/f", content_type=content_type))
        assert [e.link for e in parsed.entries] == ["http://x.it/1"], charset
        assert elapsed < 1.0, f"{charset} in the {where}: {elapsed:.1f}s"


# -- bounded work: inputs that make a naive parser backtrack (see bench/hostile_inputs.py) --

def _timed(call):
    started = time.perf_counter()
    try:
        result = call()
    except FeedParseError as exc:
        result = exc
    return time.perf_counter() - started, result


HOSTILE_FEEDS = {
    # _HTML_START: each empty comment doubled the work (2^25 steps here)
    "comments": b"<!---->" * 25 + b"x",
    # feedparser's DOCTYPE and ENTITY patterns: quadratic in a prologue's blank lines
    "blank-lines": b"x" + b"\n" * 40_000 + b"<a/>",
    # feedparser's XML declaration pattern: cubic in a first line of "encoding=''"s
    "declaration": b"<?" + b"encoding=''" * 1_000,
    # ... and on a one-line feed after a well-formed declaration
    "one-line": _rss(_item(1) + "<item><title>" + "encoding=''" * 1_000 + "</title></item>",
                     prologue="<?xml version='1.0'?>"),
    # feedparser's author e-mail pattern: quadratic in a run of name characters
    "author": _rss(_item(1, "<author>" + "a" * 24_000 + "</author>")),
    "author-after-child": _rss(_item(1, "<author><x/>" + "a." * 12_000 + "</author>")),
    "author-entity": (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"a" * 30_000
                      + b'">]>' + _rss(_item(1, "<dc:creator>&a;</dc:creator>"))),
    # UTF-16 without a byte-order mark: our own encoding rewrite was quadratic
    "utf-16": ("<?xml" * 32_000).encode("utf-16-le"),
}


@pytest.mark.parametrize("name", list(HOSTILE_FEEDS))
def test_hostile_feeds_are_parsed_in_bounded_time(name):
    elapsed, result = _timed(lambda: parse_feed(HOSTILE_FEEDS[name], url="http://x.it/f"))
    assert elapsed < 1.0, f"{name}: {elapsed:.1f}s"
    if isinstance(result, ParsedFeed):  # the item beside the hostile field survives
        assert [e.link for e in result.entries][:1] == ["http://x.it/1"]
        assert all(len("".join(e.authors)) < 1000 for e in result.entries)


def test_html_pages_behind_comments_are_still_recognised():
    with pytest.raises(FeedParseError, match="the server sent an HTML page"):
        parse_feed(b"<!-- a --> <!---->\n<!DOCTYPE html><html><body>x</body></html>",
                   url="http://x.it/f")
