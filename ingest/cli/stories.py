"""`ingest stories`: the clusters of near-duplicate records, biggest first.

Read from the state store's near-duplicate index without locking it (it works beside
`ingest run`); the index keeps ``dedup.window`` of records, so a story older than that is
gone, and one whose first records aged out shows the ones left.
"""

from __future__ import annotations

import json

from ingest.models import Story
from ingest.units import format_duration, utc_iso

_TITLES_SHOWN = 3  # per story in the table; --json has them all


def as_json(stories: list[Story]) -> str:
    return json.dumps([
        {"story_id": s.story_id, "size": s.size, "first_published": s.first_published,
         "first_seen": utc_iso(s.first_seen), "sites": list(s.sites), "titles": list(s.titles)}
        for s in stories], indent=2, ensure_ascii=False)


def as_table(stories: list[Story], since: float) -> str:
    if not stories:
        return f"no stories with near-duplicates in the last {format_duration(since)}"
    blocks = []
    for s in stories:
        head = (f"{s.size} records · {len(s.sites)} sites · first published "
                f"{s.first_published or '-'} · story {s.story_id}")
        sites = "  sites: " + ", ".join(s.sites)
        titles = [f"  - {t}" for t in s.titles[:_TITLES_SHOWN]]
        if len(s.titles) > _TITLES_SHOWN:
            titles.append(f"  ... and {len(s.titles) - _TITLES_SHOWN} more titles")
        blocks.append("\n".join([head, sites, *titles]))
    return "\n\n".join(blocks)
