"""Sitemap bytes to entries: news tags, the window, index files, gzip within its cap, the
namespaces sites get wrong, what is not a sitemap, and XML attacks read without expansion."""

from __future__ import annotations

import gzip
import time

import pytest

from ingest.errors import FeedParseError
from ingest.extract.sitemap import parse_sitemap
from ingest.extract.sitemap_bytes import gunzip, is_sitemap, parse_date, root_name

NOW = 1_764_756_000.0  # 2025-12-03T10:00:00Z
DAY = 86400.0
SINCE = NOW - 2 * DAY
NS = ('xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
      'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
      'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"')


def stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def urlset(*urls: str, ns: str = NS) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {ns}>'
            + "".join(urls) + "</urlset>").encode()


def news_url(loc: str, published: str, title: str = "Titolo", language: str = "it",
             keywords: str = "") -> str:
    return (f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Site</news:name>"
            f"<news:language>{language}</news:language></news:publication>"
            f"<news:publication_date>{published}</news:publication_date>"
            f"<news:title>{title}</news:title><news:keywords>{keywords}</news:keywords>"
            "</news:news></url>")


def parse(content: bytes, *, max_urls: int = 1000, max_bytes: int = 1_000_000):
    return parse_sitemap(content, url="https://site.example/sitemap.xml", since=SINCE,
                         max_urls=max_urls, max_bytes=max_bytes)


def test_news_tags_fill_the_entry() -> None:
    doc = urlset(news_url("  https://site.example/a  ", stamp(3600), "Un  titolo\n lungo", "pt-BR",
                          " politica, Roma ,, politica, economia "))
    [entry] = parse(doc).entries
    assert entry.link == "https://site.example/a"  # <loc> trimmed
    assert entry.guid is None
    assert entry.title == "Un titolo lungo"
    assert entry.published == stamp(3600)
    assert entry.language == "pt-BR"
    assert entry.tags == ("politica", "Roma", "economia")


def test_only_recent_dated_web_urls_are_taken() -> None:
    doc = urlset(
        news_url("https://site.example/new", stamp(DAY)),
        news_url("https://site.example/old-news", stamp(3 * DAY)),
        f"<url><loc>https://site.example/modified</loc><lastmod>{stamp(60)}</lastmod></url>",
        "<url><loc>https://site.example/stale</loc><lastmod>2020-01-01</lastmod></url>",
        "<url><loc>https://site.example/undated</loc></url>",
        f"<url><loc>ftp://site.example/file</loc><lastmod>{stamp(60)}</lastmod></url>",
        f"<url><loc>/relative</loc><lastmod>{stamp(60)}</lastmod></url>",
    )
    sitemap = parse(doc)
    assert [e.link for e in sitemap.entries] == ["https://site.example/new",
                                                  "https://site.example/modified"]
    assert sitemap.entries[1].published is None  # a lastmod is no publication date
    assert (sitemap.old, sitemap.undated) == (2, 1)


def test_an_image_loc_is_the_entry_image_not_its_link() -> None:
    doc = urlset(f"<url><loc>https://site.example/a</loc><lastmod>{stamp(60)}</lastmod>"
                 "<image:image><image:loc>https://site.example/a.jpg</image:loc></image:image>"
                 "</url>")
    [entry] = parse(doc).entries
    assert (entry.link, entry.image) == ("https://site.example/a", "https://site.example/a.jpg")


@pytest.mark.parametrize("ns", [
    "",  # no namespace at all
    'xmlns="http://www.google.com/schemas/sitemap/0.84"',  # an old namespace
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"',  # news: prefix left undeclared
])
def test_elements_are_matched_by_local_name(ns: str) -> None:
    [entry] = parse(urlset(news_url("https://site.example/a", stamp(60), "T"), ns=ns)).entries
    assert (entry.link, entry.title, entry.language) == ("https://site.example/a", "T", "it")


def test_an_index_lists_recent_and_undated_children_newest_first() -> None:
    doc = (f'<sitemapindex {NS}>'
           "<sitemap><loc>https://site.example/undated.xml</loc></sitemap>"
           f"<sitemap><loc>https://site.example/older.xml</loc><lastmod>{stamp(DAY)}</lastmod>"
           "</sitemap>"
           f"<sitemap><loc>https://site.example/old.xml</loc><lastmod>{stamp(9 * DAY)}"
           "</lastmod></sitemap>"
           f"<sitemap><loc> https://site.example/newest.xml.gz </loc><lastmod>{stamp(60)}"
           "</lastmod></sitemap></sitemapindex>").encode()
    sitemap = parse(doc)
    assert sitemap.kind == "sitemapindex"
    assert [c.url.rsplit("/", 1)[1] for c in sitemap.children] == [
        "newest.xml.gz", "older.xml", "undated.xml"]
    assert sitemap.old == 1


