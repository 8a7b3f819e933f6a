"""Footer and boilerplate removal: built-in notices, learned per-site lines, repeats.

Pure functions over trafilatura's plain text (lines separated by "\\n"). Only the head
and tail runs are touched: lines are peeled from each end inward while they are
footers, so nothing inside the body is removed (except later exact repeats of a line).
The tables are in footer_rules.py; per-site counts live in the state store:

    stored = store.footer_counts(site)
    batch = count_batch(texts)                       # this batch's new articles
    learned = merge_counts(stored, batch)
    cleaned = [strip_footers(t, learned=learned, rules=rules, site=site) for t in texts]
    store.add_footer_counts(site, batch)
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ingest import footer_rules as R
from ingest.errors import ConfigError
from ingest.models import Cleaned

_ACCENTS = re.compile("[\u0300-\u036f]")  # combining marks of Latin, Greek, Cyrillic letters
_SYMBOLS = str.maketrans({"™": " ", "®": " ", "Ⓒ": "©"})


def _unaccent(s: str) -> str:
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", s)))


def _clean(line: str) -> str:
    """Entities decoded, NFKC, whitespace (NBSP included) collapsed."""
    s = unicodedata.normalize("NFKC", html.unescape(line).translate(_SYMBOLS))
    return " ".join(s.split())


def fold(line: str) -> str:
    """The form the built-in rules match: cleaned, casefolded, accents dropped."""
    return _unaccent(_clean(line).casefold())


def _alt(words) -> str:
    return "|".join(sorted(set(words), key=len, reverse=True))


_AG = _alt(R.AGENCIES)
_MONTHS = _alt(m for names in R.MONTHS.values() for m in names.split())
_DAYS = _alt(d for names in R.WEEKDAYS.values() for d in names.split())
_fmt = dict(agencies=_AG, months=_unaccent(_MONTHS))
_MARK = re.compile("|".join(m.format(**_fmt) for m in R.MARKS))
_ALNUM = "a-z0-9\u00c0-\u052f"  # folded Latin, Greek, Cyrillic: CJK phrases need no boundary
_PHRASE = re.compile("|".join(rf"(?<![{_ALNUM}])(?:{_unaccent(p)})(?![{_ALNUM}])"
                              for ps in R.RIGHTS_PHRASES.values() for p in ps))
_OPENING = re.compile(R.OPENING_MARK)
_FILLER = re.compile(rf"\b(?:{_AG}|{_alt(R.COMPANY_FORMS)})\b\.?|\d+")
_EDGE = re.compile("^[^\\w\ue000]*\ue000|\ue000[^\\w\ue000]*$")
_WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*")
_CREDIT = re.compile("|".join(c.format(**_fmt) for c in R.CREDIT_LINES))
_DATELINE = re.compile("|".join(d.format(**_fmt) for d in R.DATELINES))
_DATE_WORD = re.compile(rf"(#[\s.]*)?\b({_MONTHS})\b\.?(?(1)|(?=[\s,]*#))")
_DAY_WORD = re.compile(rf"\b(?:{_DAYS})\b(?=[\s,]*(?:#|{re.escape(R.MONTH_TOKEN)}))")
_LIST_ITEM = re.compile(r"[-*•|]|\d+[.)]\s")
_SENTENCE_END = re.compile(r"[.!?…][\"'»”’)]*$")
_KEY_TRIM = " .,;:!?-–—|·•*\"'«»“”„‘’()[]{}/\\_"


@dataclass(frozen=True)
class FooterRules:
    """Config ``footers``: learning on/off, K, and extra regexes per host."""

    learn: bool = True
    min_count: int = 3  # K: articles of one site a line must recur in
    site_patterns: Mapping[str, tuple[re.Pattern, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, learn: bool, min_count: int,
                    sites: Mapping[str, Sequence[str]]) -> FooterRules:
        compiled: dict[str, tuple[re.Pattern, ...]] = {}
        for host, patterns in sites.items():
            found = []
            for i, pattern in enumerate(patterns):
                try:
                    found.append(re.compile(pattern, re.IGNORECASE))
                except re.error as exc:
                    raise ConfigError(
                        f"footers.sites.{host}[{i}]: {pattern!r} is not a valid regular "
                        f"expression ({exc}); fix it or remove it") from exc
            compiled[_host(host)] = compiled.get(_host(host), ()) + tuple(found)
        return cls(learn=learn, min_count=min_count, site_patterns=compiled)

    def patterns_for(self, site: str) -> tuple[re.Pattern, ...]:
        """Patterns of ``site`` and of every parent domain (a host and its subdomains)."""
        parts = _host(site).split(".")
        return tuple(p for i in range(len(parts))
                     for p in self.site_patterns.get(".".join(parts[i:]), ()))


def _host(host: str) -> str:
    host = host.strip().strip(".").lower()
    return host[4:] if host.startswith("www.") else host


# -- classifying one line ------------------------------------------------------------------
def is_notice(line: str) -> bool:
    """A short line dominated by a copyright / rights-reserved notice."""
    f = fold(line)
    mark = _MARK.search(f)
    if len(f) > R.LONG_LINE or not (mark or _PHRASE.search(f)):
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


def line_key(line: str) -> str:
    """The learned key: casefolded, digits → '#', dates normalised, ends trimmed."""
    s = re.sub(r"\d+", "#", _clean(line).casefold())
    s = _DATE_WORD.sub(lambda m: (m.group(1) or "") + R.MONTH_TOKEN, s)
    return _DAY_WORD.sub(R.DAY_TOKEN, s).strip(_KEY_TRIM)


def _learnable(line: str) -> bool:
    s = line.strip()
    return (0 < len(s) <= R.LEARN_MAX_CHARS and _WORD.search(s) is not None
            and not is_dateline(s))


# -- learning ------------------------------------------------------------------------------
def _runs(lines: Sequence[str]) -> list[int]:
    """Indices of the head run and tail run: the first/last few non-blank lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:R.HEAD_RUN]) | set(filled[-R.TAIL_RUN:]))


