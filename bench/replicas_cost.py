"""The database's cost of a poll, counted through bench/replicas_proxy.py.

In-process: `Pipeline.poll_feed` (ingest.pipeline.app.open_pipeline, state.url pointing
at the proxy) over every feed of a ClusterSite, phase by phase: an idle stretch first (the
store's own background turns, such as a heartbeat, per second: subtracted from every phase
by its length), first polls, unchanged polls (304) one at a time and many at once, polls
with one new article per feed and with five. Then the real daemon: one `ingest run`
replica through the proxy on feeds that no longer change, its turns per poll counted over
a window after its first round (dispatch, leases and heartbeat included).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import write_config
from bench.replicas_cluster import Cluster
from bench.replicas_db import DatabaseCpu, proxied, proxy_target
from bench.replicas_proxy import CountingProxy, Counts
from tests.helpers.clustersite import ClusterSite
from tests.helpers.daemonrun import wait_for
from tests.helpers.postgres import PostgresServer


@dataclass
class Phase:
    name: str
    polls: int
    counts: Counts
    seconds: float
    db_cpu: float | None
    outcomes: dict[str, int] = field(default_factory=dict)
    written: int = 0

    def net_turns(self, idle_rate: float) -> float:
        """Turns less the store's background turns over the same time."""
        return self.counts.turns - idle_rate * self.seconds


@dataclass
class Cost:
    feeds: int
    idle: Phase | None = None
    phases: dict[str, Phase] = field(default_factory=dict)
    daemon: Phase | None = None  # one `ingest run` replica on unchanged feeds

    @property
    def idle_rate(self) -> float:
        return self.idle.counts.turns / self.idle.seconds if self.idle else 0.0


class _Meter:
    def __init__(self, proxy: CountingProxy, cpu: DatabaseCpu) -> None:
        self.proxy, self.cpu = proxy, cpu

    async def phase(self, name: str, polls: int, work: Callable[[], Awaitable[list]]) -> Phase:
        counts, cpu, started = self.proxy.snapshot(), self.cpu.seconds(), time.monotonic()
        results = await work()
        seconds = time.monotonic() - started
        cpu_after = self.cpu.seconds()
        phase = Phase(name, polls, self.proxy.snapshot() - counts, seconds,
                      None if cpu is None or cpu_after is None else cpu_after - cpu)
        for r in results:
            phase.outcomes[r.outcome] = phase.outcomes.get(r.outcome, 0) + 1
            phase.written += r.written
        return phase


def _config(work: Path, site: ClusterSite, url: str, args: argparse.Namespace,
            daemon: bool = False) -> Path:
    schedule = {"interval": f"{args.interval}s", "min_interval": f"{args.min_interval}s",
                "max_interval": f"{args.max_interval}s", "shutdown_grace": "10s"}
    return write_config(
        work, site.feeds, state={"url": url},
        http={"per_host_delay": args.cost_delay, "per_host_concurrency": args.concurrency,
              "timeout": 10},
        extract={"workers": 1}, **({"schedule": schedule, "server": {"host": "127.0.0.1"}}
                                   if daemon else {}))


async def _in_process(config: Path, site: ClusterSite, meter: _Meter, cost: Cost,
                      args: argparse.Namespace) -> None:
    from ingest.config.load import load_config
    from ingest.pipeline.app import open_pipeline

    cfg = load_config(config, env={})
    async with open_pipeline(cfg) as pipeline:
        feeds = list(cfg.feeds)

        def poll_all(at_once: int) -> Callable[[], Awaitable[list]]:
            async def work() -> list:
                gate = asyncio.Semaphore(at_once)

                async def one(feed):  # noqa: ANN001, ANN202 - a Feed, its PollResult
                    async with gate:
                        return await pipeline.poll_feed(feed)

                return list(await asyncio.gather(*(one(f) for f in feeds)))
            return work

        async def idle() -> list:
            await asyncio.sleep(args.idle)
            return []

        cost.idle = await meter.phase("idle (store open, no poll)", 0, idle)
        many = args.at_once
        steps: list[tuple[str, int, int]] = [  # (name, new articles per feed, polls at once)
            ("first poll, 1 article per feed", 0, many), ("unchanged (304), one at a time", 0, 1),
            (f"unchanged (304), {many} at once", 0, many), ("1 new article per feed", 1, many),
            ("5 new articles per feed", 5, many)]
        for name, new, at_once in steps:
            if new:
                site.publish(new)
            cost.phases[name] = await meter.phase(name, len(feeds), poll_all(at_once))


def _daemon(work: Path, config: Path, site: ClusterSite, meter: _Meter,
            args: argparse.Namespace) -> Phase:
    """One replica on unchanged feeds: turns and DB CPU per poll over --daemon-window s."""
    cluster = Cluster(work, config)
    try:
        cluster.start("cost")
        feeds = {url for _, url in site.feeds}

        def polled_all() -> bool:
            seen = {f"http://{r.host}{r.path}" for r in site.requests() if r.agent.endswith("/cost")}
            return feeds <= seen

        wait_for(polled_all, 120, cluster.tails)

        async def window() -> list:
            await asyncio.sleep(args.daemon_window)
            return []

        before = len(site.requests())
        phase = asyncio.run(meter.phase("`ingest run`, unchanged feeds", 0, window))
        phase.polls = sum(1 for r in site.requests()[before:] if "/feeds/" in r.path)
        return phase
    finally:
        cluster.stop_all(30)


def measure(server: PostgresServer, work: Path, args: argparse.Namespace) -> Cost:
    cost = Cost(feeds=args.hosts * args.cost_feeds)
    for step in ("in-process", "daemon"):  # each on a site and a database of its own
        site = ClusterSite(hosts=args.hosts, feeds_per_host=args.cost_feeds)
        try:
            site.publish(1)
            url = server.new_database()
            with CountingProxy(proxy_target(url)) as proxy:
                meter = _Meter(proxy, DatabaseCpu(url))
                config = _config(work / step, site, proxied(url, proxy.port), args,
                                 daemon=step == "daemon")
                if step == "daemon":
                    cost.daemon = _daemon(work / step, config, site, meter, args)
                else:
                    asyncio.run(_in_process(config, site, meter, cost, args))
        finally:
            site.close()
    return cost
