"""Classifying one line for the footer stage: notices, credits, datelines, metadata, keys.

The tables are in rules.py; strip.py decides which lines of a text go. Built-in
notice, credit and dateline rules match the folded line (``fold``). Head metadata and
tail wire credits match the cleaned, unaccented line case-insensitively and keep its case,
because the names in a byline or credit are told from prose by their capitals.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import regex

from ingest.footers import rules as R

log = logging.getLogger("ingest.footers")

_ACCENTS = re.compile("[\u0300-\u036f]")  # combining marks of Latin, Greek, Cyrillic letters


def _unaccent(s: str) -> str:
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", s)))


@functools.lru_cache(maxsize=4096)  # each step cleans the line again: keys, peels, repeats
def clean(line: str) -> str:
    """Entities decoded, NFKC, whitespace (NBSP included) collapsed."""
    # str.replace, not str.translate: a few replaces cost less than a translation table.
    s = html.unescape(line).replace("™", " ").replace("®", " ").replace("Ⓒ", "©")
    s = unicodedata.normalize("NFKC", s)
    return " ".join(s.split())


@functools.lru_cache(maxsize=4096)  # each step folds the line again: keys, each peel rule
def fold(line: str) -> str:
    """The form the built-in rules match: cleaned, casefolded, accents dropped."""
    return _unaccent(clean(line).casefold())


def _alt(words) -> str:
    return "|".join(sorted(set(words), key=len, reverse=True))


def _any(patterns, **fmt) -> re.Pattern:
    return re.compile("|".join(_unaccent(p.format(**fmt)) for p in patterns), re.IGNORECASE)


_AG = _alt(R.AGENCIES)
_MONTHS = _alt(m for names in R.MONTHS.values() for m in names.split())
_DAYS = _alt(d for names in R.WEEKDAYS.values() for d in names.split())
_fmt = dict(agencies=_AG, months=_unaccent(_MONTHS))
_MARK = re.compile("|".join(m.format(**_fmt) for m in R.MARKS))
_ALNUM = "a-z0-9\u00c0-\u052f"  # folded Latin, Greek, Cyrillic: CJK phrases need no boundary
# The boundaries stand outside the alternation, the same for every phrase: each phrase then
# starts with its own first letter, which lets re skip the ones that cannot match at a
# position (a lookbehind at the start of each phrase would have every one tried there).
_PHRASE = re.compile(rf"(?<![{_ALNUM}])(?:"
                     + "|".join(f"(?:{_unaccent(p)})" for ps in R.RIGHTS_PHRASES.values()
                                for p in ps)
                     + rf")(?![{_ALNUM}])")
_OPENING = re.compile(R.OPENING_MARK)
_FILLER = re.compile(rf"\b(?:{_AG}|{_alt(R.COMPANY_FORMS)})\b\.?|\d++")
_EDGE = re.compile("^[^\\w\ue000]*+\ue000|\ue000[^\\w\ue000]*+$")
_WORD = re.compile(r"[^\W\d_]++(?:['’.-][^\W\d_]++)*+")
_CREDIT = re.compile("|".join(c.format(**_fmt) for c in R.CREDIT_LINES))
_DATELINE = re.compile("|".join(d.format(**_fmt) for d in R.DATELINES))
_DATE_WORD = re.compile(rf"(#[\s.]*+)?\b({_MONTHS})\b\.?(?(1)|(?=[\s,]*+#))")
_DAY_WORD = re.compile(rf"\b(?:{_DAYS})\b(?=[\s,]*+(?:#|{re.escape(R.MONTH_TOKEN)}))")
_DAY_FIGURE = re.compile(r"\d++(?:st|nd|rd|th|er)?")  # "3rd", "1er": the day goes whole
# The figures of a date, a time or a year; a learned key folds only these (see line_key).
_DATE_FIGURES = re.compile("|".join([
    r"(?<!\d)\d{1,4}+([./-])\d{1,2}+\1\d{1,4}+(?!\d)",  # 3.12.2025, 2025-12-03, 3/12/25
    r"(?<!\d)(?:[01]?\d|2[0-3])[:h][0-5]\d(?::[0-5]\d)?(?!\d)",  # 10:44, 10h44
    rf"(?<!\d)\d{{1,2}}+(?:st|nd|rd|th|er)?\.?\s*+(?=(?:{_MONTHS})\b)",  # 3 dicembre, 1er déc
    rf"\b(?:{_MONTHS})\b\.?\s*+\d{{1,2}}+(?:st|nd|rd|th)?(?!\d)",  # Dec. 3rd
    r"(?<!\d)(?:19|20)\d\d(?!\d)",  # 2025
    r"(?<!\d)\d++(?=[年月日時时分년월일시분])",  # 2025年1月14日 01時28分
]))
# (?<!\d), (?<!\s): a search starts a run only at its first character, not again at each
# later one (a run of n digits or spaces would be scanned n times).
_LIST_ITEM = re.compile(r"[-*•|]|(?<!\d)\d++[.)]\s")
_SENTENCE_END = re.compile(r"[.!?…][\"'»”’)]*+$")
_KEY_TRIM = " .,;:!?-–—|·•*\"'«»“”„‘’()[]{}/\\_"
# head metadata and tail credits (case kept)
_WIRE = tuple(_any([p], **_fmt) for p in R.WIRE_CREDITS)
_CONTRIBUTOR = tuple(_any([p], **_fmt) for p in R.CONTRIBUTOR_LINES)
_BULLET = re.compile(r"^[-–—*•·>]++\s+")
_META_SEP = re.compile(r"(?<!\s)\s++[|·•]\s++")
_STAMP = _any([rf"^(?:{_alt(ps for v in R.TIMESTAMP_LABELS.values() for ps in v)})(?!\w)\s*+:?"])
_DATE_CORE = _any([R.DATE_CORE], months=_fmt["months"])
_DATE_TOKENS = frozenset(_unaccent(" ".join([R.DATE_WORDS, *R.MONTHS.values(),
                                             *R.WEEKDAYS.values()])).split())
_DATE_GLUE = re.compile(r"[\d.,:;/|()\[\]\-–—]+")
_READING = _any(R.READING_TIME)
_BYLINE = _any([rf"^(?:{_alt(R.BYLINE_PREFIXES)})(?:\s*+:\s*+|\s++)"])
_TRANSLATION = _any([rf"^(?:{_alt(R.TRANSLATION_LABELS)})(?:\s*+:\s*+|\s++)"])
_LABELS = frozenset(_unaccent(label) for label in R.HEAD_LABELS)
_JOINER = re.compile(rf"(?:(?<!\s)\s++)?[,;&/]\s*+|(?<!\s)\s++(?:{_alt(R.NAME_JOINERS)})\s++")
_PARTICLES = frozenset(R.NAME_PARTICLES)
_WEEKDAYS = frozenset(_unaccent(" ".join(R.WEEKDAYS.values())).split())
_AGENCY = re.compile(rf"(?:{_AG})", re.IGNORECASE)


# -- copyright notices, wire credits, datelines --------------------------------------------
def is_notice(line: str) -> bool:
    """A short line dominated by a copyright / rights-reserved notice."""
    f = fold(line)
    if len(f) > R.LONG_LINE:
        return False
    mark = _MARK.search(f)
    if not (mark or _PHRASE.search(f)):
        return False
    if _OPENING.match(f):
        return True
    if len(f) > R.NOTICE_MAX_CHARS:
        return False
    skeleton = _FILLER.sub(" ", _PHRASE.sub(" \ue000 ", _MARK.sub(" \ue000 ", f)))
    # A phrase alone must sit at an edge: "... the 'all rights reserved' notice ..." is prose.
    return ((mark is not None or _EDGE.search(skeleton) is not None)
            and len(_WORD.findall(skeleton)) <= R.NOTICE_MAX_WORDS)


def is_credit(line: str) -> bool:
    """A wire credit or agency signature line ("Reporting by X; Editing by Y", "SDA/sep")."""
    f = fold(line)
    return len(f) <= R.NOTICE_MAX_CHARS and bool(_CREDIT.search(f))


def is_dateline(line: str) -> bool:
    """A story opener such as "(ANSA) - ROMA, 3 DIC -" or "WASHINGTON (Reuters) -"."""
    f = fold(line)
    return (len(f) <= R.DATELINE_MAX_CHARS and _DATELINE.search(f) is not None
            and not _MARK.search(f) and not _PHRASE.search(f) and _WORD.search(f) is not None)


# -- names, head metadata, tail credits ----------------------------------------------------
def _name(group: str) -> bool:
    """'Bill MCCARTHY', 'Jan de Vries', 'The Associated Press', 'CNN', 'dpa'."""
    words = group.strip(" .:()[]\"'“”«»").split()
    if len(words) > 1 and words[0].casefold() in R.NAME_ARTICLES:
        words = words[1:]
    caps, i = [], 0
    while i < len(words):  # particles are whole phrases: "von der", not "der" alone
        n = next((n for n in (2, 1) if " ".join(words[i:i + n]) in _PARTICLES), 0)
        caps += words[i:i + 1] if not n else []
        i += n or 1
    if not caps or not all(w[0].isupper() and not any(c.isdigit() for c in w) for w in caps):
        return len(words) == 1 and _AGENCY.fullmatch(words[0]) is not None
    if _unaccent(caps[0].casefold().rstrip(".,")) in _WEEKDAYS:
        return False  # "By Tuesday Morning"; months are first names too ("May", "Jan")
    return len(caps) >= 2 or (caps[0].isupper() and len(caps[0]) >= 2) or (
        _AGENCY.fullmatch(caps[0]) is not None)


def names(text: str) -> bool:
    """Only names: a few of them, joined by commas, "&" or "and" in several languages."""
    groups = [g for g in _JOINER.split(text.strip(" .")) if g.strip()]
    return (0 < len(groups) <= R.NAME_MAX and sum(len(g.split()) for g in groups)
            <= R.NAME_MAX_WORDS and all(_name(g) for g in groups))


def _timestamp(part: str) -> bool:
    label = _STAMP.match(part)
    rest = part[label.end():] if label else ""
    return (bool(rest.strip()) and _DATE_CORE.search(rest) is not None and all(
        w in _DATE_TOKENS or _STAMP.fullmatch(w) for w in
        _DATE_GLUE.sub(" ", _unaccent(rest.casefold())).split()))


def _meta_part(part: str) -> bool:
    byline = _BYLINE.match(part) or _TRANSLATION.match(part)
    return (_READING.match(part) is not None or _timestamp(part)
            or (byline is not None and names(part[byline.end():]))
            or fold(part).strip(" .:") in _LABELS)


def is_head_meta(line: str) -> bool:
    """A line of a story's head block: timestamp, reading time, byline, translation credit,
    kicker label ("- Veröffentlicht am 13. Mai 2026 um 15:44", "By Jane Doe | 3 min read")."""
    s = _BULLET.sub("", _unaccent(clean(line)))
    return (0 < len(s) <= R.META_MAX_CHARS and not is_dateline(line)
            and all(_meta_part(p) for p in _META_SEP.split(s)))


def tail_credit(line: str) -> str | None:
    """"wire" for a wire credit ("Additional reporting by X", "Avec AFP"), "contributor" for
    "X contributed to this report" (removed only before another footer), else None."""
    s = _unaccent(clean(line))
    if len(s) > R.NOTICE_MAX_CHARS or is_dateline(line):
        return None
    for kind, patterns in (("wire", _WIRE), ("contributor", _CONTRIBUTOR)):
        for p in patterns:
            if (m := p.match(s)) and (m.groupdict().get("names") is None or names(m["names"])):
                return kind
    return None


# -- learned keys, repeats -----------------------------------------------------------------
def line_key(line: str) -> str:
    """The learned key: casefolded, the figures of dates, times and years → '#', month and
    weekday names beside them → tokens, ends trimmed. Other figures stay: a line that comes
    back with other figures (an update of a story: a toll, a score) counts apart, while a
    footer's timestamp counts as one line whatever its date."""
    s = _DATE_FIGURES.sub(lambda m: _DAY_FIGURE.sub("#", m[0]), clean(line).casefold())
    if "#" in s:  # both date patterns need a number beside the word
        s = _DATE_WORD.sub(lambda m: (m.group(1) or "") + R.MONTH_TOKEN, s)
        s = _DAY_WORD.sub(R.DAY_TOKEN, s)
    return s.strip(_KEY_TRIM)


