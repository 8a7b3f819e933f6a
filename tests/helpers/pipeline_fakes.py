"""Fakes with the interfaces the pipeline uses, for its unit tests: the worker pool's jobs
run in-process, records kept in memory, a site answered by httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from ingest.config.model import Config, ExtractConfig, HttpConfig, OutputConfig, StateConfig
from ingest.errors import WorkerDied
from ingest.fetch.client import HttpClient
from ingest.models import Checkpoint, Feed
from ingest.pipeline.orchestrator import Pipeline
from ingest.pipeline.outcomes import PollResult
from ingest.state.sqlite import SqliteStore

from .newssite import Item, plain_page, rss

SITE = "https://news.example"
HTML = {"Content-Type": "text/html; charset=utf-8"}


class InlineWorkers:
    """The WorkerPool interface the pipeline uses, each job run in-process. ``fail(func)``
    picks the jobs that raise WorkerDied instead (their worker died under them)."""

    size = 1

    def __init__(self) -> None:
        self.fail = lambda func: False

    def start_soon(self) -> None:
        pass

    async def run(self, func, *args, timeout: float | None = None):
        if self.fail(func):
            raise WorkerDied("workers: the worker process died under the job")
        return func(*args)


class MemorySink:
    """The Sink Protocol, in memory: each batch appended, the count as its checkpoint."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def repair(self) -> list[str]:
        return []

    def unreconciled(self, checkpoints):
        return iter(())

    def write(self, records) -> dict[str, Checkpoint]:
        self.records.extend(records)
        return {"memory": Checkpoint(len(self.records))}

    def close(self) -> None:
        pass


class Site:
    """The feed and pages httpx.MockTransport answers with; every request is counted."""

    def __init__(self) -> None:
        self.answers: dict[str, httpx.Response] = {}
        self.requests: Counter[str] = Counter()

    def add(self, path: str, body: bytes = b"", status: int = 200, headers=None) -> str:
        self.answers[path] = httpx.Response(status, headers=headers or HTML, content=body)
        return SITE + path

    def article(self, path: str, number: int) -> str:
        return self.add(path, plain_page(f"Notizia {number}", number))

    def redirect(self, path: str, to: str) -> str:
        return self.add(path, status=301, headers={"Location": SITE + to})

    def feed(self, *items: Item) -> None:
        self.add("/feed.xml", rss(list(items)), headers={"Content-Type": "application/rss+xml"})

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests[request.url.path] += 1
        known = self.answers.get(request.url.path)
        if known is None:
            return httpx.Response(404, content=b"not found")
        return httpx.Response(known.status_code, headers=known.headers, content=known.content)


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def pipeline_config(tmp_path: Path, *feed_urls: str, **sections) -> Config:
    """A Config for ``feed_urls`` (named f0, f1, ...) with files under ``tmp_path``, no
    delay between requests to one host, one worker; ``sections`` replace the others."""
    feeds = tuple(Feed(f"f{i}", url) for i, url in enumerate(feed_urls))
    base = {"output": OutputConfig(dir=tmp_path / "out"),
            "state": StateConfig(path=tmp_path / "state.sqlite"),
            "http": HttpConfig(per_host_delay=0.0), "extract": ExtractConfig(workers=1)}
    return Config(path=tmp_path / "config.yaml", feeds=feeds, **{**base, **sections})


def poll_rounds(cfg: Config, site: Site, rounds: int = 1, *, between=None,
                workers: InlineWorkers | None = None) -> tuple[list[PollResult], MemorySink]:
    """``rounds`` polls of every feed of ``cfg``, in order, in one pipeline over a fresh
    store connection (a restart between two calls); ``between(i)`` runs before round i.
    Returns every poll's PollResult, in order, and the sink."""
    sink = MemorySink()

    async def go() -> list[PollResult]:
        store = SqliteStore(cfg.state.path)
        try:
            async with HttpClient(cfg.http, transport=httpx.MockTransport(site.answer),
                                  resolver=public_resolver) as http:
                pipeline = Pipeline(cfg, store, http, workers or InlineWorkers(), sink)
                results = []
                for i in range(rounds):
                    if between:
                        between(i)
                    for feed in cfg.feeds:
                        results.append(await pipeline.poll_feed(feed))
                return results
        finally:
            store.close()

    return asyncio.run(go()), sink
