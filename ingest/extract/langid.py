"""Language of a text (py3langid), to check or stand in for what a page or feed declares.

The model loads at the first guess, in a worker (it is slow to load and large in every
process; importing this module costs nothing). Loading needs a large temporary file; if
that fails (disk full, file-size limit), detection is off and records keep the declared
language, or none, rather than the whole run failing.

The thresholds are measured on the shared corpus (docs/metadata.md): a text of
``MIN_TEXT`` characters whose guess reaches ``MIN_CONFIDENCE`` outweighs a declaration
(templates and feeds often declare the site's language, not the article's); a shorter
text is guessed only when nothing is declared.
"""

from __future__ import annotations

import logging
from functools import cache

log = logging.getLogger("ingest.langid")
MIN_TEXT = 200  # characters: from here the text's language outweighs a declaration
MIN_CONFIDENCE = 0.9  # py3langid's normalised probability
MIN_GUESS = 40  # characters: the least worth a guess when nothing is declared
_SAMPLE = 2000  # characters: plenty for a confident guess, and bounded work


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