def learnable(line: str) -> bool:
    s = line.strip()
    return (0 < len(s) <= R.LEARN_MAX_CHARS and _WORD.search(s) is not None
            and not is_dateline(s))


def is_paragraph(cleaned: str) -> bool:
    """A line whose later exact repeat is template noise: a sentence or a long line, not a
    list item or table row."""
    return not _LIST_ITEM.match(cleaned) and (len(cleaned) >= R.REPEAT_ANY_CHARS or (
        len(cleaned) >= R.REPEAT_MIN_CHARS and _SENTENCE_END.search(cleaned) is not None))


# -- site patterns (config footers.sites) ---------------------------------------------------
class SitePattern(NamedTuple):
    """A user's footer regex and the configured host it came from (named in warnings)."""

    host: str
    pattern: regex.Pattern


# (host, pattern) of the site patterns that have timed out in this process: each is
# reported once. Module-level because the rules travel to worker processes pickled, one
# copy per job: a set kept on them would start empty every time.
_timed_out: set[tuple[str, str]] = set()


def site_pattern_matches(site_pattern: SitePattern, line: str) -> bool:
    """A cleaned line is a footer by a site pattern: found in a line up to LONG_LINE,
    matching a longer one whole. A line too long to look at, or one the pattern takes
    longer than SITE_PATTERN_TIMEOUT on, is not matched."""
    if len(line) > R.SITE_PATTERN_MAX_CHARS:
        return False
    try:
        if len(line) <= R.LONG_LINE:
            return site_pattern.pattern.search(line, timeout=R.SITE_PATTERN_TIMEOUT) is not None
        return site_pattern.pattern.fullmatch(line, timeout=R.SITE_PATTERN_TIMEOUT) is not None
    except TimeoutError:
        _report_timeout(site_pattern)
        return False


def _report_timeout(site_pattern: SitePattern) -> None:
    key = (site_pattern.host, site_pattern.pattern.pattern)
    if key not in _timed_out:
        _timed_out.add(key)
        log.warning("footers: footers.sites.%s: the pattern '%s' took longer than %g s on a "
                    "line, so the lines it is that slow on are kept; simplify it (avoid "
                    "nested repeats such as (\\w+\\s?)+)", site_pattern.host,
                    site_pattern.pattern.pattern, R.SITE_PATTERN_TIMEOUT)


def classifier(learned: Mapping[str, int], min_count: int,
               patterns: Sequence[SitePattern]) -> Callable[[str], str | None]:
    """``kind(line)``: "notice", "credit", "pattern", "learned" or None (keep)."""
    def kind(line: str) -> str | None:
        c = clean(line)
        if is_dateline(c):
            return None
        if any(site_pattern_matches(p, c) for p in patterns):
            return "pattern"
        if is_notice(c):
            return "notice"
        if is_credit(c):
            return "credit"
        if learned and learnable(c) and learned.get(line_key(c), 0) >= min_count:
            return "learned"
        return None
    return kind
