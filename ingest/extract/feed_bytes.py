"""Feed bytes shaped for feedparser, so that its work on them is linear in their size.

feedparser runs regular expressions that backtrack badly on some inputs (its XML
declaration, DOCTYPE and ENTITY patterns, its author e-mail pattern); they can only be
bounded by shaping what it is handed (`prepare`):

- UTF-16, UTF-32 and EBCDIC feeds become UTF-8, so the passes below see ASCII markup;
- the prologue (what comes before the root element) is rewritten one declaration a line:
  a canonical XML declaration, the DOCTYPE and its declarations, whitespace collapsed;
  comments and processing instructions are dropped, and so is a prologue that is
  malformed or longer than `_MAX_PROLOGUE` (all but its XML declaration);
- the text of author fields (author, dc:creator, managingEditor, webMaster, ...) that
  would cost the e-mail pattern quadratic time is removed (`_unsafe_author_text`);
- a charset that is not a text encoding we accept (``punycode``...) is ignored.

Every pattern here runs on untrusted bytes: possessive repeats, and no repeat that can
run past the next "<" where a "<" could start the same pattern again (so that the
attempts from successive "<"s never rescan the same bytes).
"""

from __future__ import annotations

import codecs
import functools
import re

from ingest.extract.charsets import text_codec

COMMENT = rb"<!--(?:[^-<]++|-(?!->)|<(?!!--))*+-->"  # an XML or HTML comment, read once


def prepare(content: bytes, content_type: str) -> tuple[bytes, str]:
    """The bytes and content type feedparser is given (see the module docstring)."""
    content, content_type, transcoded = _as_utf8(content, content_type)
    content, declares_entities = _tidy_prologue(content, transcoded)
    return (_remove_unsafe_author_text(content, declares_entities),
            _accepted_charset(content_type))


