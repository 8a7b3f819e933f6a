"""Page bytes to text, as a browser decodes them; text encodings only.

BOM, then (if the bytes are valid UTF-8) UTF-8, then the HTTP charset, then ``<meta
charset>``, then detection. A label is honoured only when it names a text encoding we
accept (`text_codec`): some of Python's codecs raise whatever the error handler, take
quadratic time or are not text at all. The feed stage uses `text_codec` for the same
reason. Every pattern here runs on untrusted bytes: possessive repeats, bounded windows.
"""

from __future__ import annotations

import codecs
import re

_META_TAG = re.compile(rb"<meta\b[^>]*+", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""charset\s*+=\s*+["']?+\s*+([a-zA-Z0-9_.:-]++)""", re.IGNORECASE)
_HTTP_CHARSET = re.compile(r"""charset\s*+=\s*+["']?+([^"';\s]++)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
# WHATWG: these labels mean windows-1252 in a browser.
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
            "us-ascii": "cp1252", "ascii": "cp1252", "iso8859-1": "cp1252", "gb2312": "gb18030",
            "gbk": "gb18030", "x-sjis": "shift_jis", "windows-874": "cp874",
            "x-mac-cyrillic": "mac-cyrillic", "windows-31j": "cp932"}
# The text encodings a page or a feed may declare: Python's names for those of the WHATWG
# Encoding Standard, with UTF-32 and ISO-8859-9. Any other label is ignored, as browsers
# ignore what they do not know: some codecs raise whatever the error handler (undefined,
# idna) or take quadratic time (punycode), others are not text at all (rot13, base64).
_TEXT_CODECS = frozenset((
    "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
    "utf-32-be", "cp866", "iso8859-1", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5",
    "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-9", "iso8859-10", "iso8859-11",
    "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "koi8-r", "koi8-u",
    "mac-roman", "mac-cyrillic", "cp874", "tis-620", "cp1250", "cp1251", "cp1252",
    "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "gbk", "gb2312",
    "gb18030", "big5", "big5hkscs", "euc_jp", "iso2022_jp", "shift_jis", "cp932",
    "euc_kr", "cp949", "ascii"))
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
        codec = _codec(label)
        if codec:
            return content.decode(codec, errors="replace")
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


def text_codec(label: str | None) -> str | None:
    """Python's codec for a charset label that names a text encoding we accept, else None."""
    if not label:
        return None
    label = label.strip().lower()
    try:
        name = codecs.lookup(_ALIASES.get(label, label)).name
    except LookupError:
        return None
    return name if name in _TEXT_CODECS else None


def _codec(label: str | None) -> str | None:
    name = text_codec(label)
    # A page that says UTF-16 or UTF-32 in <meta> is really ASCII-compatible (WHATWG).
    return "utf-8" if name and name.startswith(("utf-16", "utf-32")) else name
