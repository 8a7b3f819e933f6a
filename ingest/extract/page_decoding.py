"""Page bytes to text, as a browser decodes them; text encodings only.

BOM, then (if the bytes are valid UTF-8) UTF-8, then the HTTP charset, then ``<meta
charset>``, then detection. A label is honoured only when it names a text encoding we
accept (`ingest.extract.charsets.text_codec`). Every pattern here runs on untrusted bytes:
possessive repeats, bounded windows.
"""

from __future__ import annotations

import codecs
import re

from ingest.extract.charsets import text_codec

_META_TAG = re.compile(rb"<meta\b[^>]*+", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""charset\s*+=\s*+["']?+\s*+([a-zA-Z0-9_.:-]++)""", re.IGNORECASE)
_HTTP_CHARSET = re.compile(r"""charset\s*+=\s*+["']?+([^"';\s]++)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_PRESCAN = 4096  # bytes searched for <meta charset>: browsers look at 1024, real pages later


def decode_html(content: bytes, content_type: str = "") -> str:
    """Decode page bytes like a browser: BOM, (valid UTF-8), HTTP charset, <meta>, detection."""
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content[len(bom):].decode(codec, errors="replace")
    # Bytes that are valid UTF-8 are UTF-8, whatever the label says: text in a
    # legacy charset is practically never valid UTF-8, while pages re-encoded
    # to UTF-8 under a stale "iso-8859-1" or "gb2312" label are common.
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for label in (_charset_from_header(content_type), _charset_from_meta(content)):
        declared = _codec(label)
        if declared:
            return content.decode(declared, errors="replace")
    try:
        return content.decode(_detect_charset(content), errors="replace")
    except (LookupError, UnicodeError):  # a detector's guess that Python cannot decode with
        return content.decode("cp1252", errors="replace")


def _detect_charset(content: bytes) -> str:
    """Detection for undeclared pages; among equally plausible single-byte
    guesses prefer windows-1252, as browsers in Western locales do."""
    from charset_normalizer import from_bytes  # only for undeclared, non-UTF-8 pages

    matches = list(from_bytes(content[:200_000]))
    if not matches:
        return "cp1252"
    best = min(m.chaos for m in matches)
    tied = [m.encoding for m in matches if m.chaos <= best + 0.01]
    return "cp1252" if "cp1252" in tied else tied[0]


def _charset_from_header(content_type: str) -> str | None:
    match = _HTTP_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _charset_from_meta(content: bytes) -> str | None:
    for tag in _META_TAG.finditer(content[:_PRESCAN]):  # each tag read once, to its ">"
        match = _META_CHARSET.search(tag.group())
        if match:
            return match.group(1).decode("ascii", "ignore")
    return None


def _codec(label: str | None) -> str | None:
    name = text_codec(label)
    # A page that says UTF-16 or UTF-32 in <meta> is really ASCII-compatible (WHATWG).
    return "utf-8" if name and name.startswith(("utf-16", "utf-32")) else name