def test_max_urls_bounds_the_entries_read() -> None:
    doc = urlset(*(news_url(f"https://site.example/{i}", stamp(60)) for i in range(10)))
    sitemap = parse(doc, max_urls=3)
    assert len(sitemap.entries) == 3
    assert "more than 3 entries" in sitemap.warning


def test_gzip_is_undone_within_the_cap() -> None:
    doc = urlset(news_url("https://site.example/a", stamp(60)))
    assert [e.link for e in parse(gzip.compress(doc)).entries] == ["https://site.example/a"]
    with pytest.raises(FeedParseError, match=r"sitemap too large: more than 1000 bytes after"
                                             r" gunzip"):
        gunzip(gzip.compress(b" " * 5000 + doc), url="u", limit=1000)
    with pytest.raises(FeedParseError, match="sitemap too large: more than 10 bytes"):
        gunzip(doc, url="u", limit=10)


@pytest.mark.parametrize("content, problem", [
    (b"hello, not xml at all", "not XML"),
    (b"", "not XML"),
    (b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>", "HTML page"),
    (b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>',
     "the root element is <rss>"),
    (gzip.compress(urlset(), mtime=0)[:30], "broken gzip"),
    (b"\x1f\x8b\x08\x00garbage that is no deflate stream", "broken gzip"),
])
def test_what_is_not_a_sitemap_is_named(content: bytes, problem: str) -> None:
    with pytest.raises(FeedParseError, match=f"site.example/sitemap.xml: not a sitemap: .*{problem}"):
        parse(content)


def test_a_document_cut_short_keeps_what_it_read_with_a_warning() -> None:
    doc = urlset(news_url("https://site.example/a", stamp(60)),
                 news_url("https://site.example/b", stamp(60)))
    cut = doc[:doc.index(b"https://site.example/b") + 10]
    sitemap = parse(cut)
    assert [e.link for e in sitemap.entries] == ["https://site.example/a"]
    assert "the XML is broken" in sitemap.warning


@pytest.mark.parametrize("content, expected", [
    (urlset(), True),
    (gzip.compress(urlset()), True),
    (b'<?xml version="1.0"?>\n<!-- a <comment> -->\n<?xml-stylesheet href="s.xsl"?>\n'
     b'<!DOCTYPE x [<!ENTITY a "b">]><sm:sitemapindex xmlns:sm="x"/>', True),
    (b'<?xml version="1.0"?><rss version="2.0"/>', False),
    (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', False),
    (b"<!DOCTYPE html><html></html>", False),
    (b"\x1f\x8bnot gzip", False),
    (b"", False),
    (b"<" * 100_000, False),
])
def test_detection_reads_the_root_element_of_a_prefix(content: bytes, expected: bool) -> None:
    assert is_sitemap(content) is expected


def test_detection_reads_a_bounded_prefix() -> None:
    assert root_name(b"<urlset>") == "urlset"
    assert not is_sitemap(b" " * 5000 + urlset())  # its root is past the prefix: not read


@pytest.mark.parametrize("value, expected", [
    ("2025-12-03", "2025-12-03T00:00:00Z"),
    ("2025-12-03T11:00:00+01:00", "2025-12-03T10:00:00Z"),
    ("2025-12-03T10:00Z", "2025-12-03T10:00:00Z"),
    ("2025-12-03T10:00:00.123456Z", "2025-12-03T10:00:00Z"),
    ("2025-12-03 10:00:00", "2025-12-03T10:00:00Z"),  # no zone: UTC
    ("yesterday", None), ("", None), ("2025-12-03T10:00:00" + "0" * 40, None),
])
def test_dates(value: str, expected: str | None) -> None:
    from ingest.extract.sitemap_bytes import iso_utc

    assert iso_utc(parse_date(value)) == expected


BOMB = ('<!DOCTYPE urlset [<!ENTITY lol "lol">'  # billion laughs: 10^9 "lol"s
        + "".join(f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">'
                  for i in range(1, 10)) + "]>")


@pytest.mark.parametrize("doctype, text", [
    ('<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
    ('<!DOCTYPE urlset [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext;]>', "x"),
    ('<!DOCTYPE urlset SYSTEM "http://127.0.0.1:9/evil.dtd">', "x"),
    (BOMB, "&lol9;"),
])
def test_entities_and_dtds_are_never_expanded_or_fetched(doctype: str, text: str) -> None:
    doc = (f'<?xml version="1.0"?>\n{doctype}\n<urlset {NS}>'
           f"{news_url('https://site.example/a', stamp(60), f'Title {text} end', keywords=text)}"
           "</urlset>").encode()
    [entry] = parse(doc).entries
    assert "root:" not in entry.title and "lol" not in entry.title
    assert entry.title.startswith("Title")
    assert len(entry.title) < 50
