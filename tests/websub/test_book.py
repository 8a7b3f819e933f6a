"""The book's rule for a feed's current subscription is the store's (`feed_subscription`),
so the once-a-second checks that read memory decide as the store would; a pending row
beside an active one is the feed's renewal waiting for its hub."""

from __future__ import annotations

import pytest

from ingest.models import Subscription
from ingest.state.sqlite import SqliteStore
from ingest.websub.book import SubscriptionBook

FEED = "https://news.example/feed.xml"


def row(cid: str, state: str, expires_at: float | None, requested_at: float) -> Subscription:
    return Subscription(cid, FEED, FEED, "https://hub.example/", "s" * 64, state,
                        600.0 if state == "active" else None, expires_at, requested_at)


@pytest.mark.parametrize("rows, current, renewal", [
    ([row("a", "active", 5000.0, 100.0), row("b", "active", 9000.0, 50.0),
      row("c", "pending", None, 9999.0)], "b", "c"),
    ([row("a", "pending", None, 100.0), row("b", "unsubscribing", 700.0, 300.0),
      row("c", "pending", None, 200.0)], "b", None),
    ([row("a", "pending", None, 100.0), row("b", "pending", None, 100.0)], "a", None),
    ([row("a", "active", 5000.0, 100.0), row("b", "pending", None, 300.0),
      row("c", "pending", None, 200.0)], "a", "b"),
])
def test_the_feeds_current_subscription_is_the_stores_and_its_renewal_the_newest_pending(
        tmp_path, rows, current, renewal):
    store = SqliteStore(tmp_path / "state.sqlite")
    try:
        for sub in rows:
            store.put_subscription(sub)
        book = SubscriptionBook(store)
        book.load()
        assert book.of_feed(FEED) == store.feed_subscription(FEED)
        assert book.of_feed(FEED).callback_id == current
        assert [s.callback_id for s in book] == [current]
        assert getattr(book.renewal_of(FEED), "callback_id", None) == renewal
    finally:
        store.close()
