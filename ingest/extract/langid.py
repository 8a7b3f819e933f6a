"""Language of a text, for pages that declare none (py3langid).

The model loads when this module is first imported, in a worker, and only when
a page and its feed both declare no language (it is slow to load and large in
every process). Loading needs a large temporary file; if that fails (disk full,
file-size limit), detection is off and records keep a null language rather than
the whole run failing.
"""

from __future__ import annotations

import logging

log = logging.getLogger("ingest.langid")
_MIN_CONFIDENCE = 0.9
_SAMPLE = 2000  # characters: plenty for a confident guess


def _load():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    except (OSError, ValueError, ImportError) as exc:
        log.warning("langid: language detection is off: cannot load its model (%s)", exc)
        return None


_IDENTIFIER = _load()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code, or None when the text is too short or the guess is weak."""
    sample = text[:_SAMPLE]
    if _IDENTIFIER is None or len(sample) < 40:
        return None
    lang, confidence = _IDENTIFIER.classify(sample)
    return lang if confidence >= _MIN_CONFIDENCE else None
