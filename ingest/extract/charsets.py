"""Charset labels to Python codecs, for the labels pages and feeds declare: text encodings only.

Shared by page decoding (ingest.extract.page_decoding) and feed shaping (ingest.extract.feed_bytes). Some
of Python's codecs raise whatever the error handler (undefined, idna), take quadratic time
(punycode) or are not text at all (rot13, base64): a label naming one is ignored, as
browsers ignore what they do not know.
"""

from __future__ import annotations

import codecs

# WHATWG: these labels mean windows-1252 in a browser.
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
            "us-ascii": "cp1252", "ascii": "cp1252", "iso8859-1": "cp1252", "gb2312": "gb18030",
            "gbk": "gb18030", "x-sjis": "shift_jis", "windows-874": "cp874",
            "x-mac-cyrillic": "mac-cyrillic", "windows-31j": "cp932"}
# The text encodings a page or a feed may declare: Python's names for those of the WHATWG
# Encoding Standard, with UTF-32 and ISO-8859-9.
_TEXT_CODECS = frozenset((
    "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
    "utf-32-be", "cp866", "iso8859-1", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5",
    "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-9", "iso8859-10", "iso8859-11",
    "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "koi8-r", "koi8-u",
    "mac-roman", "mac-cyrillic", "cp874", "tis-620", "cp1250", "cp1251", "cp1252",
    "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "gbk", "gb2312",
    "gb18030", "big5", "big5hkscs", "euc_jp", "iso2022_jp", "shift_jis", "cp932",
    "euc_kr", "cp949", "ascii"))


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
