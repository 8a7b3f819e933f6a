"""Article pages to clean text; the only module that imports trafilatura.

`extract_article` runs in worker processes (see `ingest.workers.pool`): it is a
plain function of bytes to a small picklable `Article`, so nothing heavy ever
crosses the process boundary twice and the event loop never parses HTML.

Its work is linear in the page, before any deadline: bytes are decoded with text
encodings only (`ingest.extract.page_decoding`), and trafilatura, whose patterns and fallback
extractor take quadratic time on some inputs, is handed a page and a tree shaped to keep
them linear (`ingest.extract.page_bounds`). It returns an Article or raises SkipEntry.
"""

from __future__ import annotations

import re

from ingest.errors import SkipEntry
from ingest.extract.authors import clean_authors
from ingest.extract.page_bounds import many_blocks, tame_tree, without_broken_doctype, xpath
from ingest.extract.page_decoding import decode_html
from ingest.extract.textfix import Repairs
from ingest.models import Article

# Possessive quantifiers and bounded windows throughout: every pattern here runs on
# untrusted bytes or text, and must cost time linear in it.
_HTML_TAG = re.compile(r"<html\b[^>]*+", re.IGNORECASE)
# The whole tag ("pt-BR"): its region is kept when the text agrees.
_LANG_ATTRIBUTE = re.compile(r"""\blang\s*+=\s*+["']?+([a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{1,8})*+)""",
                             re.IGNORECASE)
_MIN_TEXT = 50  # characters
_MAX_ERROR = 300  # characters of an extractor's exception quoted in a skip reason
_LANG_PRESCAN = 16384  # characters of the page searched for its <html lang>


def extract_article(content: bytes, url: str, content_type: str = "",
                    feed_title: str | None = None, *, need_date: bool = True,
                    need_language: bool = True, need_authors: bool = True) -> Article:
    """Main text and metadata of an article page.

    SkipEntry('no_text') if it has no article text, SkipEntry('extract_failed') if the
    extractor raised on it; nothing else. ``feed_title`` (the entry's title in the feed)
    helps drop a headline that the extractor left at the top of the text.
    ``need_date=False`` and ``need_authors=False`` (the feed dates the entry / names its
    authors) spare the searches for them beyond the page's head (see `_metadata`).
    ``need_language=False`` (the feed declares a language): like the page's own
    ``<html lang>``, the declaration stands for a text too short to tell its language
    (`ingest.extract.langid`), which is then not guessed at.
    """
    html = decode_html(content, content_type)
    try:
        return _article(html, url, feed_title, need_date=need_date,
                        need_language=need_language, need_authors=need_authors)
    except SkipEntry:
        raise
    except Exception as exc:  # an extractor bug that a page trips costs that page, not the run
        raise SkipEntry("extract_failed",
                        f"{url}: the extractor failed: {repr(exc)[:_MAX_ERROR]}") from exc


def _article(html: str, url: str, feed_title: str | None, *, need_date: bool,
             need_language: bool, need_authors: bool) -> Article:
    text, meta = _text_and_metadata(html, url, need_date=need_date,
                                    need_authors=need_authors)
    title = (meta.title or "").strip() or None
    fix = Repairs()  # mojibake repaired before the headline is matched, and the footers
    text, title = fix(text), fix.optional(title)
    description = fix.optional((meta.description or "").strip() or None)
    meta.author = fix.optional(meta.author)  # the byline, before it is cleaned into names
    text = _drop_title(text, (title, feed_title))
    language = _page_language(html)
    return Article(
        text=text,
        title=title,
        authors=clean_authors((meta.author or "").split(";"), site_name=meta.sitename, url=url),
        published=meta.date or None,
        language=language,
        detected_language=_detect(text, declared=bool(language) or not need_language),
        site_name=(meta.sitename or "").strip() or None,
        canonical_url=meta.url if meta.url and meta.url != url else None,
        image=meta.image or None,
        description=description,
        tags=tuple(t for t in (meta.tags or []) if t),
        repaired=fix.count,
    )


def _text_and_metadata(html: str, url: str, *, need_date: bool, need_authors: bool):
    import trafilatura  # heavy: imported once per worker process

    # Parsed once: bare_extraction works on a copy, the metadata passes on this tree.
    tree = trafilatura.load_html(without_broken_doctype(html))
    if tree is not None:
        tame_tree(tree)
    doc = None if tree is None else trafilatura.bare_extraction(
        tree, url=url, with_metadata=False, include_comments=False,
        include_tables=True, include_images=False, deduplicate=False,
        fast=many_blocks(tree))
    text = (getattr(doc, "text", None) or "").strip()  # a Document (as_dict is off), or None
    if len(text) < _MIN_TEXT:  # a menu word or a caption is not an article
        raise SkipEntry("no_text", f"{url}: the extractor found no article text")
    return text, _metadata(tree, url, need_date=need_date, need_authors=need_authors)


