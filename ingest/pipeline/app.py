"""Build the parts a pipeline needs from a Config, and close them in order.

Both shells (the `fetch` command and the daemon) open the pipeline here, so
there is one way to wire store, sink, HTTP client and workers together.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ingest.config.model import Config
from ingest.fetch.client import HttpClient
from ingest.pipeline.events import EventCallback
from ingest.pipeline.orchestrator import Pipeline
from ingest.sink.base import Sink
from ingest.sink.jsonl import JsonlSink
from ingest.state.sqlite import SqliteStore
from ingest.workers.pool import WorkerPool


@contextlib.asynccontextmanager
async def open_pipeline(cfg: Config, *, on_event: EventCallback | None = None,
                        sink: Sink | None = None) -> AsyncIterator[Pipeline]:
    """``sink``: where records go instead of cfg.output (``ingest fetch -o -``)."""
    store = SqliteStore(cfg.state.path, lock_timeout=cfg.state.lock_timeout)
    try:
        if sink is None:
            sink = JsonlSink.from_config(cfg.output)
        workers = WorkerPool(cfg.extract.workers, timeout=cfg.extract.timeout)
        try:
            async with HttpClient(cfg.http) as http:
                yield Pipeline(cfg, store, http, workers, sink, on_event=on_event)
        finally:
            workers.close()
    finally:
        store.close()
