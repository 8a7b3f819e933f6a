"""The background work of the daemon's WebSub (`ingest.daemon.websub_jobs`): hub requests
and pushed deliveries run as tasks, tracked so that a shutdown gives them its grace.

`Deliveries` is the callback's ``on_delivery``: each signed delivery is worked by
`Pipeline.take_delivery` in a task, one at a time per feed; a delivery for a feed no
longer configured, or during shutdown, is dropped (the next poll reads the feed anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from ingest.daemon.metrics import Metrics
from ingest.daemon.running_polls import finish_tasks
from ingest.errors import IngestError
from ingest.models import Feed, Subscription
from ingest.pipeline.orchestrator import Pipeline

log = logging.getLogger("ingest.websub")


class Tasks:
    """Tasks started for WebSub, each kept until it ends; `finish` at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self.stopping = False

    def __len__(self) -> int:
        """Tasks running now."""
        return len(self._tasks)

    def track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self, grace: float) -> None:
        """Let deliveries and requests finish within ``grace`` seconds, cancel the rest."""
        self.stopping = True
        late = await finish_tasks(self._tasks, grace)
        if late:
            log.warning("websub: cancelled %d deliveries or hub requests", late)


class Deliveries:
    """Signed deliveries, worked through the pipeline in tasks, one at a time per feed."""

    def __init__(self, pipeline: Pipeline, metrics: Metrics,
                 feeds: Callable[[], Mapping[str, Feed]], tasks: Tasks) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self._feeds = feeds  # the configured feeds now, by URL (a reload changes them)
        self._tasks = tasks
        self._locks: dict[str, asyncio.Lock] = {}  # feed URL -> its deliveries, one at a time

    def __call__(self, sub: Subscription, body: bytes, content_type: str) -> None:
        feed = self._feeds().get(sub.feed_url)
        if feed is None or self._tasks.stopping:
            log.info("websub: %s: delivery dropped (%s)", sub.feed_url,
                     "stopping" if self._tasks.stopping
                     else "the feed is no longer configured")
            return
        self._tasks.track(self._take(feed, body, content_type))

    async def _take(self, feed: Feed, body: bytes, content_type: str) -> None:
        lock = self._locks.setdefault(feed.url, asyncio.Lock())
        try:
            async with lock:
                result = await self._pipeline.take_delivery(feed, body, content_type)
        except IngestError as exc:
            log.error("websub: %s: delivery not worked: %s", feed.name, exc)
            return
        except Exception:  # a bug must not stop the other deliveries
            log.exception("websub: %s: delivery not worked", feed.name)
            return
        self._metrics.count_work(result)
        if result.ok:
            log.info("websub: %s: delivery %s, %d written, %.1fs", feed.name, result.outcome,
                     result.written, result.seconds)
        else:
            log.warning("websub: %s: delivery failed (%s): %s", feed.name, result.error_kind,
                        result.error)
