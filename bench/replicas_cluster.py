"""Real `ingest run` replicas on one PostgreSQL database, against a ClusterSite: publishing
on a clock, SIGKILLs with the victim's leases read just before, the records and the site's
log at the end."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import write_config
from bench.replicas_db import DatabaseCpu
from bench.speed_daemon import leftovers, log_counts
from tests.helpers.clustersite import ClusterSite, Request
from tests.helpers.daemonrun import Run, free_port, wait_for
from tests.helpers.postgres import PostgresServer


def agent(name: str) -> str:
    return f"ingest-bench/{name}"


@dataclass(frozen=True)
class Kill:
    victim: str
    at: float  # time.monotonic() just before the SIGKILL: the site's log has that clock
    leased: frozenset[str]  # the feed URLs the victim held then
    ready_after: float  # seconds until the restarted replica answered /healthz


@dataclass
class Outcome:
    label: str
    replicas: int
    published: int = 0
    records: list[dict] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    codes: list[int | None] = field(default_factory=list)  # exit codes after SIGTERM
    db_cpu: float | None = None  # seconds, over the whole run
    seconds: float = 0.0
    settled: bool = False  # every published article written before --settle ran out
    logs: dict[str, int] = field(default_factory=dict)  # log lines by level, and tracebacks
    left: int = 0  # processes left behind (after SIGKILLs and SIGTERMs), killed by the bench


class Publisher(threading.Thread):
    """One new article on every feed each ``every`` s, until stopped."""

    def __init__(self, site: ClusterSite, every: float) -> None:
        super().__init__(daemon=True)
        self.site, self.every, self._done = site, every, threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.site.publish(1)

    def stop(self) -> None:
        self._done.set()
        self.join()


class Cluster:
    """Named replicas of `ingest run` on one config, each with its own User-Agent, replica
    identity and ops port; a restarted replica appends to its log."""

    def __init__(self, work: Path, config: Path) -> None:
        self.work, self.config = work, config
        self.runs: dict[str, Run] = {}

    def start(self, name: str) -> float:
        """Start replica ``name``; the seconds until it answered /healthz."""
        port, started = free_port(), time.monotonic()
        self.runs[name] = Run(self.config, port, self.work / f"{name}.log", ready_within=120,
                              answer_within=5, env={
                                  "INGEST_STATE_REPLICA": name,
                                  "INGEST_HTTP_USER_AGENT": agent(name),
                                  "INGEST_SERVER_PORT": str(port)})
        return time.monotonic() - started

    def start_all(self, names: list[str]) -> None:
        """Start replicas side by side (each start mostly waits for its interpreter)."""
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(self.start, names))

    def stop_all(self, timeout: float) -> list[int | None]:
        """SIGTERM to every replica at once, then their exit codes (None: still running)."""
        for run in self.runs.values():
            run.proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        deadline = time.monotonic() + timeout
        for run in self.runs.values():
            try:
                codes.append(run.proc.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                codes.append(None)
            run.kill()
        return codes

    def logs(self) -> dict[str, int]:
        counts: dict[str, int] = {"WARNING": 0, "ERROR": 0, "CRITICAL": 0, "Traceback": 0}
        for run in self.runs.values():
            for level, n in log_counts(run.log).items():
                counts[level] += n
            counts["Traceback"] += run.text().count("Traceback")
        return counts

    def tails(self) -> str:
        return "\n".join(f"--- {name}\n{run.tail(20)}" for name, run in self.runs.items())


def records(out: Path) -> list[dict]:
    """Every record under ``out`` (all replicas' files)."""
    found: list[dict] = []
    for path in sorted([*out.rglob("*.jsonl"), *out.rglob("*.jsonl.gz")]):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        complete = data[:data.rfind(b"\n") + 1]  # a line being written is not a record yet
        found.extend(json.loads(line) for line in complete.splitlines() if line.strip())
    return found


def _config(work: Path, site: ClusterSite, url: str, args: argparse.Namespace) -> Path:
    return write_config(
        work, site.feeds, state={"url": url},
        http={"per_host_delay": args.delay, "per_host_concurrency": args.concurrency,
              "timeout": 10},
        extract={"workers": 1},
        schedule={"interval": f"{args.interval}s", "min_interval": f"{args.min_interval}s",
                  "max_interval": f"{args.max_interval}s", "shutdown_grace": "10s"},
        server={"host": "127.0.0.1"})


def _kill(cluster: Cluster, victim: str, url: str, wait: float) -> Kill:
    """SIGKILL ``victim`` once it holds a lease (at most ``wait`` s), and restart it."""
    from ingest.state.postgres import PostgresStore

    store = PostgresStore.open_readonly(url)
    try:
        deadline = time.monotonic() + wait
        while True:
            leased = frozenset(f for f, owner in store.leases().items() if owner == victim)
            if leased or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    finally:
        store.close()
    at = time.monotonic()
    cluster.runs[victim].kill()  # SIGKILL: no shutdown, its leases left behind
    return Kill(victim, at, leased, cluster.start(victim))


def _kill_on_schedule(cluster: Cluster, url: str, args: argparse.Namespace, kills: int,
                      started: float) -> list[Kill]:
    """``kills`` SIGKILLs of the last replica, spread over --duration; then the rest of it."""
    done = []
    victim = sorted(cluster.runs)[-1]
    for k in range(kills):
        time.sleep(max(0.0, started + args.duration * (k + 1) / (kills + 1) - time.monotonic()))
        done.append(_kill(cluster, victim, url, args.lease_wait))
    time.sleep(max(0.0, started + args.duration - time.monotonic()))
    return done


def _written_all(out: Path, site: ClusterSite) -> bool:
    try:
        return len({r.get("url") for r in records(out)}) >= site.published
    except (OSError, EOFError, ValueError):  # a gzip member being written: ask again
        return False


def run_scenario(server: PostgresServer, work: Path, args: argparse.Namespace, label: str,
                 replicas: int, kills: int) -> Outcome:
    """One scenario on a fresh database and site; the kills hit the last replica."""
    outcome = Outcome(label, replicas)
    url = server.new_database()
    site = ClusterSite(hosts=args.hosts, feeds_per_host=args.feeds, page_delay=args.page_delay)
    try:
        site.publish(1)
        cluster = Cluster(work, _config(work, site, url, args))
        cpu = DatabaseCpu(url)
        cpu_before, started = cpu.seconds(), time.monotonic()
        try:
            cluster.start_all([f"r{i}" for i in range(replicas)])
            publisher = Publisher(site, args.publish_every)
            publisher.start()
            try:
                outcome.kills = _kill_on_schedule(cluster, url, args, kills, time.monotonic())
            finally:
                publisher.stop()
            with contextlib.suppress(AssertionError):  # not settled: the table says so
                wait_for(lambda: _written_all(work / "out", site), args.settle, every=1.0)
                outcome.settled = True
        finally:
            outcome.codes = cluster.stop_all(60)
        outcome.seconds = time.monotonic() - started
        cpu_after = cpu.seconds()
        if cpu_before is not None and cpu_after is not None:
            outcome.db_cpu = cpu_after - cpu_before
        outcome.published, outcome.requests = site.published, site.requests()
    finally:
        site.close()
    outcome.records, outcome.logs = records(work / "out"), cluster.logs()
    outcome.left = _reap(cpu.postmaster)
    return outcome


def _reap(keep: int) -> int:
    """Kill (by pid) this bench's adopted descendants that outlived their replica."""
    left = [pid for pid in leftovers(5.0) if pid != keep]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    leftovers(5.0)
    return len(left)
