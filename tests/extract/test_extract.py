"""extract: browser-like decoding and trafilatura extraction (run in-process here)."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from ingest.errors import SkipEntry
from ingest.extract.page import extract_article
from ingest.extract.page_decoding import decode_html

TEXT = "Perché la città è così bella? Über Straße, naïve café."


@pytest.mark.parametrize("encoding, content_type, meta", [
    ("utf-8", "text/html; charset=utf-8", ""),
    ("cp1252", "text/html; charset=windows-1252", ""),
    ("cp1252", "text/html; charset=ISO-8859-1", ""),  # WHATWG: latin-1 means windows-1252
    ("cp1252", "text/html", '<meta charset="iso-8859-1">'),
    ("iso-8859-15", "text/html", '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">'),
    ("utf-8", "text/html; charset=iso-8859-1", ""),  # valid UTF-8 under a stale label
    ("utf-8", "", '<meta charset="gb2312">'),
    ("cp1252", "", ""),  # undeclared: detected
])
def test_decode_html(encoding, content_type, meta):
    page = f"<html><head>{meta}<title>t</title></head><body><p>{TEXT} {TEXT}</p></body></html>"
    assert TEXT in decode_html(page.encode(encoding), content_type)


def test_meta_after_first_kilobyte_is_found():
    page = ("<html><head>" + "<!-- padding -->" * 100 + '<meta charset="windows-1252">'
            f"</head><body><p>{TEXT}</p></body></html>")
    assert TEXT in decode_html(page.encode("cp1252"), "text/html")


def test_bom_wins():
    page = f"<html><body><p>{TEXT}</p></body></html>".encode("utf-16")
    assert TEXT in decode_html(page, "text/html; charset=iso-8859-1")


def test_legacy_corpus_pages_decode_without_replacement_characters(corpus):
    pages = [p for p in (corpus / "pages" / "trafilatura").rglob("*.html")
             if b"charset=iso-8859-1" in p.read_bytes()[:4096].lower()]
    assert pages
    for path in pages:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            continue
        except UnicodeDecodeError:
            pass
        assert "\ufffd" not in decode_html(raw, "text/html"), path


def _article_page(paragraphs: list[str], lang: str = 'lang="it"') -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html {lang}><head><title>Titolo della notizia</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>Titolo della notizia</h1>{body}"
            f"</article></body></html>").encode()


PARAS = ["Il governo ha approvato oggi il decreto che riforma il sistema dei trasporti "
         "pubblici nelle principali città italiane, con nuovi fondi per le linee locali.",
         "Secondo il ministro, le risorse saranno distribuite entro la fine dell'anno alle "
         "regioni che presenteranno i progetti più completi e sostenibili."]


def test_extract_article_text_and_metadata():
    article = extract_article(_article_page(PARAS), "https://news.example/a", "text/html")
    assert article.text.split("\n") == PARAS  # the headline is not repeated in the text
    assert article.title == "Titolo della notizia"
    assert article.language == "it" and article.detected_language == "it"


def test_language_detected_when_page_declares_none():
    article = extract_article(_article_page(PARAS, lang=""), "https://news.example/a")
    assert article.language is None and article.detected_language == "it"


def test_empty_page_is_skipped_with_reason():
    with pytest.raises(SkipEntry) as info:
        extract_article(b"<html><body><nav>Home</nav></body></html>", "https://news.example/a")
    assert info.value.reason == "no_text"


def test_skip_entry_survives_pickling():
    import pickle

    exc = pickle.loads(pickle.dumps(SkipEntry("no_text", "https://x/a: nothing")))
    assert (exc.reason, exc.detail) == ("no_text", "https://x/a: nothing")


def test_an_extractor_failure_skips_the_page_with_its_url_and_cause(monkeypatch):
    """A page that trips a bug in trafilatura costs that page (the pipeline falls back to
    the feed's text), not the run."""
    import trafilatura

    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    with pytest.raises(SkipEntry) as caught:
        extract_article(b"<html><body><p>Text</p></body></html>", "https://x.example/a")
    assert caught.value.reason == "extract_failed"
    assert "https://x.example/a" in caught.value.detail
    assert "RecursionError" in caught.value.detail


_BODY = "<p>" + "The council met on Tuesday to discuss the budget for the coming year. " * 4 + "</p>"


def test_byline_in_the_body_is_searched_only_when_the_feed_names_no_author():
    page = (f'<html><head><title>Budget</title></head><body><article><h1>Budget</h1>'
            f'<div class="byline">Jane Doe</div>{_BODY}</article></body></html>').encode()
    url = "https://news.example.com/budget"
    wanted = extract_article(page, url, "text/html", need_date=False, need_language=False,
                             need_authors=True)
    spared = extract_article(page, url, "text/html", need_date=False, need_language=False,
                             need_authors=False)
    assert wanted.authors == ("Jane Doe",)
    assert spared.authors == ()  # the feed's authors will be used
    assert spared.text == wanted.text


def test_head_metadata_is_read_even_when_the_feed_gives_date_and_authors():
    page = (f'<html><head><title>Budget - The Daily</title><meta name="author" '
            f'content="John Smith"><meta property="og:site_name" content="The Daily">'
            f'<link rel="canonical" href="https://news.example.com/budget">'
            f'<meta property="article:published_time" content="2026-11-30T08:00:00Z">'
            f'</head><body><article>{_BODY}</article></body></html>').encode()
    article = extract_article(page, "https://news.example.com/budget?utm_source=rss",
                              "text/html", need_date=False, need_language=False,
                              need_authors=False)
    assert article.authors == ("John Smith",)
    assert article.site_name == "The Daily"
    assert article.canonical_url == "https://news.example.com/budget"
    assert article.published == "2026-11-30"


@pytest.mark.parametrize("byline", [
    '<span class="author-name">Jane Doe</span>',
    '<a rel="author" href="/staff/jane">Jane Doe</a>',
    '<div itemprop="author">Jane Doe</div>',
    '<div data-component="Byline">Jane Doe</div>',
    '<p class="Byline">Jane Doe</p>',
    '<span id="zuozhe">Jane Doe</span>',
    '<author>Jane Doe</author>',
])
def test_every_kind_of_byline_markup_gets_the_author_search(byline):
    page = (f'<html><head><title>Budget</title></head><body><article><h1>Budget</h1>'
            f'{byline}{_BODY}</article></body></html>').encode()
    article = extract_article(page, "https://news.example.com/budget", "text/html",
                              need_date=False, need_language=False, need_authors=True)
    assert article.authors == ("Jane Doe",)


def _count_metadata_passes(monkeypatch) -> list[int]:
    """Elements in the tree of each metadata pass."""
    import trafilatura

    calls, real = [], trafilatura.extract_metadata
    monkeypatch.setattr(trafilatura, "extract_metadata",
                        lambda tree, *args: calls.append(len(tree.xpath("//*"))) or
                        real(tree, *args))
    return calls


def test_the_author_search_reads_the_byline_elements_not_the_whole_page(monkeypatch):
    plain = (f'<html><head><title>Budget</title></head><body><nav><a href="/">Home</a>'
             f'<a href="/world">World</a></nav><article><h1>Budget</h1>'
             f'<p class="lead">By Jane Doe</p>{_BODY}{_BODY}</article></body></html>'
             ).encode()
    calls = _count_metadata_passes(monkeypatch)
    article = extract_article(plain, "https://news.example.com/budget", "text/html",
                              need_date=False, need_language=False, need_authors=True)
    assert article.authors == () and len(calls) == 1  # no byline markup: the head's pass only
    calls.clear()
    article = extract_article(plain.replace(b'class="lead"', b'class="byline"'),
                              "https://news.example.com/budget", "text/html",
                              need_date=False, need_language=False, need_authors=True)
    assert article.authors == ("Jane Doe",)
    # html, body, article and the byline: not the page's nav, links and paragraphs
    assert len(calls) == 2 and calls[1] == 4


def test_a_byline_in_the_comments_is_not_the_author():
    """The byline's ancestors keep their attributes, so the author search still prunes
    a comment section as it does on the whole page."""
    comments = ('<section id="comments"><div class="comment"><span class="author">'
                'Angry Reader</span><p>First!</p></div></section>')
    page = (f'<html><head><title>Budget</title></head><body><article><h1>Budget</h1>'
            f'{_BODY}</article>{comments}</body></html>').encode()
    url = "https://news.example.com/budget"
    article = extract_article(page, url, "text/html", need_date=False,
                              need_language=False, need_authors=True)
    assert article.authors == ()
    with_byline = page.replace(b"<h1>Budget</h1>", b'<h1>Budget</h1><p class="byline">'
                               b'By Jane Doe</p>')
    article = extract_article(with_byline, url, "text/html", need_date=False,
                              need_language=False, need_authors=True)
    assert article.authors == ("Jane Doe",)


def test_the_byline_search_finds_what_the_whole_page_pass_finds(corpus):
    """On every corpus page our metadata has the author and title of trafilatura's
    whole-page pass: from the head where it names an author, else from the search in
    the byline elements alone, or none where the page has no byline element."""
    import trafilatura
    from trafilatura.settings import set_date_params

    from ingest.extract.page import _byline_elements, _metadata

    unmarked = from_bylines = 0
    url, dates = "https://example.invalid/a", set_date_params(False)
    for path in sorted((corpus / "pages").rglob("*.htm*")):
        tree = trafilatura.load_html(decode_html(path.read_bytes()))
        if tree is None:
            continue
        ours = _metadata(tree, url, need_date=False, need_authors=True)
        whole = trafilatura.extract_metadata(tree, url, dates)
        assert (ours.author, ours.title) == (whole.author, whole.title), path
        if _metadata(tree, url, need_date=False, need_authors=False).author is None:
            unmarked += not _byline_elements(tree)
            from_bylines += ours.author is not None
    # both the skip and the search happen on the corpus: the check proves something
    assert unmarked >= 20 and from_bylines >= 20


def test_the_title_is_the_pages_lone_headline_without_the_whole_page_pass():
    """The head's <title> carries the site's name; the <h1> is the title, as trafilatura
    reads it from the whole page, and it is not left at the top of the text."""
    page = (f'<html><head><title>Budget approved - The Daily Gazette</title>'
            f'<meta name="author" content="John Smith"></head><body><nav>Home</nav>'
            f'<article><h1>Council approves the budget</h1>{_BODY}</article></body></html>'
            ).encode()
    article = extract_article(page, "https://news.example.com/budget", "text/html",
                              need_date=False, need_language=False, need_authors=True)
    assert article.title == "Council approves the budget"
    assert article.authors == ("John Smith",)
    assert not article.text.startswith("Council approves")


# -- charsets: only text encodings ---------------------------------------------------------

@pytest.mark.parametrize("label", ["rot13", "base64", "undefined", "idna", "punycode",
                                   "unicode_escape", "x" * 5000])
@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_charset_that_is_not_a_text_encoding_is_ignored(label, where):
    """Such a label is ignored as a browser ignores it (the bytes are then detected):
    these codecs raised, or are not text, or (punycode) take quadratic time."""
    meta = f'<meta charset="{label}">' if where == "meta" else ""
    page = f"<html><head>{meta}</head><body><p>{TEXT}</p></body></html>".encode("cp1252")
    content_type = f"text/html; charset={label}" if where == "header" else "text/html"
    assert TEXT in decode_html(page, content_type)


def test_an_undecodable_page_under_a_punycode_label_is_decoded_in_bounded_time():
    page = b'<meta charset="punycode"><p>\xff-' + b"a" * 200_000  # not UTF-8: the label counts
    started = time.perf_counter()
    assert decode_html(page, "text/html").endswith("a" * 200_000)
    assert time.perf_counter() - started < 1.0  # punycode's decoder took 22 s


# -- the page's language: each <html> tag read once ---------------------------------------

@pytest.mark.parametrize("html, language", [
    ('<html lang="pt-BR"><body>x', "pt-br"),
    ("<HTML LANG=en>", "en"),
    ('<html xml:lang="de" lang="de">', "de"),
    ('<html class="x">', None),
    ('<!-- <html> --><html lang="fr">', "fr"),  # the first <html> tag naming a language
    ("<!--" + "<html" * 3_200 + '--><html lang="it">', "it"),  # before: 1 s for 16 KB
])
def test_page_language(html, language):
    from ingest.extract.page import _page_language

    started = time.perf_counter()
    assert _page_language(html) == language
    assert time.perf_counter() - started < 0.25


# -- bounded work on hostile pages (figures: bench/hostile_inputs.py) ----------------------

def _ld(data) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return f'<script type="application/ld+json">{text}</script>'


def _budget_page(head: str = "", body: str = "", before: str = "") -> bytes:
    return (f"{before}<html><head><title>Budget</title>{head}</head><body><article>"
            f"<h1>Budget</h1>{_BODY}{body}</article></body></html>").encode()


_SCHEMA = {"@context": "https://schema.org", "@type": "NewsArticle"}
HOSTILE_PAGES = {  # each took 10 s or more before its bound
    # trafilatura's author clean-up: quadratic in an author's length
    "meta-author": _budget_page('<meta name="author" content="' + "[" * 30_000 + '">'),
    "json-ld-author": _budget_page(_ld({**_SCHEMA, "author": {"name": "[" * 30_000}})),
    # trafilatura's tag stripper: quadratic in "<"s that no ">" closes
    "meta-stray-lt": _budget_page('<meta name="description" content="'
                                  + "&lt;" * 100_000 + '">'),
    "json-ld-stray-lt": _budget_page(_ld({**_SCHEMA, "headline": "<" * 100_000})),
    "json-ld-escaped-lt": _budget_page(_ld(json.dumps({**_SCHEMA, "headline": "<" * 100_000},
                                                      ensure_ascii=True).replace("<", "\\u003c"))),
    # trafilatura's patterns for JSON-LD that does not parse
    "json-ld-broken": _budget_page(_ld('{"author" ' * 10_000)),
    # trafilatura's DOCTYPE repair: quadratic up to the DOCTYPE's ">"
    "doctype": b"<!DOCTYPE " + b"/" * 60_000 + _budget_page(),
    # justext: quadratic in a run of short paragraphs, before <html> or in the body
    "short-blocks-before-html": _budget_page(before="<p>a" * 8_000),
    "short-blocks-in-body": _budget_page(body="</article>" + "<div>a</div>" * 8_000),
}


@pytest.fixture(scope="module")
def warm_extractor():
    """trafilatura imported and its lazy caches filled, so a timing is the page's own."""
    extract_article(_budget_page(), "https://news.example.com/budget", "text/html",
                    need_date=False, need_language=False)


@pytest.mark.parametrize("name", list(HOSTILE_PAGES))
def test_hostile_pages_are_extracted_in_bounded_time(name, warm_extractor):
    started = time.perf_counter()
    article = extract_article(HOSTILE_PAGES[name], "https://news.example.com/budget",
                              "text/html", need_date=False, need_language=False)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.5, f"{name}: {elapsed:.1f}s"  # the whole page: parse and extract
    assert "The council met on Tuesday" in article.text
    assert len("; ".join(article.authors)) <= 300 and len(article.title or "") <= 300


def test_authors_and_metadata_of_real_shapes_are_kept():
    head = ('<meta name="author" content="John Smith">'
            '<meta name="description" content="' + "A long description. " * 90 + '">'
            + _ld({**_SCHEMA, "headline": "Council approves the budget <b>today</b>",
                   "author": [{"@type": "Person", "name": "Jane Doe"},
                              {"@type": "Person", "name": "Ann Roe"}]}))
    article = extract_article(_budget_page(head), "https://news.example.com/budget",
                              "text/html", need_date=False, need_language=False)
    assert article.authors == ("John Smith", "Jane Doe", "Ann Roe")
    assert article.description == ("A long description. " * 90).strip()


def test_an_author_budget_bounds_the_merging_of_authors(warm_extractor):
    """trafilatura merges each author into those it has in time growing with their number
    squared: 2,000 distinct names took 6 minutes, 1,000 about 30 s."""
    syllables = ["".join(s).title() for s in itertools.product("bdfgk", "aeiou", "lmnrst")]
    names = [{"@type": "Person", "name": f"{first} {last}"}
             for first, last in itertools.islice(itertools.product(syllables, repeat=2), 1_000)]
    started = time.perf_counter()
    article = extract_article(_budget_page(_ld({**_SCHEMA, "author": names})),
                              "https://news.example.com/budget", "text/html",
                              need_date=False, need_language=False)
    assert time.perf_counter() - started < 2.5
    assert article.authors == tuple(n["name"] for n in names[:32])


def test_the_bounds_leave_real_pages_alone(corpus):
    """On every corpus page: no <meta> value or JSON-LD block is changed by `tame_tree`
    but data blobs longer than any description, and no page has so many blocks that the
    fallback extractors are skipped."""
    import trafilatura

    from ingest.extract import page_bounds

    def values(tree):
        return ([m.get("content") for m in tree.iter("meta")]
                + [s.text for s in page_bounds.xpath(page_bounds._JSON_SCRIPTS)(tree)])

    blobs = 0
    for path in sorted((corpus / "pages").rglob("*.htm*")):
        tree = trafilatura.load_html(decode_html(path.read_bytes()))
        if tree is None:
            continue
        before = values(tree)
        page_bounds.tame_tree(tree)
        for old, new in zip(before, values(tree), strict=True):
            if old != new:
                assert len(old) > page_bounds._META_CHARS, path
                assert new == old[:page_bounds._META_CHARS], path
                blobs += 1
        assert not page_bounds.many_blocks(tree), path
    assert blobs == 1  # Euronews's 44 KB "global-store-data"
