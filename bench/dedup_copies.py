"""Copies of an article as other outlets make them, for the dedup bench's labelled set.

Each copy of an original: its first sentence rewritten (half its words replaced) or a new
one added before it (a sentence of another story of the same site); a share of its words
changed (replaced by words of the same site, deleted, or new ones inserted); the last 10 to
30 % cut off; paragraphs merged or split; another outlet's byline put before it and a
footer after it. Texts of scripts without spaces are edited by characters, not words.

Everything is drawn from one seeded random generator: the set is the same on every run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

CHANGE_RATES = (0.0, 0.02, 0.05, 0.10, 0.15, 0.20)  # one copy of each original per rate
TRIM = (0.10, 0.30)
_SENTENCE = {False: (5, 40), True: (12, 80)}  # a lead's length: words, or characters
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
BYLINES = ["By Jane Doe, Staff Writer", "Von unserem Korrespondenten", "Di Redazione Online",
           "Por Agencia EFE", "Par notre envoyée spéciale", "From wire reports",
           "記者：王小明", "Associated Press"]
FOOTERS = [
    "Reporting by Maria Rossi; Editing by John Smith",
    "Copyright 2025 The Associated Press. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed.",
    "Riproduzione riservata © Copyright ANSA",
    "© AFP 2025. Tous droits de reproduction réservés.",
    "(dpa) Alle Rechte vorbehalten.",
    "This article originally appeared on our partner site. Follow us on Facebook and X for "
    "the latest news.",
    "Additional reporting by staff writers. Sign up for our morning newsletter.",
    "（新华社）版权所有，未经授权不得转载。",
]


@dataclass(frozen=True)
class Site:
    """What a copy of one site's story borrows from the site: words and other stories'
    sentences."""

    words: Sequence[str]
    sentences: Sequence[str]


def make_copy(text: str, spaceless: bool, rate: float, site: Site, rng: random.Random) -> str:
    """A copy with ``rate`` of the words (or characters) of ``text`` changed."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    paragraphs[0] = _new_lead(paragraphs[0], spaceless, site, rng)
    units = [_units(p, spaceless) for p in paragraphs]
    for _ in range(round(rate * sum(map(len, units)))):
        _edit(units, site.words, rng)
    units = _trim(units, rng.uniform(*TRIM))
    units = _merge_or_split(units, rng)
    body = "\n".join(_join(u, spaceless) for u in units if u)
    lines = [rng.choice(BYLINES), body, rng.choice(FOOTERS)]
    if rng.random() < 0.5:
        lines.append(rng.choice(FOOTERS))
    return "\n".join(lines)


def site_of(texts: Sequence[str], spaceless: Sequence[bool]) -> Site:
    words = sorted({w for t, s in zip(texts, spaceless, strict=True) for w in _units(t, s)})
    sentences = [sentence for t, s in zip(texts, spaceless, strict=True)
                 for sentence in _SENTENCE_END.split(t)
                 if _SENTENCE[s][0] <= len(_units(sentence, s)) <= _SENTENCE[s][1]]
    return Site(words or ["word"], sentences or ["The news came on Monday."])


def _new_lead(first: str, spaceless: bool, site: Site, rng: random.Random) -> str:
    parts = _SENTENCE_END.split(first, maxsplit=1)
    lead, rest = parts[0], parts[1] if len(parts) > 1 else ""
    if rng.random() < 0.5:  # rewritten: half its words replaced
        units = _units(lead, spaceless)
        for i in rng.sample(range(len(units)), len(units) // 2):
            units[i] = rng.choice(site.words)
        return f"{_join(units, spaceless)} {rest}".strip()
    return f"{rng.choice(site.sentences)} {first}"  # added before it


def _units(text: str, spaceless: bool) -> list[str]:
    return [c for c in text if not c.isspace()] if spaceless else text.split()


def _join(units: Sequence[str], spaceless: bool) -> str:
    return ("" if spaceless else " ").join(units)


def _edit(units: list[list[str]], words: Sequence[str], rng: random.Random) -> None:
    """One word replaced, deleted, or inserted, somewhere in the text."""
    filled = [u for u in units if u]
    paragraph = rng.choice(filled)
    i = rng.randrange(len(paragraph))
    roll = rng.random()
    if roll < 0.6:
        paragraph[i] = rng.choice(words)
    elif roll < 0.8 and len(paragraph) > 1:
        del paragraph[i]
    else:
        paragraph.insert(i, rng.choice(words))


def _trim(units: list[list[str]], share: float) -> list[list[str]]:
    keep = round(sum(map(len, units)) * (1 - share))
    out = []
    for paragraph in units:
        if keep <= 0:
            break
        out.append(paragraph[:keep])
        keep -= len(paragraph)
    return out


def _merge_or_split(units: list[list[str]], rng: random.Random) -> list[list[str]]:
    out: list[list[str]] = []
    for paragraph in units:
        roll = rng.random()
        if out and roll < 0.25:
            out[-1] = out[-1] + paragraph
        elif roll > 0.75 and len(paragraph) > 20:
            cut = rng.randrange(5, len(paragraph) - 5)
            out.extend([paragraph[:cut], paragraph[cut:]])
        else:
            out.append(paragraph)
    return out
