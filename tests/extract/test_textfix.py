"""Mojibake repair (ingest.extract.textfix): what is repaired, what is never touched, and
that a feed's and a page's texts pass through it before anyone reads them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.extract.feed import parse_feed
from ingest.extract.page import extract_article
from ingest.extract.textfix import Repairs, repair

REPAIRED = [
    ("donâ€™t stop", "don’t stop"),  # UTF-8 read as cp1252
    ("Das Paket enthÃ¤lt Bücher", "Das Paket enthält Bücher"),  # read as Latin-1; the rest is clean
    ("donâ\x80\x99t", "don’t"),  # read as Latin-1: the quote's bytes as C1 controls
    ("enth&Atilde;&curren;lt", "enthält"),  # that mojibake escaped once more than meant
    ("Ã©tÃ© and &Atilde;&copy;tÃ&copy;", "été and été"),
    ("\x93Sì\x94, disse", "“Sì”, disse"),  # cp1252 quotes decoded as Latin-1
    ("Apple’s rules: it doesnâ€™t matter", "Apple’s rules: it doesn’t matter"),  # mixed
    ("Пример: ÐŸÑ€Ð¸Ð¼ÐµÑ€", "Пример: Пример"),
    ("line one\r\nl’Ã©tÃ©\n", "line one\r\nl’été\n"),  # per line; the line breaks kept
]

CLEAN = [
    "“Sì” — l’Italia «dice» ‘no’",  # curly quotes
    "ﬁnal ﬂow: ﬀ",  # ligatures
    "ＣＪＫ：東京　２０２５年",  # full width, ideographic space
    "Cafe\u0301 and re\u0301sume\u0301",  # NFD accents
    "Use &amp; for &, and &lt;p&gt; for a paragraph; &eacute; is é",  # entities in prose
    "Tom &amp;amp; Jerry",
    "Prices: £5, €6, ½ kg, 10³ m, µs, Ⅸ",  # NFKC would change several
    "São Paulo – “Não” · naïve café · Straße · Ærø · Þórr",
    "ÎNĂLȚARE, ÂN, BOŞ, İstanbul, Ã la carte?",
    "SÃO PAULO – NÃO, CORAÇÃO · ÂGE, CRÂNE, PÂTÉ · «Ça» © 2025 ® °C ±5",  # upper case
    "a\tb\x0cc\u200bd\u00ade\r\nf",  # controls, a soft hyphen, CRLF
    "\x1b[31mred\x1b[0m",  # a terminal escape is not mojibake
    "Stra\ufffde and \ufffd alone",  # replacement characters of the source
    "日本語のテキスト、中文文本，한국어 텍스트",
    "",
]


@pytest.mark.parametrize(("spoiled", "expected"), REPAIRED)
def test_mojibake_is_repaired(spoiled, expected):
    assert repair(spoiled) == (expected, True)


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_unchanged(text):
    assert repair(text) == (text, False)


@pytest.mark.parametrize(("spoiled", "expected"), [
    ("enthÃ¤lt, Stra\ufffde", "enthält, Stra\ufffde"),  # the sloppy codecs carry it as 0x1A
    ("donâ€™t \ufffd", "don’t \ufffd"),
    ("â€œquoteâ€\ufffd", "“quote\ufffd"),  # a lossy sequence: its "�" is what is left of it
])
def test_replacement_characters_of_the_source_stay(spoiled, expected):
    fixed, _ = repair(spoiled)
    assert fixed == expected and "\x1a" not in fixed


def test_only_the_encoding_fixes_run_beside_mojibake():
    """ftfy's other fixes would apply to the same line; none of them does."""
    spoiled = "enthÃ¤lt “ﬁne” ＡＢ e\u0301 &amp; \x0c"
    assert ftfy.fix_text(spoiled) != "enthält “ﬁne” ＡＢ e\u0301 &amp; \x0c"
    assert repair(spoiled) == ("enthält “ﬁne” ＡＢ e\u0301 &amp; \x0c", True)


def test_long_lines_are_repaired_in_pieces_cut_at_spaces():
    words = "Ã¤ " * 30_000  # one line of 90,000 characters: several pieces
    fixed, changed = repair(words + "\n" + "x" * 50_000)
    assert changed and fixed == "ä " * 30_000 + "\n" + "x" * 50_000


def test_repairs_count_and_stop_at_their_budget():
    fix = Repairs(budget=20)
    assert fix("plain ascii") == "plain ascii"  # the pre-check: costs no budget
    assert fix("enthÃ¤lt") == "enthält" and fix.count == 1
    assert fix("clean naïve") == "clean naïve" and fix.count == 1
    assert fix("JosÃ© and more text") == "JosÃ© and more text"  # past the budget: as it is
    assert fix.optional(None) is None and fix.count == 1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_repair_is_idempotent(text):
    once, _ = repair(text)
    assert repair(once) == (once, False)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=200))
