"""A feed's hub and topic: its own links first, then its answer's Link header (bounded)."""

from __future__ import annotations

import pytest

from ingest.models import ParsedFeed
from ingest.websub.discovery import MAX_LINK_HEADER, feed_links, link_header

BASE = "https://news.example/feed.xml"


@pytest.mark.parametrize("value, found", [
    ('<https://hub.example/>; rel="hub"', {"hub": "https://hub.example/"}),
    ('<https://hub.example/>; rel=hub, </feed.xml>; rel="self"',
     {"hub": "https://hub.example/", "self": "https://news.example/feed.xml"}),
    ('<https://a.example/x,y>; rel="hub self"',  # a comma inside <>; two relations
     {"hub": "https://a.example/x,y", "self": "https://a.example/x,y"}),
    ('<https://first.example/>; rel="hub", <https://second.example/>; rel="hub"',
     {"hub": "https://first.example/"}),
    ('<https://news.example/>; rel="alternate"; type="text/html"', {}),
    ('<javascript:alert(1)>; rel="hub"', {}),  # not http(s)
    ('<https://hub.example/; rel="hub"', {}),  # unclosed
    ("", {}),
    (None, {}),
    ("<" * 100_000, {}),  # read only up to its bound
    (" " * MAX_LINK_HEADER + '<https://hub.example/>; rel="hub"', {}),
])
def test_link_header(value, found):
    assert link_header(value, BASE) == found


def test_the_feeds_own_links_win_over_the_header():
    header = {"link": '<https://header-hub.example/>; rel="hub", <https://x.example/s>; rel=self'}
    assert feed_links(ParsedFeed(entries=(), hub="https://own-hub.example/"), header, BASE) == (
        "https://own-hub.example/", "https://x.example/s")
    assert feed_links(ParsedFeed(entries=()), {}, BASE) == (None, None)
