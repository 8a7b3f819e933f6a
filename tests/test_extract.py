"""extract: browser-like decoding and trafilatura extraction (run in-process here)."""

from __future__ import annotations

import pytest

from ingest.errors import SkipEntry
from ingest.extract import decode_html, extract_article

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
    assert article.language == "it" and article.detected_language is None


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

    from ingest.extract import _byline_elements, _metadata

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
