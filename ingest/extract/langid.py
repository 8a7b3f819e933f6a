"""Language of a text (py3langid), to check or stand in for what a page or feed declares.

The model loads at the first guess, in a worker (it is slow to load and large in every
process; importing this module costs nothing). Loading needs a large temporary file; if
that fails (disk full, file-size limit), detection is off and records keep the declared
language, or none, rather than the whole run failing.

The thresholds are measured on the shared corpus (docs/metadata.md): a text of
``MIN_TEXT`` characters whose guess reaches ``MIN_CONFIDENCE`` outweighs a declaration
(templates and feeds often declare the site's language, not the article's); a shorter
text is guessed only when nothing is declared. `decide_language` weighs the guess against
the declarations for a record, in the main process: it reads tags, never the model.
"""

from __future__ import annotations

import logging
import re
from functools import cache

log = logging.getLogger("ingest.langid")
MIN_TEXT = 200  # characters: from here the text's language outweighs a declaration
MIN_CONFIDENCE = 0.9  # py3langid's normalised probability
MIN_GUESS = 40  # characters: the least worth a guess when nothing is declared
_SAMPLE = 2000  # characters: plenty for a confident guess, and bounded work
_MAX_TAG = 35  # characters: the longest language tag worth reading
_TAG = re.compile(r"[a-z]{2,3}+(?:-[a-z0-9]{1,8}+)*+")
# Codes that name the language the detector calls otherwise: Bokmål and Nynorsk are
# Norwegian ("no"), and the old codes of Hebrew, Indonesian and Yiddish.
_SAME_LANGUAGE = {"nb": "no", "nn": "no", "iw": "he", "in": "id", "ji": "yi"}


@cache
def _identifier():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    except (OSError, ValueError, ImportError) as exc:
        log.warning("langid: language detection is off: cannot load its model (%s)", exc)
        return None


def detect_language(text: str, *, declared: bool = False) -> str | None:
    """ISO 639-1 code of ``text``, or None when it is too short to tell or the guess is weak.

    ``declared``: the page or feed names a language, which stands in for a short text's
    guess: only a text of ``MIN_TEXT`` characters is then read.
    """
    sample = text[:_SAMPLE]
    if len(sample.strip()) < (MIN_TEXT if declared else MIN_GUESS):
        return None
    identifier = _identifier()
    if identifier is None:
        return None
    lang, confidence = identifier.classify(sample)
    return lang if confidence >= MIN_CONFIDENCE else None


def decide_language(detected: str | None, *, page: str | None, feed: str | None
                    ) -> tuple[str | None, str | None]:
    """The record's language and where it came from: the text's (``detected``, which the
    extractor gives only for a text long enough to tell, or when nothing is declared),
    else the page's declaration, else the feed's; (None, None) when none is known.

    The text's language keeps the region of a declaration it agrees with ("pt-BR" for a
    Portuguese text); a declaration that is not a language tag counts as none.
    """
    declared = [(tag, where) for tag, where in ((language_tag(page), "page"),
                                                 (language_tag(feed), "feed")) if tag]
    if detected:
        same = (tag for tag, _ in declared if _primary(tag) == _primary(detected))
        return next(same, detected.lower()), "text"
    return declared[0] if declared else (None, None)


def language_tag(value: str | None) -> str | None:
    """A BCP 47 tag with its usual case ("pt-BR", "zh-Hant-TW", "en"), or None."""
    tag = (value or "").strip()[:_MAX_TAG].replace("_", "-").lower()
    if not _TAG.fullmatch(tag):
        return None
    primary, *rest = tag.split("-")
    return "-".join([primary, *(s.upper() if len(s) == 2 else s.title() if len(s) == 4
                                else s for s in rest)])


def _primary(tag: str) -> str:
    primary = tag.split("-", 1)[0].lower()
    return _SAME_LANGUAGE.get(primary, primary)