def candidate_keys(text: str) -> dict[str, str]:
    """``{key: original line}`` for the head/tail-run lines eligible for learning."""
    lines = text.split("\n")
    found: dict[str, str] = {}
    for i in _runs(lines):
        if _learnable(lines[i]) and (key := line_key(lines[i])):
            found.setdefault(key, lines[i].strip())
    return found


def count_batch(texts: Sequence[str]) -> dict[str, tuple[int, str]]:
    """``{key: (articles of the batch it occurs in, a sample line)}``."""
    counts: dict[str, tuple[int, str]] = {}
    for text in texts:
        for key, line in candidate_keys(text).items():
            n, sample = counts.get(key, (0, line))
            counts[key] = (n + 1, sample)
    return counts


def merge_counts(stored: Mapping[str, int],
                 batch: Mapping[str, tuple[int, str]]) -> dict[str, int]:
    """Stored counts plus this batch's, as ``strip_footers`` wants them."""
    merged = dict(stored)
    for key, (n, _sample) in batch.items():
        merged[key] = merged.get(key, 0) + n
    return merged


# -- stripping -----------------------------------------------------------------------------
def _classifier(learned: Mapping[str, int], min_count: int,
                patterns: Sequence[re.Pattern]) -> Callable[[str], str | None]:
    """``kind(line)``: "notice", "credit", "pattern", "learned" or None (keep)."""
    def kind(line: str) -> str | None:
        clean = _clean(line)
        if is_dateline(clean):
            return None
        if any(p.search(clean) and (len(clean) <= R.LONG_LINE or p.fullmatch(clean))
               for p in patterns):
            return "pattern"
        if is_notice(clean):
            return "notice"
        if is_credit(clean):
            return "credit"
        if learned and _learnable(clean) and learned.get(line_key(clean), 0) >= min_count:
            return "learned"
        return None
    return kind


def _peel_tail(lines: Sequence[str], kind: Callable[[str], str | None]) -> dict[int, str]:
    """Footers peeled from the end inward. A few short lines after a notice or a wire
    credit ("Terms", "Privacy Policy.") go with it; unconfirmed, they stop the peel."""
    drop: dict[int, str] = {}
    held: list[int] = []
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].strip():
            continue
        k = kind(lines[i])
        if k:
            drop[i] = k
            if k in ("notice", "credit"):
                drop.update((h, "trailer") for h in held)
                held = []
        elif len(held) < R.TRAILER_MAX_LINES and len(lines[i].strip()) <= R.TRAILER_MAX_CHARS:
            held.append(i)
        else:
            break
    return {i: k for i, k in drop.items() if not held or i > held[0]}


def _peel_head(lines: Sequence[str], kind: Callable[[str], str | None],
               stop: int) -> dict[int, str]:
    drop: dict[int, str] = {}
    for i in range(stop):
        if not lines[i].strip():
            continue
        if not (k := kind(lines[i])):
            break
        drop[i] = k
    return drop


def _repeats(lines: Sequence[str], drop: Mapping[int, str]) -> dict[int, str]:
    """Copies of removed rule lines anywhere (a footer printed twice goes twice); later
    exact repeats of sentences and long lines, except list items and table rows."""
    footers = {_clean(lines[i]) for i, k in drop.items() if k in ("notice", "credit", "pattern")}
    seen: set[str] = set()
    found: dict[int, str] = {}
    for i, line in enumerate(lines):
        clean = _clean(line)
        if i in drop or not clean:
            continue
        if clean in footers or (clean in seen and _paragraph(clean)):
            found[i] = "repeat"
        seen.add(clean)
    return found


def _paragraph(clean: str) -> bool:
    return not _LIST_ITEM.match(clean) and (len(clean) >= R.REPEAT_ANY_CHARS or (
        len(clean) >= R.REPEAT_MIN_CHARS and _SENTENCE_END.search(clean) is not None))


def _drops(lines: list[str], learned: Mapping[str, int], rules: FooterRules,
           site: str) -> dict[int, str]:
    """{line index: why} for the head/tail footer runs and repeated lines."""
    kind = _classifier(learned, rules.min_count, rules.patterns_for(site))
    drop = _peel_tail(lines, kind)
    drop.update(_peel_head(lines, kind, min(drop, default=len(lines))))
    drop.update(_repeats(lines, drop))
    return drop


def strip_footers(text: str, *, learned: Mapping[str, int], rules: FooterRules,
                  site: str, feed_rights: str | None = None) -> Cleaned:
    """Remove footer lines from the head and tail runs, and repeated lines.

    ``learned`` is ``merge_counts(...)``; ignored when ``rules.learn`` is off.
    ``rights`` is the first removed copyright notice, else ``feed_rights``.
    """
    lines = text.split("\n")
    drop = _drops(lines, learned if rules.learn else {}, rules, site)
    if len(drop) >= sum(1 for line in lines if line.strip()) and rules.learn:
        # Learned lines would take the whole body: the site's articles differ only
        # in numbers (bulletins, results) or one story came under several URLs.
        # Keep the story; take only what the fixed rules name.
        drop = _drops(lines, {}, rules, site)
    if not drop:
        return Cleaned(text=text, rights=feed_rights)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    notices = [" ".join(html.unescape(lines[i]).split()) for i in sorted(drop)
               if drop[i] == "notice"]
    return Cleaned(text="\n".join(kept),
                   removed=tuple(lines[i] for i in sorted(drop)),
                   rights=notices[0] if notices else feed_rights)
