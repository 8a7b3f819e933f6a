"""Assemble output records from what the stages found, and read caching hints."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from ingest.extract.langid import decide_language
from ingest.models import Cleaned, Feed, ParsedFeed, Record
from ingest.redact import record_url

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


def build_record(feed: Feed, parsed: ParsedFeed, draft, cleaned: Cleaned,
                 fetched_at: str) -> Record:
    """One output line. Feed facts win for title/date (they are the publisher's
    own metadata); the page fills what the feed lacks."""
    entry, article = draft.entry, draft.article
    on_page = article is not None and draft.body_source == "page"
    language, source = decide_language(
        article.detected_language if article and on_page else draft.text_language,
        page=article.language if article and on_page else None,
        feed=draft.feed_language or parsed.language)  # an item's own tag (a news sitemap's) first
    return Record(
        id=draft.id,
        url=draft.url,
        feed=feed.name,
        feed_url=record_url(feed.url),  # records travel further than the config: no secrets
        guid=entry.guid,
        title=entry.title or (article.title if article else "") or "",
        # The page's date is YYYY-MM-DD: ISO 8601 already (a date without a time).
        published=entry.published or (article.published if article else None),
        fetched_at=fetched_at,
        text=cleaned.text,
        body_source=draft.body_source,
        canonical_url=article.canonical_url if article else None,
        authors=(article.authors if article and article.authors else entry.authors),
        language=language,
        language_source=source,
        site_name=article.site_name if article else None,
        summary=entry.summary or (article.description if article else None) or None,
        tags=tuple(dict.fromkeys(entry.tags + (article.tags if article else ()))),
        image=(article.image if article else None) or entry.image,
        footers_removed=cleaned.removed,
        rights=cleaned.rights,
        final_url=draft.final_url,
    )


def cache_hints(headers: dict[str, str]) -> dict[str, float]:
    """Seconds the server says its answer stays fresh (Cache-Control, Expires)."""
    hints: dict[str, float] = {}
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        hints["max_age"] = float(match.group(1))
    elif headers.get("expires") and headers.get("date"):
        try:
            fresh = (parsedate_to_datetime(headers["expires"])
                     - parsedate_to_datetime(headers["date"])).total_seconds()
        except (TypeError, ValueError):
            fresh = 0
        if fresh > 0:
            hints["max_age"] = fresh
    return hints
