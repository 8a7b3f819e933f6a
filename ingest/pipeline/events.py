"""What the pipeline reports while it works, for a live display (`ingest.cli.progress`).

``on_event(kind, value)``: "feed" with the poll's PollResult when a poll ends, "article"
with a count when records are written.
"""

from __future__ import annotations

from collections.abc import Callable

EventCallback = Callable[[str, object], None]


def no_events(kind: str, value: object) -> None:
    """The callback when nothing listens."""
