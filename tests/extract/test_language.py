"""A record's language: the text's own when it is long enough to tell, else the page's
declaration, else the feed's; the region of a declaration that agrees is kept. Rules, real
pages of the shared corpus, and one run of `ingest fetch` against a local site."""

from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import Item, read_records, rss, write_config
from ingest.extract.langid import MIN_TEXT, decide_language, detect_language, language_tag
from ingest.extract.page import extract_article

ENGLISH = ("The city council approved the new budget on Tuesday after a long debate about "
           "public transport, schools and the repair of the old bridge over the river. ")


@pytest.mark.parametrize("detected, page, feed, decided", [
    ("en", "de", "de", ("en", "text")),  # the text outweighs both declarations
    ("pt", "pt-br", "en", ("pt-BR", "text")),  # the region of a declaration that agrees
    ("pt", None, "pt_BR", ("pt-BR", "text")),
    ("en", "de-CH", "en-us", ("en-US", "text")),
    ("no", "nb-NO", None, ("nb-NO", "text")),  # Bokmål is Norwegian
    (None, "de-de", "en", ("de-DE", "page")),  # a short text: the page's declaration
    (None, None, "EN-gb", ("en-GB", "feed")),
    (None, "x", "English", (None, None)),  # not language tags
    (None, None, None, (None, None)),
])
def test_what_wins(detected, page, feed, decided):
    assert decide_language(detected, page=page, feed=feed) == decided


@pytest.mark.parametrize("value, tag", [
    ("en", "en"), ("EN", "en"), ("pt-br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"),
    ("es-419", "es-419"), (" it_IT ", "it-IT"), ("italiano", None), ("e", None), ("", None),
    ("en-" + "x" * 40, None),
])
def test_language_tags_in_their_usual_case(value, tag):
    assert language_tag(value) == tag


def test_a_declaration_stands_for_a_short_text_and_not_for_a_long_one():
    short = ENGLISH[:MIN_TEXT - 10]
    assert detect_language(short, declared=True) is None
    assert detect_language(short, declared=False) == "en"  # nothing declared: a guess
    assert detect_language(ENGLISH * 2, declared=True) == "en"
    assert detect_language("ok " * 100, declared=True) is None  # no confident guess


# -- real pages --------------------------------------------------------------------------

def _fundus(corpus, name: str):
    root = corpus / "pages" / "fundus"
    pair = next(p for p in json.loads((root / "html_to_expected.json").read_text())
                if f"/{name}_" in p["html"])
    return extract_article((root / pair["html"]).read_bytes(), pair["url"], "text/html",
                           need_date=False, need_authors=False)


@pytest.mark.parametrize("publisher, declared, decided", [
    ("HabariLeo", "en-us", ("sw", "text")),  # Swahili under an English template
    ("Isolezwe", "en", ("zu", "text")),  # isiZulu
    ("CorriereDellaSera", "it-it", ("it-IT", "text")),  # the text agrees: the region stays
])
def test_real_pages(corpus, publisher, declared, decided):
    article = _fundus(corpus, publisher)
    assert article.language == declared
    assert decide_language(article.detected_language, page=article.language, feed=None) == decided


def test_a_brazilian_page_stays_pt_br(corpus):
    path = corpus / "pages/trafilatura/tests/eval/correiobraziliense.com.br-poderes.html"
    article = extract_article(path.read_bytes(), "https://www.correiobraziliense.com.br/a",
                              "text/html", need_date=False, need_authors=False)
    assert article.language == "pt-br"
    assert decide_language(article.detected_language, page=article.language,
                           feed="en") == ("pt-BR", "text")


# -- through the pipeline ------------------------------------------------------------------

def _page(lang: str, text: str) -> bytes:
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>News</title>'
            f"</head><body><article><h1>News</h1><p>{text}</p></article></body></html>").encode()


def test_ingest_fetch_writes_the_texts_language_and_where_it_came_from(tmp_path):
    server = FaultServer().start()
    try:
        html = {"Content-Type": "text/html; charset=utf-8"}
        server.add("/long.html", _page("de", ENGLISH * 3), html)  # a German template
        server.add("/short.html", _page("de", ENGLISH[:120]), html)
        server.add("/br.html", _page("pt-BR", "A prefeitura aprovou nesta terça-feira o novo "
                                     "orçamento depois de um longo debate sobre transporte "
                                     "público, escolas e a reforma da ponte velha. " * 3), html)
        items = [Item("Long", server.url("/long.html"), "g1"),
                 Item("Short", server.url("/short.html"), "g2"),
                 Item("Brasil", server.url("/br.html"), "g3"),
                 Item("Feed text", server.url("/gone.html"), "g4", content=f"<p>{ENGLISH * 3}</p>"),
                 Item("Short feed text", server.url("/gone2.html"), "g5",
                      content=f"<p>{ENGLISH[:150]}</p>")]
        server.add("/feed.xml", rss(items, language="de"), {"Content-Type": "application/rss+xml"})
        config = write_config(tmp_path / "config.yaml", [("site", server.url("/feed.xml"))],
                              extract={"min_feed_text": 100})
        run = run_cli("fetch", "--config", str(config))
        assert run.returncode == 0, run.stderr
    finally:
        server.close()
    got = {r["title"]: (r["language"], r["language_source"], r["body_source"])
           for r in read_records(tmp_path / "out")}
    assert got == {"Long": ("en", "text", "page"), "Short": ("de", "page", "page"),
                   "Brasil": ("pt-BR", "text", "page"), "Feed text": ("en", "text", "feed"),
                   "Short feed text": ("de", "feed", "feed")}
