"""What the worker processes run for the pipeline: parse a feed or a sitemap, the footer
stage's per-text work, a clean text's fingerprint.

Every function here takes untrusted text (a feed's bytes, an article's text) and runs in a
worker under the pool's deadline, never in the event loop (`ingest.workers.pool`). Page
extraction is `ingest.extract.page.extract_article`, run the same way. The stages are imported
inside the functions: the main process, where a run of 304s ends, never needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ingest.models import Cleaned, ParsedFeed

if TYPE_CHECKING:
    from ingest.dedup.fingerprint import Fingerprint
    from ingest.extract.sitemap import Sitemap


def parse_feed(content: bytes, url: str, content_type: str) -> ParsedFeed:
    from ingest.extract import feed as feeds

    return feeds.parse_feed(content, url=url, content_type=content_type)


def parse_sitemap(content: bytes, url: str, since: float, max_urls: int,
                  max_bytes: int) -> Sitemap:
    from ingest.extract import sitemap

    return sitemap.parse_sitemap(content, url=url, since=since, max_urls=max_urls,
                                 max_bytes=max_bytes)


def footer_keys(text: str) -> tuple[dict[str, str], frozenset[str]]:
    """The text's lines eligible for learning (``{key: line}``), and the keys of every
    line a learned count could remove: the only counts worth reading from the store."""
    from ingest.footers import strip as footers

    return footers.candidate_keys(text), frozenset(footers.learnable_keys([text]))


def clean_and_fingerprint(text: str, learned: Mapping[str, int], rules, site: str,
                          feed_rights: str | None, min_words: int
                          ) -> tuple[Cleaned, Fingerprint | None]:
    """The text stripped of its footers, and the fingerprint of what is left (None when it
    is shorter than ``min_words``)."""
    from ingest.dedup import fingerprint as fingerprints

    cleaned = strip_footers(text, learned, rules, site, feed_rights)
    return cleaned, fingerprints.fingerprint(cleaned.text, min_words)


def strip_footers(text: str, learned: Mapping[str, int], rules, site: str,
                  feed_rights: str | None) -> Cleaned:
    from ingest.footers import strip as footers

    return footers.strip_footers(text, learned=learned, rules=rules, site=site,
                                 feed_rights=feed_rights)
