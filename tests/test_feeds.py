"""feeds.parse_feed against real feeds from the corpus and small hand-made cases."""

from __future__ import annotations

import feedparser
import pytest

from ingest.errors import FeedParseError
from ingest.feeds import parse_feed
from ingest.htmltext import html_to_text

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
      <category>Politica</category><description>&lt;p&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;/p&gt;</description>
      <content:encoded><![CDATA[<p>First para.</p><p>Second para.</p><script>bad()</script>]]></content:encoded>
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
