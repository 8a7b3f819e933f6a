"""Every built-in regex of ingest runs in bounded time on adversarial text.

The patterns are collected, not listed: every compiled pattern at module level in every
module of the package (alone, or in a tuple, list or dict), plus each entry of the footer
tables that footers.lines joins into one pattern. tests/helpers/redos.py builds the inputs from
each pattern itself and grows them until they reach the length or a search passes the
ceiling; a failure names the pattern ("footers.lines._CREDIT") and its slowest input.

Why the ceilings separate runaway from fine, on a machine as busy as CI may be: a pattern
that is linear on a line (250 characters, the longest a built-in footer rule looks at) or on
a document (50,000 characters, for the patterns that meet whole pages, feeds and fragments)
answers orders of magnitude below its ceiling, and a polynomial or exponential one orders
of magnitude above it (bench/patterns.py prints the figures).
Lines are what the footer stage gives its patterns: it checks a line's length first.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ingest
from helpers.redos import LINE_CEILING, footer_table_patterns, package_patterns, worst_case
from ingest.footers.rules import LONG_LINE

LINE = LONG_LINE
DOCUMENT, DOCUMENT_CEILING = 50_000, 0.25
# Packages whose patterns meet whole documents; and footers.lines' patterns that run on a
# line before (or without) a length check.
DOCUMENT_PACKAGES = ("extract.",)
UNCHECKED_LINE_PATTERNS = ("footers.lines._BULLET", "footers.lines._LIST_ITEM",
                           "footers.lines._SENTENCE_END")


MODULE_PATTERNS, IMPORT_ERRORS = package_patterns(ingest)
PATTERNS = {**MODULE_PATTERNS, **footer_table_patterns()}
DOCUMENT_PATTERNS = {name: p for name, p in PATTERNS.items()
                     if name.startswith(DOCUMENT_PACKAGES)
                     or name.split("[")[0] in UNCHECKED_LINE_PATTERNS}


def test_every_module_imports() -> None:
    assert not IMPORT_ERRORS, f"their patterns go unchecked: {IMPORT_ERRORS}"


def test_the_collection_finds_the_footer_tables_and_other_modules() -> None:
    names = set(PATTERNS)
    assert {"footers.lines._CREDIT", "footers.lines._WIRE[0]", "extract.htmltext._DOCTYPE",
            "footers.rules.CREDIT_LINES[3]", "footers.rules.RIGHTS_PHRASES['it'][0]"} <= names
    assert len({name.rsplit(".", 1)[0] for name in names}) >= 5


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_is_bounded_on_adversarial_lines(name: str) -> None:
    worst = worst_case(PATTERNS[name], LINE, LINE_CEILING)
    assert worst.seconds < LINE_CEILING, (
        f"{name} took {worst.seconds * 1000:.0f} ms on {len(worst.text)} characters: "
        f"{worst.text[:120]!r}")


@pytest.mark.parametrize("name", sorted(DOCUMENT_PATTERNS))
def test_document_pattern_is_bounded_on_long_text(name: str) -> None:
    worst = worst_case(DOCUMENT_PATTERNS[name], DOCUMENT, DOCUMENT_CEILING, thorough=False)
    assert worst.seconds < DOCUMENT_CEILING, (
        f"{name} took {worst.seconds * 1000:.0f} ms on {len(worst.text)} characters: "
        f"{worst.text[:120]!r}")


@pytest.mark.parametrize("pattern, kind", [
    (r"^(\w+\s?)+$", "exponential"),  # the shape of a user's footer pattern gone wrong
    (r"^\s*\s*\s*\s*!$", "quartic"),
])
def test_the_helper_finds_a_runaway_pattern_quickly(pattern: str, kind: str) -> None:
    started = time.perf_counter()
    worst = worst_case(re.compile(pattern), LINE, LINE_CEILING)
    assert worst.seconds > LINE_CEILING, kind
    assert time.perf_counter() - started < 30  # grown step by step, never run for hours


def test_the_helper_finds_a_super_linear_document_pattern() -> None:
    # cubic, not merely quadratic: a quadratic one crosses the ceiling only near DOCUMENT
    # characters, so on a fast machine it would pass as bounded
    worst = worst_case(re.compile(r"<[a-z][^>]*[^>]*>"), DOCUMENT, DOCUMENT_CEILING,
                       thorough=False)
    assert worst.seconds > DOCUMENT_CEILING and len(worst.text) < DOCUMENT


# -- htmltext: every feed title and summary --------------------------------------------------
RUNAWAY = 1.0  # the first two took 5 s to 30 s on 200 KB; they take milliseconds now


@pytest.mark.parametrize("fragment", ["<a" * 100_000, "<!DOCTYPE[" * 20_000,
                                      "<!DOCTYPE" * 20_000, "<" * 200_000],
                         ids=["tag-starts", "doctype-subsets", "doctypes", "angles"])
def test_html_to_text_is_linear_on_hostile_fragments(fragment: str) -> None:
    from ingest.extract.htmltext import html_to_text

    started = time.perf_counter()
    assert isinstance(html_to_text(fragment), str)
    assert time.perf_counter() - started < RUNAWAY


@pytest.mark.parametrize("fragment, text", [
    ("<html>", ""),  # a title written &lt;html&gt;: lxml's "too many bodies"
    ("<!DOCTYPE html><html>", ""),
    ("<b>x</b>\x0c", "x"),  # a control character: lxml refuses the string
    ("<a <b>c</b>", "c"),  # and markup it takes as it comes
    ('<!DOCTYPE x [<!ENTITY e "]>">]><p>kept</p>', "kept"),  # a "]>" in a quoted value
])
def test_html_to_text_of_markup_lxml_refuses(fragment: str, text: str) -> None:
    from ingest.extract.htmltext import html_to_text

    assert html_to_text(fragment) == text


_MARKUP = st.sampled_from(["<", ">", "</", "<!DOCTYPE", "[", "]", "<!--", "-->", "<html>",
                           "<body>", "<head>", "<p>", "&amp;", "&#0;", "&#x110000;", "&",
                           "\x00", "\ud800", "\x0c", '"', "'", "<![CDATA[", "]]>", "<?xml",
                           "?>", "<script>", "<frameset>", "a", " "])
# A fragment may open like a whole document ("<html>", a doctype) and hold no text at all.
_OPENING = st.sampled_from(["", "<html>", "<!DOCTYPE html>", "<html><head>", " <html>"])


@pytest.mark.fuzz
@given(_OPENING, st.one_of(st.lists(_MARKUP, max_size=6).map("".join),
                           st.lists(st.one_of(_MARKUP, st.text(max_size=8)), max_size=40)
                           .map("".join)))
def test_html_to_text_never_raises(opening: str, fragment: str) -> None:
    from ingest.extract.htmltext import html_to_text

    assert isinstance(html_to_text(opening + fragment), str)
