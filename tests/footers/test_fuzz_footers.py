"""Property tests of the footer stage on arbitrary text (hypothesis; marked ``fuzz``).

The lines mix random text with the pieces the footer tables are made of (agency names,
"©", separators, an accent that cleans to a space, rights phrases, credit openers), so
that hypothesis builds the near-misses the rules backtrack on. Properties: nothing but
ingest's own errors comes out, every call finishes within the profile's deadline (the
ceiling for runaway work), and the ANSA footer always goes while the body stays.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.footers.lines import is_head_meta, tail_credit
from ingest.footers.strip import (
    FooterRules,
    candidate_keys,
    count_batch,
    learnable_keys,
    line_key,
    merge_counts,
    strip_footers,
)

pytestmark = pytest.mark.fuzz

ANSA = "Riproduzione riservata © Copyright ANSA"
RULES = FooterRules.from_config(True, 2, {"example.com": [r"^segui \w+ su", r"newsletter$"]})
FRAGMENTS = (
    "ANSA", "AP", "ap", "dpa", "AFP", "Reuters", "EFE", "SDA", "sep", "Adnkronos", "LaPresse",
    "The Associated Press", "연합뉴스", "dpa-AFX", "©", "(c)", "Copyright", "/", " / ", ",",
    " , ", ";", "&", "-", " - ", "—", ":", ".", "!", "?", "(", ")", "|", "·", "•", " ", "  ",
    "\u00b4", "\u0301", "\u00a0", "&copy;", "&amp;", "&#169;", "\x00", "\t", "1", "2025",
    "3 DIC", "15:44", "#", "riproduzione riservata", "Riproduzione riservata",
    "All rights reserved", "Tous droits réservés", "Alle Rechte vorbehalten", "Reporting by ",
    "; Editing by ", "Additional reporting by ", " in Rome", "Mitarbeit: ", "Avec ",
    "Con información de ", " contributed to this report", " contributed reporting from ",
    " ha contribuito a questo articolo", "By ", "Von: ", "Published ", "Veröffentlicht am ",
    "13. Mai 2026", " um ", "3 min read", "Lesezeit 3 Minuten", "reading time: about ",
    "Fonte: ", "Quelle: ", "The-CNN-Wire", "(ANSA) - ROMA, ", "WASHINGTON (Reuters) - ",
    "Roma, 3 dicembre", "Jane Doe", "John SMITH", "Jan de Vries", "segui ANSA su",
    "newsletter", "word ",
)
# What a regex backtracks on: a few pieces that several parts of a rule match, repeated.
REPEATED = ("AP", "ANSA", "dpa", "sep", "/", ",", " , ", " ", "\u00b4", "!", "1", "word ",
            "Jane ", "-", ".")
LINE = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=30)
    .map("".join),
    st.tuples(st.sampled_from(REPEATED), st.lists(st.sampled_from(REPEATED), min_size=1,
                                                   max_size=3), st.integers(1, 70),
              st.sampled_from(REPEATED))
    .map(lambda t: t[0] + "".join(t[1]) * t[2] + t[3]),
)
TEXT = st.lists(LINE, max_size=14).map("\n".join)


def own_errors_only(func, *args, **kwargs):
    """``func``'s result; an ingest error is allowed out (None), anything else fails."""
    try:
        return func(*args, **kwargs)
    except IngestError:
        return None


@given(st.lists(TEXT, min_size=1, max_size=3), st.sampled_from(["example.com", "ansa.it"]))
def test_footer_stage_takes_any_text(texts: list[str], site: str) -> None:
    batch = own_errors_only(count_batch, texts)
    own_errors_only(learnable_keys, texts)
    learned = merge_counts({}, batch or {})
    for text in texts:
        own_errors_only(candidate_keys, text)
        cleaned = own_errors_only(strip_footers, text, learned=learned, rules=RULES, site=site)
        assert cleaned is None or set(cleaned.removed) <= set(text.split("\n"))


@given(LINE)
def test_line_functions_take_any_line(line: str) -> None:
    own_errors_only(line_key, line)
    own_errors_only(is_head_meta, line)
    assert own_errors_only(tail_credit, line) in (None, "wire", "contributor")


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzàèéìòù", min_size=4, max_size=10)
# A body sentence: arbitrary words after an opener no head rule takes ("Secondo ...", not
# a label, byline or date), ending like prose.
SENTENCE = st.lists(WORD, min_size=3, max_size=14).map(
    lambda words: "Secondo " + " ".join(words) + ".")


@given(st.lists(SENTENCE, min_size=1, max_size=8, unique=True))
def test_the_ansa_footer_goes_and_the_body_stays(body: list[str]) -> None:
    cleaned = strip_footers("\n".join(body + [ANSA]), learned={}, rules=FooterRules(),
                            site="ansa.it")
    assert cleaned.text == "\n".join(body)
    assert cleaned.removed == (ANSA,) and cleaned.rights == ANSA