def test_clean_ascii_is_never_lengthened(text):
    fixed, changed = repair(text)
    assert len(fixed) <= len(text)
    assert fixed == text or "&" in text


# -- the stages --------------------------------------------------------------------------

DOUBLE = "enth&amp;Atilde;&amp;curren;lt"


def test_a_double_escaped_feed_gives_the_text_and_counts_it():
    """A feed's texts are HTML: one level of entities is markup, and "&amp;amp;amp;" is a
    literal "&amp;" in the text."""
    spoiled = "donâ€™t"  # not Latin-1: feedparser does not repair it itself
    xml = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
           f"<copyright>{spoiled} 2025</copyright><item><title>Was {DOUBLE}?</title>"
           f"<link>http://127.0.0.1/a</link><author>{spoiled}</author>"
           f"<description>Das Paket {DOUBLE} &amp;amp;amp; mehr.</description></item>"
           "<item><title>Clean &amp;amp;amp; “quoted”</title><link>http://127.0.0.1/b</link>"
           "</item></channel></rss>")
    parsed = parse_feed(xml.encode(), url="http://127.0.0.1/feed")
    first, second = parsed.entries
    assert (first.title, first.summary) == ("Was enthält?", "Das Paket enthält &amp; mehr.")
    assert first.authors == ("don’t",) and first.repaired == 3
    assert (second.title, second.repaired) == ("Clean &amp; “quoted”", 0)
    assert (parsed.rights, parsed.repaired) == ("don’t 2025", 1)


def test_a_page_with_mojibake_gives_the_repaired_text():
    """The extractor decodes entities twice: a literal "&amp;" is "&amp;amp;amp;" in the
    page, and mojibake escaped three times reaches the repair as entities."""
    body = ("Der Bericht enthÃ¤lt die Zahlen des Jahres, und die Stadt sagt, sie "
            "wird die StraÃŸen im Sommer erneuern. ")
    html = ("<html><head><title>Was enth&amp;Atilde;&amp;curren;lt der Bericht?</title>"
            "<meta name='author' content='JÃ¼rgen MÃ¼ller'></head><body><article>"
            f"<p>{body * 3}</p><p>Die Leser fragen: was enth&amp;amp;Atilde;&amp;amp;curren;lt"
            " er noch? &amp;amp;amp; ist kein Fehler.</p></article></body></html>").encode()
    article = extract_article(html, "http://127.0.0.1/p", "text/html; charset=utf-8",
                              need_date=False, need_language=False, need_authors=False)
    assert "enthält die Zahlen" in article.text and "Straßen" in article.text
    assert "was enthält er noch? &amp; ist kein Fehler." in article.text
    assert article.title == "Was enthält der Bericht?"
    assert article.authors == ("Jürgen Müller",)
    assert article.repaired == 3  # the body, the title and the byline


# -- the shared corpus's ground truth ----------------------------------------------------

_C1 = re.compile("[\x80-\x9f]")


def _ground_truth(pages: Path) -> list[str]:
    """Titles and bodies of every ground-truth file of the page sets."""
    texts = []
    fundus = pages / "fundus"
    for e in json.loads((fundus / "html_to_expected.json").read_text()):
        t = json.loads((fundus / e["expected"]).read_text())[e["key"]]
        texts.append(t.get("title") or "")
        texts += t["body"].get("summary", []) + [
            p for s in t["body"].get("sections", []) for p in s.get("headline", []) + s["paragraphs"]]
    data = pages / "newspaper4k/tests/data"
    texts += [txt.read_text() for txt in (data / "txt").glob("*.txt")]
    texts += [json.loads(m.read_text()).get("title") or "" for m in (data / "metadata").glob("*.json")]
    for case in (pages / "goose3/tests/data/content").glob("*.json"):
        expected = json.loads(case.read_text())["expected"]
        texts += [expected.get("cleaned_text") or "", expected.get("title") or ""]
    for t in json.loads((pages / "trafilatura/tests/evaldata.json").read_text()).values():
        texts += [t.get("title") or ""] + t.get("with", []) + t.get("without", [])
    return [t for t in texts if t]


def test_no_clean_ground_truth_text_changes(corpus):
    """Every title, body and snippet of the corpus's ground truth: the clean ones come out
    as they went in; the few with C1 controls (cp1252 read as Latin-1) come out without."""
    texts = _ground_truth(corpus / "pages")
    assert len(texts) > 5000
    changed = [t[:80] for t in texts if not _C1.search(t) and repair(t)[0] != t]
    assert changed == []
    spoiled = [t for t in texts if _C1.search(t)]
    assert spoiled and all(not _C1.search(repair(t)[0]) for t in spoiled)
