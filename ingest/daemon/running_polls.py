"""The polls running now: one asyncio task per feed URL, counted in a gauge.

At shutdown `finish` gives them a grace period and cancels the rest; a cancelled poll
makes its own feed due again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from prometheus_client import Gauge

from ingest.models import FeedState
from ingest.units import format_duration

log = logging.getLogger("ingest.daemon")
Poll = Callable[[FeedState], Coroutine[Any, Any, None]]


class RunningPolls:
    def __init__(self, gauge: Gauge, on_done: Callable[[], object]) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}  # feed URL -> its running poll
        self._gauge = gauge
        self._on_done = on_done  # after each poll: its slot is free

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, leased: Mapping[str, FeedState], poll: Poll) -> int:
        """A task running ``poll(state)`` for each leased feed (URL: its state) not polled
        now; how many started."""
        fresh = [u for u in leased if u not in self._tasks]  # else: a long poll, lease renewed
        loop = asyncio.get_running_loop()
        for url in fresh:
            self._tasks[url] = task = loop.create_task(poll(leased[url]))
            task.add_done_callback(functools.partial(self._done, url))
        self._gauge.set(len(self._tasks))
        return len(fresh)

    def _done(self, url: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(url, None)
        self._gauge.set(len(self._tasks))
        self._on_done()

    async def finish(self, grace: float) -> None:
        """Let the running polls finish within ``grace`` seconds, cancel the rest."""
        if not self._tasks:
            return
        log.info("daemon: waiting up to %s for %d running polls",
                 format_duration(grace), len(self._tasks))
        late = await finish_tasks(self._tasks.values(), grace)
        if late:
            log.warning("daemon: cancelled %d polls; their feeds are due again", late)


async def finish_tasks(tasks: Iterable[asyncio.Task], grace: float) -> int:
    """Let ``tasks`` finish within ``grace`` seconds, cancel the rest; how many were
    cancelled."""
    running = list(tasks)
    if not running:
        return 0
    _, late = await asyncio.wait(running, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return len(late)
