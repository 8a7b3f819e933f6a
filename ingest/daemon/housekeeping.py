"""The daemon's daily compaction of the state store.

Seen marks older than ``state.retention`` go, and so do learned footer lines that did
not recur within FOOTER_LINES_KEPT and near-duplicate index entries older than
``dedup.window``.
"""

from __future__ import annotations

import logging

from ingest.state.store import Store
from ingest.units import format_duration

log = logging.getLogger("ingest.daemon")
FOOTER_LINES_KEPT = 30 * 86400.0  # a learned line that did not recur in this long goes


def compact(store: Store, retention: float, min_count: int, now: float,
            story_window: float) -> None:
    """Forget old seen marks, the footer lines seen in fewer than ``min_count`` articles
    and not within FOOTER_LINES_KEPT, and the stories indexed before ``story_window``."""
    dropped = store.forget_seen_before(now - retention)
    log.info("state: compaction dropped %d seen marks older than %s", dropped,
             format_duration(retention))
    # Footer learning counts every short line of every article; the lines that did not
    # recur within FOOTER_LINES_KEPT are body text, not footers.
    dropped = store.forget_footer_lines(now - FOOTER_LINES_KEPT, min_count)
    log.info("state: compaction dropped %d footer lines seen in fewer than %d articles "
             "and not for %s", dropped, min_count, format_duration(FOOTER_LINES_KEPT))
    dropped = store.forget_stories_before(now - story_window)
    log.info("state: compaction dropped %d records from the near-duplicate index (older "
             "than %s)", dropped, format_duration(story_window))
