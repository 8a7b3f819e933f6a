"""Whether a feed entry's own text reads as a whole article, and how alike two texts are.

`looks_whole` is the text half of ``extract.feed_content: auto`` (`ingest.pipeline.feed_content`
holds the other half, the per-feed sample against the pages): a text of ``MIN_WORDS`` words
in ``MIN_PARAGRAPHS`` blocks that does not end as a teaser does ("Continue reading →", "[…]",
"Weiterlesen", "続きを読む"). The thresholds are measured (docs/feed-content.md).

The texts are the feed's plain text (`ingest.extract.htmltext`: one line per HTML block), so
paragraphs are lines. Both texts come from the network: the teaser pattern sees only the last
``TAIL`` characters, and the token pattern has no ambiguous repeat.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import islice

MIN_WORDS = 150  # a lede, or a teaser's first paragraph, is shorter
MIN_PARAGRAPHS = 3  # a summary is one block; an article is several
TAIL = 300  # characters at the end of a text where a teaser's "read more" sits
HEAD = 50_000  # characters of a text in which its words and paragraphs are counted

_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A CJK character is a token of its own (those scripts put no spaces between words), any
# other run of word characters is one token.
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]++")
# How sites end an excerpt: "[…]" (WordPress), or a "read more" link's text starting a line
# or after an ellipsis, a bracket or an arrow ("… Read more »"); in running prose ("you can
# read more about it in our guide") it is no teaser. Literal branches, one pass over the tail.
_TEASER = re.compile(
    r"[\[(]\s*+(?:…|\.\.\.)\s*+[\])]"
    r"|(?:^|[….>|»:\])])[ \t]*+(?:continue reading|keep reading|read more|read the (?:full|rest)"
    r"|weiterlesen|mehr lesen|zum artikel|leggi tutto|leggi di più|continua a leggere"
    r"|lire la suite|lire plus|seguir leyendo|sigue leyendo|leer más|leia mais|continue lendo"
    r"|ler mais|czytaj (?:więcej|dalej)|lees verder|lees meer|läs mer|läs hela|les mer"
    r"|læs mere|lue lisää|devamını oku|подробнее|читать далее|читать полностью"
    r"|続きを読む|続きはこちら|阅读全文|阅读更多|閱讀全文|더보기|자세히 보기|اقرأ المزيد)",
    re.IGNORECASE | re.MULTILINE)


def words(text: str, most: int | None = None) -> int:
    """Word tokens of ``text`` (a CJK character counts one), counted up to ``most``."""
    return sum(1 for _ in islice(_TOKEN.finditer(text), most))


def paragraphs(text: str) -> int:
    """Non-empty lines: the blocks of the feed's HTML (`ingest.extract.htmltext`)."""
    return sum(1 for line in text.split("\n") if line.strip())


def teaser_ending(text: str) -> str | None:
    """The "read more" mark in the last ``TAIL`` characters of ``text``, or None."""
    found = _TEASER.search(text[-TAIL:])
    return found.group().strip() if found else None


def looks_whole(text: str, *, min_words: int = MIN_WORDS,
                min_paragraphs: int = MIN_PARAGRAPHS) -> bool:
    """The feed's text reads as a whole article: long enough, in paragraphs, no teaser end.
    Its words are counted in the first ``HEAD`` characters: the work stays small however
    long a feed's text is (the pipeline asks in its event loop)."""
    head = text[:HEAD]
    return (paragraphs(head) >= min_paragraphs
            and words(head, min_words) >= min_words and teaser_ending(text) is None)


def token_f1(text: str, other: str) -> float:
    """Token F1 of two texts: lower-cased word tokens (CJK characters one each), counted
    as multisets. 1.0 for the same words in any order; 0.0 when either has none."""
    mine, theirs = _tokens(text), _tokens(other)
    overlap = sum((mine & theirs).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / mine.total(), overlap / theirs.total()
    return 2 * precision * recall / (precision + recall)


def _tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))