def _metadata(tree, url: str, *, need_date: bool, need_authors: bool):
    """trafilatura's metadata, read from the <head> and JSON-LD first.

    Those hold the title, site name, canonical URL, image, description and, on most
    news pages, the authors and the date, and are quick to read. trafilatura's whole-page
    pass (htmldate's scan of the text, bylines in the body) costs a good share of what
    the text extraction itself does, so it runs only when neither the feed nor the head
    dates the article. An author that neither names is searched for in the page's
    byline elements alone (`_byline_tree`): the same author as the whole-page pass finds,
    for a fraction of its work on the pages that have such elements.
    """
    from trafilatura import extract_metadata
    from trafilatura.settings import set_date_params

    head = extract_metadata(_head_tree(tree), url, set_date_params(False))
    if need_date and not head.date:
        return extract_metadata(tree, url, set_date_params(True))
    if need_authors and not head.author:
        bylines = _byline_elements(tree)
        if bylines:
            head.author = extract_metadata(_byline_tree(tree, bylines), url,
                                           set_date_params(False)).author
    return head


# trafilatura's author search looks only at elements whose class, id, itemprop, rel,
# data-component or data-testid names an author or a byline (trafilatura 2.x's author
# XPaths; tests/extract/test_extract.py holds them to it over the corpus), at <author>
# elements and at elements with a <rel> child. Many pages whose head names no author
# have none of these, and for them the search is skipped after a quick look.
_BYLINE_WORDS = re.compile(
    "author|byl|bbl|username|screenname|writer|channel-name|zuozhe|bianji|xiaobian"
    "|submitted-by|posted-by|journalist-name")
_BYLINE_ATTRIBUTES = "//@class|//@id|//@itemprop|//@rel|//@data-component|//@data-testid"
_BYLINE_TAGS = "//author|//rel/.."


def _byline_elements(tree) -> list:
    found = [value.getparent() for value in xpath(_BYLINE_ATTRIBUTES)(tree)
             if _BYLINE_WORDS.search(value.lower())]
    return found + xpath(_BYLINE_TAGS)(tree)


def _byline_tree(tree, bylines: list):
    """A new document with only ``bylines`` (whole) and their ancestors (tag and
    attributes, no text), in the page's order.

    The author search reads the byline elements' own attributes and text, and first
    prunes comment sections, sidebars and the like by their attributes, which the
    ancestors keep: it finds here what it would find in the whole page.
    """
    from copy import deepcopy

    from lxml.etree import SubElement
    from lxml.html import Element

    keep = set(bylines)
    if tree in keep:
        return deepcopy(tree)
    ancestors = {a for element in keep for a in element.iterancestors()}
    root = Element(tree.tag, dict(tree.attrib))  # its own document: "//" stays in it
    todo = [(tree, root)]  # a loop, not recursion: a hostile page may nest deeply
    while todo:
        source, shell = todo.pop()
        for child in source:
            if child in keep:
                whole = deepcopy(child)
                whole.tail = None
                shell.append(whole)
            elif child in ancestors:
                todo.append((child, SubElement(shell, child.tag, dict(child.attrib))))
    return root


_HEAD_TREE_PARTS = "//body//script[@type='application/ld+json']|//body//h1"


def _head_tree(tree):
    """A small document of the page's <head>, its JSON-LD blocks and its <h1>s (copies).

    trafilatura takes a lone <h1> as the title before the <title>, which often carries
    the site's name, so the <h1>s give the title the whole page would. <h2>s are left
    out: the author search would take bylines from them, which it should not here.
    """
    from copy import deepcopy

    from lxml.html import Element

    root, body = Element("html"), Element("body")
    head = tree.find("head")
    if head is not None:
        root.append(deepcopy(head))
    root.append(body)
    for element in xpath(_HEAD_TREE_PARTS)(tree):
        body.append(deepcopy(element))
    return root


def _drop_title(text: str, titles: tuple[str | None, ...]) -> str:
    """trafilatura may repeat the headline as the first line; the title has its own field."""
    first, _, rest = text.partition("\n")
    wanted = {_squash(t) for t in titles if t}
    if rest.strip() and _squash(first) in wanted:
        return rest.strip()
    return text


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text).casefold()


def _detect(text: str, *, declared: bool) -> str | None:
    from ingest.extract.langid import detect_language  # loads its model on first use

    return detect_language(text, declared=declared)


def _page_language(html: str) -> str | None:
    """The language in the first <html> tag (within the first 16 KB) that names one."""
    for tag in _HTML_TAG.finditer(html[:_LANG_PRESCAN]):  # each tag read once, to its ">"
        match = _LANG_ATTRIBUTE.search(tag.group())
        if match:
            return match.group(1).lower().replace("_", "-")
    return None
