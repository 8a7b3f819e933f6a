"""What both backends store the same way: a feed's state as a JSON object, the
near-duplicate index's rows read back as models, and the WebSub subscriptions' SQL.

A feed row that cannot be read (corrupt JSON, wrong types) is logged and the feed starts
afresh: the row only holds validators, schedule and counters, which the next poll
rebuilds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from pathlib import Path

from ingest.models import FeedState, Story, StoryEntry

log = logging.getLogger("ingest.state")

FEED_FIELDS = [f.name for f in fields(FeedState) if f.name != "url"]
_FIELD_TYPES = {"etag": str, "last_modified": str, "body_hash": str, "last_error": str,
                "failures": int, "articles_written": int, "extra": dict}

# a subscriptions row's columns, in the order of Subscription's fields (a row is
# Subscription(*row))
SUBSCRIPTION_COLUMNS = ("callback_id, feed_url, topic, hub, secret, state, lease_seconds, "
                        "expires_at, requested_at")
# a feed's current subscription first: its active one with the latest lease end, else its newest
FEED_SUBSCRIPTION_ORDER = ("(state = 'active') DESC, CASE WHEN state = 'active' THEN "
                           "COALESCE(expires_at, 0) ELSE requested_at END DESC, callback_id")
# an upsert of a subscriptions row: the one with its callback id is replaced whole
SUBSCRIPTION_UPSERT = ("ON CONFLICT (callback_id) DO UPDATE SET feed_url = excluded.feed_url, "
                       "topic = excluded.topic, hub = excluded.hub, secret = excluded.secret, "
                       "state = excluded.state, lease_seconds = excluded.lease_seconds, "
                       "expires_at = excluded.expires_at, requested_at = excluded.requested_at")


def feed_data(state: FeedState) -> str:
    """The JSON text a feed row holds."""
    return json.dumps({name: getattr(state, name) for name in FEED_FIELDS})


def read_feed_state(url: str, text: str, where: str | Path) -> FeedState:
    """A feed row as a FeedState; a fresh one (logged, naming the store ``where``) for a
    row that cannot be read."""
    try:
        return feed_state(url, text)
    except ValueError as exc:
        log.error("state: the saved state of feed %s in %s is unreadable (%s); the feed "
                  "starts afresh (its validators, schedule and counters are lost)",
                  url, where, exc)
        return FeedState(url=url)


def feed_state(url: str, text: str) -> FeedState:
    """A feed row's JSON as a FeedState; ValueError says what is wrong with it."""
    data = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    values = {k: v for k, v in data.items() if k in FEED_FIELDS and v is not None}
    for name, value in values.items():
        wanted = _FIELD_TYPES.get(name, (int, float))
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ValueError(f"{name} is {value!r}")
    return FeedState(url=url, **values)


def stories_of(rows: list[tuple]) -> list[Story]:
    """Stories from their records' rows ``(story_id, site, title, published, indexed_at)``
    in the order they were indexed: biggest first, then earliest first seen, story id."""
    members: dict[str, list[tuple]] = {}
    for row in rows:
        members.setdefault(row[0], []).append(row)
    found = [story_of(story_id, rows) for story_id, rows in members.items()]
    return sorted(found, key=lambda s: (-s.size, s.first_seen, s.story_id))


def story_of(story_id: str, rows: list[tuple]) -> Story:
    """A story from its records' rows, in the order they were indexed."""
    published = [row[3] for row in rows if row[3]]
    return Story(story_id=story_id, size=len(rows),
                 first_published=min(published) if published else None,
                 first_seen=rows[0][4],
                 sites=tuple(dict.fromkeys(row[1] for row in rows if row[1])),
                 titles=tuple(dict.fromkeys(row[2] for row in rows if row[2])))


def story_entry(row: tuple) -> StoryEntry:
    record_id, story_id, signature, site, title, published, indexed_at = row
    return StoryEntry(record_id=record_id, story_id=story_id, signature=bytes(signature),
                      site=site, title=title, published=published, indexed_at=indexed_at)
