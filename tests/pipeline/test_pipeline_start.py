"""The pipeline starts the worker processes early for a feed it has never polled."""

from __future__ import annotations

import asyncio

import pytest

from helpers.faultserver import FaultServer
from helpers.newssite import write_config
from ingest.config.load import load_config
from ingest.pipeline.app import open_pipeline

pytestmark = pytest.mark.timeout(60)


def test_a_new_feed_starts_the_workers_with_its_request_and_a_known_one_does_not(tmp_path):
    server = FaultServer().start()  # /feed.xml answers 404: no job will ever be queued
    try:
        cfg = load_config(write_config(tmp_path / "config.yaml", [("gone", server.url("/feed.xml"))]),
                          env={})
        (tmp_path / "state").mkdir()  # `ingest fetch` makes it; open_pipeline expects it

        async def poll_twice() -> list[tuple[str, bool]]:
            async with open_pipeline(cfg) as pipeline:
                seen = []
                for _ in range(2):
                    pipeline.workers._starting = None  # forget the earlier start
                    result = await pipeline.poll_feed(cfg.feeds[0])
                    seen.append((result.outcome, pipeline.workers._starting is not None))
                return seen

        first, second = asyncio.run(poll_twice())
    finally:
        server.close()
    assert first == ("failed", True)    # never polled: workers started though it failed
    assert second == ("failed", False)  # polled before: nothing started for it
