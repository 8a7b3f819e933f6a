"""Property tests of page decoding and extraction: decode_html never raises, and
extract_article returns an Article or raises SkipEntry, nothing else, within the
profile's deadline (bounded work). trafilatura is slow: fewer, smaller examples."""

from __future__ import annotations

import json
from html import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import SkipEntry
from ingest.extract.page import extract_article
from ingest.extract.page_decoding import decode_html
from ingest.models import Article

pytestmark = pytest.mark.fuzz

URL = "http://127.0.0.1/news/story.html"
_LABELS = ["utf-8", "utf-16", "utf-32", "iso-8859-1", "windows-1252", "gb2312", "shift_jis",
           "koi8-r", "punycode", "rot13", "base64", "undefined", "idna", "unicode_escape",
           "utf-7", "x-unknown", ""]
_CONTENT_TYPES = st.one_of(st.builds("text/html; charset={}".format, st.sampled_from(_LABELS)),
                           st.sampled_from(["", "text/html", "application/xhtml+xml"]),
                           st.text(max_size=40))


@given(content=st.binary(max_size=4000), content_type=_CONTENT_TYPES)
def test_decode_html_never_raises(content, content_type):
    assert isinstance(decode_html(content, content_type), str)


_TEXT_BITS = ["<", ">", "&", "&lt;", "&#60;", "\\u003c", "<!--", "-->", "[", '"', "'", "@",
              "\n", " ", "é", "中", "a" * 60, "a." * 30, "By Jane Doe", "2025-12-03",
              # long runs: work superlinear in them would pass the deadline
              "[" * 6_000, "<" * 6_000, "<p>a" * 1_500]
_TEXT = st.lists(st.one_of(st.sampled_from(_TEXT_BITS), st.text(max_size=10)),
                 max_size=8).map("".join)
_PARAGRAPH = ("<p>The council met on Tuesday to discuss the budget for the coming year, "
              "and voted on the plan after a long debate.</p>")


@st.composite
def head_parts(draw):
    value = escape(draw(_TEXT))
    return draw(st.sampled_from([
        f'<meta name="author" content="{value}">',
        f'<meta property="og:description" content="{value}">',
        f'<meta charset="{draw(st.sampled_from(_LABELS))}">',
        f"<title>{value}</title>",
        '<script type="application/ld+json">'
        + json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                      "headline": draw(_TEXT), "author": {"name": draw(_TEXT)}}) + "</script>",
        f'<script type="application/ld+json">{draw(_TEXT)}</script>',  # not JSON
    ]))


@st.composite
def pages(draw):
    start = draw(st.sampled_from(["", "<!DOCTYPE html>", '<?xml version="1.0"?>',
                                  "<!DOCTYPE " + "/" * 3_000, "<p>a" * 500]))
    head = "".join(draw(st.lists(head_parts(), max_size=4)))
    body = "".join(draw(st.lists(st.one_of(
        st.just(_PARAGRAPH),
        _TEXT.map(lambda t: f"<p>{escape(t)}</p>"),
        _TEXT.map(lambda t: f'<div class="byline">{escape(t)}</div>'),
        _TEXT), max_size=5)))
    lang = draw(st.sampled_from(["", ' lang="it"', " lang=" + "x" * 50]))
    html = f"{start}<html{lang}><head>{head}</head><body><article>{body}</article></body></html>"
    return html.encode(draw(st.sampled_from(["utf-8", "utf-16", "cp1252"])), "replace")


@pytest.fixture(scope="module")
def warm():
    """trafilatura imported, the language model and dateparser's locales loaded (each
    takes seconds once per process), so the deadline measures each page's own work."""
    page = ("<html><body><article><p class='date'>Published Tuesday 3 Dec. '25, 10:00 am</p>"
            f"{_PARAGRAPH * 3}</article></body></html>").encode()
    extract_article(page, URL, "text/html")


_FEW = max(10, settings.default.max_examples // 2)


@settings(max_examples=_FEW)
@given(content=st.one_of(pages(), st.binary(max_size=2000)), content_type=_CONTENT_TYPES,
       need=st.tuples(st.booleans(), st.booleans(), st.booleans()))
def test_extract_article_gives_an_article_or_skips_the_entry(warm, content, content_type,
                                                             need):
    need_date, need_language, need_authors = need
    try:
        article = extract_article(content, URL, content_type, "Budget",
                                  need_date=need_date, need_language=need_language,
                                  need_authors=need_authors)
    except SkipEntry as skip:
        assert skip.reason in ("no_text", "extract_failed")
        return
    assert isinstance(article, Article) and isinstance(article.text, str)
