"""The articles of the dedup bench: real texts of the shared corpus, grouped by site.

Ground-truth bodies of the page sets (fundus: one publisher per file, grouped by country
folder; newspaper4k; goose3's body prefixes) and the full-content items of the real-world
feeds (each feed is one site: same template, same vocabulary, different stories). A text
that is already in the set (the same feed under two formats) is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError
from ingest.extract.feed import parse_feed

MIN_WORDS = 100  # an original must stay above min_words after its copy is trimmed by 30 %
_FEED_DIRS = ("feedjira", "laminas-feed", "miniflux", "rss-parser", "simplepie")
_FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ""}


@dataclass(frozen=True)
class Article:
    group: str  # the site (or folder) it comes from: the pool of its hard negatives
    name: str
    text: str


def load_articles(corpus: Path, count_words) -> list[Article]:
    """Every distinct article of at least MIN_WORDS words (by ``count_words``)."""
    seen: set[str] = set()
    found = []
    for article in [*_page_bodies(corpus / "pages"), *_feed_items(corpus / "feeds")]:
        key = " ".join(article.text.split())
        if key in seen or count_words(article.text) < MIN_WORDS:
            continue
        seen.add(key)
        found.append(article)
    return found


def _page_bodies(pages: Path) -> Iterator[Article]:
    fundus = pages / "fundus"
    for entry in json.loads((fundus / "html_to_expected.json").read_text()):
        body = json.loads((fundus / entry["expected"]).read_text())[entry["key"]]["body"]
        parts = body.get("summary", []) + [p for s in body.get("sections", [])
                                           for p in s.get("headline", []) + s["paragraphs"]]
        folder = Path(entry["html"]).parent.name
        yield Article(f"fundus/{folder}", Path(entry["html"]).stem, "\n".join(parts))
    data = pages / "newspaper4k/tests/data/txt"
    for txt in sorted(data.glob("*.txt")):
        yield Article("newspaper4k", txt.stem, txt.read_text())
    for case in sorted((pages / "goose3/tests/data/content").glob("*.json")):
        yield Article("goose3", case.stem, json.loads(case.read_text())["expected"]["cleaned_text"])


def _feed_items(feeds: Path) -> Iterator[Article]:
    for folder in _FEED_DIRS:
        for path in sorted((feeds / folder).rglob("*")):
            if not path.is_file() or path.suffix not in _FEED_SUFFIXES:
                continue
            try:
                parsed = parse_feed(path.read_bytes(), url="http://127.0.0.1/feed")
            except (IngestError, ValueError):
                continue
            group = f"feeds/{path.relative_to(feeds)}"
            for i, entry in enumerate(parsed.entries):
                text = entry.content or entry.summary
                if text:
                    yield Article(group, f"{path.stem}#{i}", text)