# Byte-order marks, then the first characters of "<?xml" without one (XML 1.0, F.1).
_WIDE_ENCODINGS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                   (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
                   (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
                   (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be"),
                   (b"\x4c\x6f\xa7\x94", "cp037"))


def _as_utf8(content: bytes, content_type: str) -> tuple[bytes, str, bool]:
    """A feed in an encoding that is not ASCII-compatible, as UTF-8 (the BOM wins over
    the HTTP charset, as in XML and browsers); True when it was transcoded."""
    codec = next((c for mark, c in _WIDE_ENCODINGS if content.startswith(mark)), None)
    if codec is None:
        return content, content_type, False
    media_type = content_type.split(";", 1)[0].strip() or "application/xml"
    return (content.decode(codec, errors="replace").encode("utf-8"),
            f"{media_type}; charset=utf-8", True)


_CHARSET_PARAMETER = re.compile(r"""(;\s*+)charset\s*+=\s*+["']?+([^"';\s]*+)["']?+""",
                                re.IGNORECASE)


def _accepted_charset(content_type: str) -> str:
    """The content type without a charset that is not a text encoding we accept: some
    codecs raise whatever the error handler (undefined, idna) or decode in quadratic time
    (punycode), others are not text at all (rot13, base64)."""
    match = _CHARSET_PARAMETER.search(content_type)
    if match is None or text_codec(match.group(2)):
        return content_type
    return content_type[:match.start()] + content_type[match.end():]


_QUOTED = rb"""(?:"[^"<]*+"|'[^'<]*+')"""  # a literal with a "<" ends the prologue
# One part of a prologue; a DOCTYPE's internal subset is read part by part too.
_PROLOGUE_PART = re.compile(
    rb"(?P<space>\s++)"
    rb"|(?P<declaration><\?xml\s[^<>?]{0,200}+\?>)"
    rb"|(?P<comment>" + COMMENT + rb")"
    rb"|(?P<instruction><\?(?:[^?<]++|\?(?!>)|<(?!\?))*+\?>)"
    rb"|(?P<doctype><!(?i:doctype)\s(?:[^\[>\"'<]++|" + _QUOTED + rb")*+[\[>])"
    rb"|(?P<markup><!(?:ENTITY|ELEMENT|ATTLIST|NOTATION)\s(?:[^>\"'<]++|" + _QUOTED
    + rb")*+>)"
    rb"|(?P<reference>%[\w.:-]++;)"
    rb"|(?P<subset_end>\]\s*+>)")
_DROPPED_PARTS = frozenset(("space", "comment", "instruction", "declaration"))
_DECLARED_ENCODING = re.compile(rb"""\sencoding\s*+=\s*+["']([A-Za-z][\w.:-]{0,39}+)["']""")
_ROOT_START = re.compile(rb"<\w")  # where feedparser, too, takes the root element to start
_SPACES = re.compile(rb"\s++")
_MAX_PROLOGUE = 64 * 1024  # bytes: far more than real prologues need


def _tidy_prologue(content: bytes, transcoded: bool) -> tuple[bytes, bool]:
    """The document with its prologue one part a line (see the module docstring), and
    whether that prologue declares general entities.

    feedparser's patterns anchor at line starts and scan to the next ">": on lines that
    each hold one part, with no whitespace to start them, both are bounded by the part.
    """
    bom = codecs.BOM_UTF8 if content.startswith(codecs.BOM_UTF8) else b""
    body, pos, lines, first = content[len(bom):], 0, [], True
    end = min(len(body), _MAX_PROLOGUE)
    while match := _PROLOGUE_PART.match(body, pos, end):
        part, kind = match.group(), match.lastgroup
        if kind == "declaration" and first:  # only whitespace may come before it
            lines.append(_xml_declaration(part, transcoded))
        elif kind not in _DROPPED_PARTS:
            lines.append(_SPACES.sub(b" ", part))
        first, pos = first and kind == "space", match.end()
    root = _ROOT_START.search(body, pos)
    if root is None or root.start() != pos:  # malformed, too long, or no root element
        lines = lines[:1] if lines and lines[0].startswith(b"<?xml") else []
    declares = any(line.startswith(b"<!ENTITY ") and not line.startswith(b"<!ENTITY %")
                   for line in lines)
    rest = body[root.start():] if root else b""
    return bom + b"".join(line + b"\n" for line in lines) + rest, declares


def _xml_declaration(declaration: bytes, transcoded: bool) -> bytes:
    """A canonical XML declaration that keeps only an encoding we accept."""
    match = _DECLARED_ENCODING.search(declaration)
    encoding = b"utf-8" if transcoded else match.group(1) if match else b""
    if encoding and not text_codec(encoding.decode("ascii")):
        encoding = b""
    return b'<?xml version="1.0"' + (b' encoding="%s"' % encoding if encoding else b"") + b"?>"


# Elements whose text feedparser runs its e-mail pattern on (via _sync_author_detail).
_AUTHOR_NAMES = ("author", "creator", "managingeditor", "webmaster", "publisher", "owner",
                 "name", "email")
_AUTHOR_START = re.compile(
    rb"<((?:[\w.-]++:)?+(" + "|".join(_AUTHOR_NAMES).encode() + rb"))(?=[\s/>])[^<>]*+>",
    re.IGNORECASE)
_NEXT_TAG = re.compile(rb"<[/\w]")
_MARKUP = re.compile(rb"<!\[CDATA\[|\]\]>|<[^<>]*+>")
_NAMED_REFERENCE = re.compile(rb"&(?!(?:lt|gt|amp|quot|apos);)[A-Za-z_:]")
# The e-mail pattern's work grows with the square of a run of these (a reference may be
# one of them); a run of 65 is longer than any real name or address part.
_LONG_RUN = re.compile(rb"(?:[A-Za-z0-9_.+-]|&#?\w{1,10};){65}")
_AUTHOR_TEXT = 256  # bytes of text the e-mail pattern may read whatever its runs


@functools.cache
def _author_end(name: bytes) -> re.Pattern:
    return re.compile(rb"</(?:[\w.-]++:)?+" + name + rb"\s*+>", re.IGNORECASE)


def _remove_unsafe_author_text(content: bytes, declares_entities: bool) -> bytes:
    """``content`` without the content of author elements that `_unsafe_author_text`
    rejects (the element stays, empty). Linear: each element is read once, an end tag
    that is missing is searched for once per name."""
    kept: list[bytes] = []
    done, covered = 0, 0
    missing: dict[bytes, int] = {}  # name -> from where on it has no end tag
    for start in _AUTHOR_START.finditer(content):
        if start.start() < covered or start.group().endswith(b"/>"):
            continue  # inside an element already read, or empty
        name = start.group(2).lower()
        end = None if missing.get(name, len(content)) <= start.end() else (
            _author_end(name).search(content, start.end()))
        if end is None:  # unclosed: only its leading text is its own for sure
            missing[name] = min(missing.get(name, len(content)), start.end())
            stop = _NEXT_TAG.search(content, start.end())
            stop_at = stop.start() if stop else len(content)
        else:
            stop_at = end.start()
        covered = stop_at
        if _unsafe_author_text(content[start.end():stop_at], declares_entities):
            kept.append(content[done:start.end()])
            done = stop_at
    return b"".join(kept) + content[done:] if kept else content


def _unsafe_author_text(inner: bytes, declares_entities: bool) -> bool:
    """Whether an author element's content (``inner``) would cost feedparser's e-mail
    pattern more than linear time: a long text with a long run of the characters it
    repeats, or, in a document that declares entities, a reference to one (an entity
    expands to any length of such a run)."""
    text = _MARKUP.sub(b"", inner)  # feedparser joins the text around child elements
    if declares_entities and _NAMED_REFERENCE.search(text):
        return True
    return len(text) > _AUTHOR_TEXT and _LONG_RUN.search(text) is not None
