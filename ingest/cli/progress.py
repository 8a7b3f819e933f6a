"""The live progress line of `ingest fetch`, drawn with rich on a terminal's stderr.

Shown only when stderr is a terminal, the log format is text and ``-q`` was not
given; otherwise `fetch_progress` yields no callback and nothing is drawn, so
cron mails and pipes get the summary alone. The pipeline reports through
``on_event(kind, value)``: "feed" with a PollResult when a poll ends, "article"
with a count when records are written. While the line is shown, log lines are
printed above it instead of through it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from ingest.pipeline.events import EventCallback
from ingest.pipeline.outcomes import PollResult


def wanted(quiet: int, log_format: str, stream=None) -> bool:
    """Progress only for people: a terminal, text logs, not ``-q``."""
    stream = stream or sys.stderr
    if quiet or log_format != "text" or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


@contextlib.contextmanager
def fetch_progress(total_feeds: int, enabled: bool) -> Iterator[EventCallback | None]:
    """Draw progress while the block runs; yield the pipeline's ``on_event`` (or None)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("fetch"), BarColumn(), MofNCompleteColumn(), TextColumn("feeds"),
                   TextColumn("· {task.fields[articles]} articles written"),
                   TextColumn("· {task.fields[failed]} failed"), TimeElapsedColumn(),
                   TextColumn("{task.fields[last]}", style="dim"),
                   console=Console(stderr=True), redirect_stdout=False)
    task = bar.add_task("fetch", total=total_feeds, articles=0, failed=0, last="")
    counts = {"articles": 0, "failed": 0}

    def on_event(kind: str, value: object) -> None:
        if kind == "feed" and isinstance(value, PollResult):
            counts["failed"] += 0 if value.ok else 1
            bar.update(task, advance=1, failed=counts["failed"], last=value.feed.name)
        elif kind == "article" and isinstance(value, int):
            counts["articles"] += int(value)
            bar.update(task, articles=counts["articles"])

    with bar, _logs_above(bar):
        yield on_event
        bar.update(task, last="")


@contextlib.contextmanager
def _logs_above(bar) -> Iterator[None]:
    """Point our log handlers at rich's console so lines appear above the bar."""
    moved = []
    for handler in logging.getLogger("ingest").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
            moved.append(handler)
            handler.setStream(_ConsoleWriter(bar.console))
    try:
        yield
    finally:
        for handler in moved:
            handler.setStream(sys.__stderr__)


class _ConsoleWriter:
    """A text stream that prints whole lines through a rich console."""

    def __init__(self, console) -> None:
        self.console = console

    def write(self, text: str) -> int:
        text = text.rstrip("\n")
        if text:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass
