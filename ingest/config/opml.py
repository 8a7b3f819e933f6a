"""OPML subscription lists in and out (the format of Miniflux, FreshRSS and RSS readers).

`parse_opml` reads an untrusted file with the standard library's expat parser
and refuses any DOCTYPE: OPML never needs one, and refusing it rules out
entity expansion ("billion laughs") and external entities (file or network
reads) without depending on defusedxml. Every outline with an ``xmlUrl`` is a
feed; the titles of the outlines it sits in, and its ``category`` attribute
(``/News/World,/Tech``), become its tags. `render_opml` writes OPML 2.0 with one
folder per first tag, which `parse_opml` reads back to the same feeds and tags.

The work is bounded by the input: a file of at most MAX_OPML_BYTES, outlines
nested at most _MAX_FOLDERS deep (every feed copies the titles above it), and an
encoding declared in the file that Python cannot give expat (UTF-7, Big5, a codec
that is not a text encoding...) is a ConfigError like any XML error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree import ElementTree as ET
from xml.parsers import expat

from ingest.errors import ConfigError
from ingest.models import Feed

MAX_OPML_BYTES = 10_000_000  # an export of 50,000 feeds is about that
_MAX_FOLDERS = 50  # outlines within outlines; readers' exports nest two or three


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    name: str | None = None
    tags: tuple[str, ...] = ()
    line: int = 0  # where the outline is, for messages


def parse_opml(data: bytes, where: str) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order; ConfigError if it is not one."""
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_OPML_BYTES:,} bytes, more than any OPML "
                          "export of feeds; is it the right file? If so, split it")
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    folders: list[str | None] = []  # the title each open outline gives its children
    feeds: list[OpmlFeed] = []
    root: list[str] = []

    def refuse(*_args) -> None:
        raise ConfigError(f"{where}:{parser.CurrentLineNumber}: a DOCTYPE or entity "
                          "declaration; OPML needs none and it is refused for safety. "
                          "Remove it and import again")

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(tag)
        if tag.lower() != "outline":
            return
        if len(folders) >= _MAX_FOLDERS:
            raise ConfigError(f"{where}:{parser.CurrentLineNumber}: outlines nested more than "
                              f"{_MAX_FOLDERS} deep; an OPML export nests folders a few levels")
        attrs = {k.lower(): v for k, v in attrs.items()}
        title = _one_line(attrs.get("title") or attrs.get("text") or "")
        url = (attrs.get("xmlurl") or "").strip()
        if url:
            tags = [t for t in folders if t] + _categories(attrs.get("category", ""))
            feeds.append(OpmlFeed(url, title or None, tuple(dict.fromkeys(tags)),
                                  parser.CurrentLineNumber))
        folders.append(None if url else title)

    def end(tag: str) -> None:
        if tag.lower() == "outline":
            folders.pop()

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ConfigError(f"{where}:{exc.lineno}: not well-formed XML "
                          f"({expat.errors.messages[exc.code]}); is it an OPML file?") from None
    except (LookupError, ValueError) as exc:  # UnicodeError is a ValueError
        # expat knows UTF-8, UTF-16 and Latin-1; another declared encoding goes through a
        # Python codec, which may not exist or may not be a one-byte text encoding.
        raise ConfigError(f"{where}:{parser.CurrentLineNumber}: cannot read the encoding "
                          f"its XML declaration names ({' '.join(str(exc).split())}); "
                          "save the file as UTF-8 and import it again") from exc
    if not root or root[0].lower() != "opml":
        raise ConfigError(f"{where}: not an OPML file (the root element is "
                          f"<{root[0] if root else '?'}>, expected <opml>)")
    return feeds


def _categories(value: str) -> list[str]:
    """OPML 2.0 ``category``: comma-separated, slash-delimited paths -> their parts."""
    return [_one_line(part) for path in value.split(",") for part in path.split("/")
            if _one_line(part)]


def _one_line(text: str) -> str:
    """Whitespace collapsed and unprintable characters dropped (config names are one line)."""
    return "".join(c for c in " ".join(text.split()) if c.isprintable())


def render_opml(feeds: Iterable[Feed], title: str = "ingest feeds") -> bytes:
    """OPML 2.0: untagged feeds at the top, the rest in a folder named for their first tag."""
    opml = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(opml, "head"), "title").text = title
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            parent = folders.get(feed.tags[0])
            if parent is None:
                parent = folders[feed.tags[0]] = ET.SubElement(
                    body, "outline", text=feed.tags[0], title=feed.tags[0])
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if len(feed.tags) > 1:
            attrs["category"] = ",".join("/" + t.replace("/", " ").replace(",", " ")
                                         for t in feed.tags)
        ET.SubElement(parent, "outline", attrs)
    ET.indent(opml)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, "utf-8",
                                                                      xml_declaration=False) + b"\n"
