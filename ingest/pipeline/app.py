"""Build the parts a pipeline needs from a Config, and close them in order.

Both shells (the `fetch` command and the daemon) open the pipeline here, so there is one
way to wire store, sink, HTTP client and workers together, and one place where a backend
is chosen: ``state.url`` puts the state in PostgreSQL (shared by replicas: their output
files carry the replica's name, and per-host politeness goes through the store), else it
is the SQLite file at ``state.path``; ``output.sink: postgres`` writes records into a
table of that database instead of files.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ingest.config.model import Config, StateConfig
from ingest.fetch.client import HttpClient
from ingest.fetch.shared_gate import SharedHostGate, TurnLedger
from ingest.pipeline.events import EventCallback
from ingest.pipeline.orchestrator import Pipeline
from ingest.sink.base import Sink
from ingest.sink.jsonl import JsonlSink
from ingest.state.store import Store
from ingest.workers.pool import WorkerPool

HOLD_MARGIN = 30.0  # seconds a host's turn outlives the request deadline (a dead holder's)


def open_store(state: StateConfig, *, wait: bool = False) -> Store:
    """The configured store; ``wait``: for a database, up to ``state.connect_timeout``."""
    if state.url:
        from ingest.state.postgres import PostgresStore

        return PostgresStore(state.url, replica=state.replica,
                             connect_timeout=state.connect_timeout if wait else 0.0)
    from ingest.state.sqlite import SqliteStore

    return SqliteStore(state.path, lock_timeout=state.lock_timeout, replica=state.replica)


def open_sink(cfg: Config) -> Sink:
    if cfg.output.sink == "postgres":
        from ingest.sink.postgres import PostgresSink

        assert cfg.state.url  # load_config refuses the postgres sink without one
        return PostgresSink(cfg.state.url, cfg.output.table)
    return JsonlSink.from_config(cfg.output, replica=cfg.state.replica if cfg.state.url else None)


def open_http(cfg: Config, store: Store) -> HttpClient:
    """One HTTP client. A store that hands out host turns is shared by replicas: the
    politeness of every replica together goes through it."""
    http = cfg.http
    gate = None
    if isinstance(store, TurnLedger):
        gate = SharedHostGate(store, http.per_host_concurrency, http.per_host_delay,
                              hold=http.timeout + HOLD_MARGIN)
    # robots.txt copies are kept in the store: a day, across runs and replicas
    return HttpClient(http, gate=gate, rests=store, robots_cache=store if http.robots else None)


@contextlib.asynccontextmanager
async def open_pipeline(cfg: Config, *, on_event: EventCallback | None = None,
                        sink: Sink | None = None, wait: bool = False) -> AsyncIterator[Pipeline]:
    """``sink``: where records go instead of cfg.output (``ingest fetch -o -``); ``wait``:
    for the database at start (the daemon: containers start before their database)."""
    store = open_store(cfg.state, wait=wait)
    try:
        if sink is None:
            sink = open_sink(cfg)
        workers = WorkerPool(cfg.extract.workers, timeout=cfg.extract.timeout)
        try:
            async with open_http(cfg, store) as http:
                yield Pipeline(cfg, store, http, workers, sink, on_event=on_event)
        finally:
            workers.close()
            sink.close()
    finally:
        store.close()
