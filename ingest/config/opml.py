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
from typing import NoReturn
from xml.etree import ElementTree as ET
from xml.parsers import expat

from ingest.errors import ConfigError
from ingest.models import Feed

MAX_OPML_BYTES = 10_000_000  # far past a reader's export (a line per feed)
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
    reader = _OutlineReader(where)
    reader.read(data)
    return reader.feeds


class _OutlineReader:
    """expat's handlers for one document: the feeds found, and the outlines open around
    the one being read."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.feeds: list[OpmlFeed] = []
        self.folders: list[str | None] = []  # the title each open outline gives its children
        self.root: str | None = None
        self.parser = parser = expat.ParserCreate()
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self.refuse
        parser.EntityDeclHandler = self.refuse
        parser.ExternalEntityRefHandler = self.refuse
        parser.StartElementHandler, parser.EndElementHandler = self.start, self.end

    def read(self, data: bytes) -> None:
        where, parser = self.where, self.parser
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
        if self.root is None or self.root.lower() != "opml":
            raise ConfigError(f"{where}: not an OPML file (the root element is "
                              f"<{self.root or '?'}>, expected <opml>)")

    def refuse(self, *_args: object) -> NoReturn:
        raise ConfigError(f"{self.where}:{self.parser.CurrentLineNumber}: a DOCTYPE or entity "
                          "declaration; OPML needs none and it is refused for safety. "
                          "Remove it and import again")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root = tag
        if tag.lower() != "outline":
            return
        line = self.parser.CurrentLineNumber
        if len(self.folders) >= _MAX_FOLDERS:
            raise ConfigError(f"{self.where}:{line}: outlines nested more than "
                              f"{_MAX_FOLDERS} deep; an OPML export nests folders a few levels")
        attrs = {k.lower(): v for k, v in attrs.items()}
        title = _one_line(attrs.get("title") or attrs.get("text") or "")
        url = (attrs.get("xmlurl") or "").strip()
        if url:
            tags = [t for t in self.folders if t] + _categories(attrs.get("category", ""))
            self.feeds.append(OpmlFeed(url, title or None, tuple(dict.fromkeys(tags)), line))
        self.folders.append(None if url else title)

    def end(self, tag: str) -> None:
        if tag.lower() == "outline":
            self.folders.pop()


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
            folder = feed.tags[0]
            if folder not in folders:
                folders[folder] = ET.SubElement(body, "outline", text=folder, title=folder)
            parent = folders[folder]
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if len(feed.tags) > 1:
            attrs["category"] = ",".join("/" + t.replace("/", " ").replace(",", " ")
                                         for t in feed.tags)
        ET.SubElement(parent, "outline", attrs)
    ET.indent(opml)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, "utf-8",
                                                                      xml_declaration=False) + b"\n"
