"""`ingest run`: an APScheduler shell around `Pipeline.poll_feed`, the per-feed function.

The store is the schedule (`ingest.daemon.schedule` decides every ``next_poll_at``), so a
restart resumes where it stopped. APScheduler runs three short jobs in the loop:
``dispatch`` (every second: lease due feeds for the free concurrency slots and poll
each in a task), ``check_feeds`` (stale/failing gauges and log lines) and
``compact`` (daily: `ingest.daemon.housekeeping`). SIGHUP reloads feeds and schedule
(`ingest.daemon.feed_sync`); SIGTERM/SIGINT stop dispatching, give running polls
shutdown_grace, cancel the rest (their feeds become due again) and exit 0. The
sink writes whole batches synchronously, so a cancelled poll never tears a line. With
``server.public_url``, WebSub hubs push feeds too (`ingest.daemon.websub_jobs`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import NoReturn

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ingest.config.model import Config, log_secrets
from ingest.daemon import schedule
from ingest.daemon.clock_step import ClockStepWatch
from ingest.daemon.endpoints import ops_routes, readiness
from ingest.daemon.feed_sync import log_reload, reload_config, reschedule, sync_schedule
from ingest.daemon.housekeeping import compact
from ingest.daemon.http_server import OpsServer
from ingest.daemon.metrics import Metrics, log_newly_stale, log_poll, survey
from ingest.daemon.running_polls import RunningPolls
from ingest.daemon.store_outage import StoreOutage
from ingest.daemon.websub_jobs import WebSubJobs
from ingest.errors import IngestError
from ingest.logs import redact_secrets
from ingest.models import Feed, FeedState
from ingest.pipeline.orchestrator import Pipeline
from ingest.pipeline.outcomes import PollResult
from ingest.redact import Redactor

log = logging.getLogger("ingest.daemon")
DISPATCH_EVERY, CHECK_EVERY, COMPACT_EVERY = 1.0, 30.0, 86400.0
ALIVE_WITHIN = 30.0  # /healthz fails when the dispatcher has not run for this long
ConfigPath = str | os.PathLike[str]


def run_daemon(cfg: Config, *, config_path: ConfigPath | None = None) -> int:
    from ingest.pipeline.app import open_pipeline

    async def main() -> int:
        async with open_pipeline(cfg, wait=True) as pipeline:
            return await Daemon(cfg, pipeline, config_path=config_path).run()

    # Until the daemon's own handlers are in place (start-up takes a second), a
    # stop request ends the process cleanly: nothing has been written yet.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_during_startup)
    return asyncio.run(main())


def _exit_during_startup(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


class Daemon:
    def __init__(self, cfg: Config, pipeline: Pipeline, *, config_path: ConfigPath | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.store = pipeline.store
        self.metrics = Metrics()
        self.server: OpsServer | None = None
        self.config_path: ConfigPath = config_path or cfg.path
        self._clock = clock
        self._rng = rng or random.Random()
        self._feeds = {f.url: f for f in cfg.feeds}
        # a finished poll's slot is filled at once, not at the next tick, while the last
        # claim took all it asked for (more may be due); else the next tick claims
        self._more_due = False
        self._polls = RunningPolls(self.metrics.in_flight, self._refill)
        self._scheduler = AsyncIOScheduler()
        self._stopping = False
        self._stale: set[str] = set()  # the stale feeds of the last check
        self._clock_step = ClockStepWatch(self.store, clock, monotonic)
        self._outage = StoreOutage()
        self._handed_back: dict[str, float | None] = {}  # feed URL -> when due; lease to end
        self._websub = WebSubJobs.when_on(cfg, pipeline, self.metrics, lambda: self._feeds,
                                          clock=clock)

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the config."""
        loop, stop = asyncio.get_running_loop(), asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_stop, sig, stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            await self.start()
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()
        return 0

    async def start(self) -> None:
        self.pipeline.recover()
        self.sync_feeds()
        if self._websub is not None:
            self._websub.start()
        if self.cfg.server.port:
            self.server = OpsServer(self.cfg.server.host, self.cfg.server.port, ops_routes(
                alive=self.alive, ready=lambda: readiness(self.store, self.cfg.output.dir),
                metrics=self.metrics, status=self.status), token=self.cfg.server.token,
                **(self._websub.server_options() if self._websub else {}))
            await self.server.start()
        now = datetime.now(UTC)
        jobs = [(self.dispatch, DISPATCH_EVERY, now), (self.check_feeds, CHECK_EVERY, now),
                (self.compact, COMPACT_EVERY, now + timedelta(minutes=5))]
        if self._websub is not None:  # renewals are read from memory: a cheap check
            jobs.append((self._websub.renew_due, DISPATCH_EVERY, now))
        for func, every, first in jobs:
            self._scheduler.add_job(_in_loop(func), "interval", seconds=every, id=func.__name__,
                                    max_instances=1, coalesce=True, next_run_time=first)
        self._scheduler.start()
        ops = f"; ops on http://{self.server.host}:{self.server.port}" if self.server else ""
        log.info("daemon: polling %d feeds, %d at a time%s", len(self._feeds),
                 self.cfg.schedule.concurrency, ops)

    async def stop(self) -> None:
        """Let running polls finish within the grace period, cancel the rest."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        grace = self.cfg.schedule.shutdown_grace
        await asyncio.gather(self._polls.finish(grace),
                             *([self._websub.tasks.finish(grace)] if self._websub else []))
        if self.server is not None:
            await self.server.close()
        log.info("daemon: stopped")

    # -- dispatch ----------------------------------------------------------------------
    def dispatch(self) -> int:
        """Lease due feeds for the free slots and start their polls; how many started."""
        self._clock_step.tick()
        free = self.cfg.schedule.concurrency - len(self._polls)
        if self._stopping or free <= 0:
            return 0
        try:
            self._save_handed_back()
            leased = self.store.claim_due_feeds(self._clock(), free)
        except IngestError as exc:
            self._outage.failed(exc)
            return 0
        self._outage.answered()
        self._more_due = len(leased) >= free
        return self._polls.start({state.url: state for state in leased}, self._poll)

    def _refill(self) -> None:
        if self._more_due:
            _guarded(self.dispatch)

    async def _poll(self, state: FeedState) -> None:
        url = state.url
        feed = self._feeds.get(url)
        if feed is None:  # removed from the config since it was scheduled
            self._hand_back(url, None)
            return
        later = self._clock() + self.cfg.schedule.min_interval
        changes: list[schedule.Change] = []
        try:
            unconditional = schedule.wants_refresh(state, self._clock())
            result = await self.pipeline.poll_feed(
                feed, state=state, unconditional=unconditional,
                before_save=functools.partial(self._plan, feed, unconditional, changes))
        except asyncio.CancelledError:
            self._hand_back(url, self._clock())
            raise
        except IngestError as exc:  # the store failed
            log.error("poll %s: %s", feed.name, exc)
            self._hand_back(url, later)
            return
        except Exception:  # a bug must not stop the other feeds
            log.exception("poll %s: unexpected error", feed.name)
            self._hand_back(url, later)
            return
        if not result.saved:
            self._hand_back(url, later)
        if self._websub is not None:
            self._websub.after_poll(feed, result)
        self.metrics.observe(result, state)
        for change in changes:
            if change.became_failing or change.recovered:
                self.metrics.failing.inc(1 if change.became_failing else -1)
            log_poll(result, change, state.failures, self.cfg.schedule.max_interval)

    def _hand_back(self, url: str, at: float | None) -> None:
        """End a poll whose state was not saved: its feed is due at ``at``. A lease lives
        as long as this process, so while the store refuses, the feed waits here and is
        handed back by the next dispatch that reaches the store."""
        try:
            reschedule(self.store, url, at)
            self._handed_back.pop(url, None)
        except IngestError:
            self._handed_back[url] = at

    def _save_handed_back(self) -> None:
        for url, at in list(self._handed_back.items()):
            reschedule(self.store, url, at)
            del self._handed_back[url]

    def _plan(self, feed: Feed, unconditional: bool, changes: list[schedule.Change],
              state: FeedState, result: PollResult) -> None:
        """The next poll, set on the state the pipeline is about to store."""
        changes.append(schedule.plan_after_poll(
            state, result, schedule.base_interval(feed, self.cfg.schedule), self.cfg.schedule,
            self._clock(), self._rng, unconditional=unconditional,
            pushed=self._websub is not None and self._websub.pushed(feed.url)))
        if feed.url not in self._feeds:  # removed by a reload while it ran
            state.next_poll_at = None

    # -- feeds and config ------------------------------------------------------------
    def sync_feeds(self) -> None:
        """Schedule new or re-timed feeds (first polls spread), park removed ones."""
        sync_schedule(self.store, self._feeds.values(), self.cfg.schedule, self._clock(),
                      self._rng)

    def reload(self) -> bool:
        """SIGHUP: apply the file's feeds and schedule; on any error keep the running ones."""
        old_cfg, old = self.cfg, self._feeds
        try:
            new, self.cfg = reload_config(self.cfg, self.config_path)
            self._feeds = {f.url: f for f in new.feeds}
            self.sync_feeds()
        except IngestError as exc:
            self.cfg, self._feeds = old_cfg, old
            log.error("daemon: reload failed, still running the previous config: %s", exc)
            return False
        # feeds added by the reload are kept out of the log lines too (and removed ones,
        # whose last polls may still be running)
        redact_secrets(Redactor([*old, *self._feeds],
                                secrets=log_secrets(self.cfg, [*old.values(), *new.feeds])))
        for name in {f.name for f in old.values()} - {f.name for f in new.feeds}:
            self.metrics.forget(name)
        if self._websub is not None:
            self._websub.removed(old.keys() - self._feeds.keys())
        log_reload(new, self.cfg, old.keys(), self._feeds.keys())
        return True

    # -- housekeeping and operations ------------------------------------------------
    def status(self) -> list[dict]:
        return survey(list(self._feeds.values()), self.store, self.cfg.schedule, self._clock(),
                      token=self.cfg.server.token,
                      websub=self._websub.status() if self._websub else None)

    def check_feeds(self) -> None:
        """Gauges from a survey of every feed; one log line when a feed turns stale."""
        rows = self.status()
        self.metrics.record(rows)
        self._stale = log_newly_stale(rows, self._stale, self._clock())

    def compact(self) -> None:
        compact(self.store, self.cfg.state.retention, self.cfg.footers.min_count, self._clock(),
                self.cfg.dedup.window)

    def alive(self) -> str | None:
        """None when the scheduler runs and the dispatcher ticked lately; else why not."""
        if not self._scheduler.running:
            return "scheduler not running"
        quiet = self._clock_step.silent_for()
        return f"dispatcher silent for {quiet:.0f}s" if quiet > ALIVE_WITHIN else None


def _guarded(func: Callable[..., object], *args: object) -> None:
    """Run a step whose failure (the store's) must not stop the daemon."""
    try:
        func(*args)
    except IngestError as exc:
        log.error("daemon: %s", exc)


def _in_loop(func: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """APScheduler runs coroutine functions in the event loop (plain ones in threads)."""
    async def job() -> None:
        _guarded(func)
    return job


def _on_stop(sig: signal.Signals, stop: asyncio.Event) -> None:
    log.info("daemon: %s received, stopping", sig.name)
    stop.set()
