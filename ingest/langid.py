"""Language of a text, for pages that declare none (py3langid).

The model loads when this module is imported: the worker pool preloads it in
its forkserver, so every worker starts with it in memory and the main process
never pays for it.
"""

from __future__ import annotations

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
_MIN_CONFIDENCE = 0.9
_SAMPLE = 2000  # characters: plenty for a confident guess


def detect_language(text: str) -> str | None:
    """ISO 639-1 code, or None when the text is too short or the guess is weak."""
    sample = text[:_SAMPLE]
    if len(sample) < 40:
        return None
    lang, confidence = _IDENTIFIER.classify(sample)
    return lang if confidence >= _MIN_CONFIDENCE else None
