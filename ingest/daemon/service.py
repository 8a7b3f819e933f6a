"""`ingest run`: an APScheduler shell around `Pipeline.poll_feed`, the per-feed function.

The store is the schedule (`ingest.daemon.schedule` decides every ``next_poll_at``), so a
restart resumes where it stopped. APScheduler runs three short jobs in the loop:
``dispatch`` (every second: lease due feeds for the free concurrency slots and poll
each in a task), ``check_feeds`` (stale/failing gauges and log lines) and
``compact`` (daily: forget seen marks older than state.retention, and learned footer
lines that did not recur in 30 days). SIGHUP reloads
feeds and schedule; SIGTERM/SIGINT stop dispatching, give running polls
shutdown_grace, cancel the rest (their feeds become due again) and exit 0. The
sink writes whole batches synchronously, so a cancelled poll never tears a line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import signal
import time
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ingest.daemon import schedule
from ingest.config.model import Config
from ingest.config.load import load_config
from ingest.errors import IngestError
from ingest.logs import redact_secrets
from ingest.daemon.metrics import Metrics, log_poll, survey
from ingest.models import Feed
from ingest.pipeline.outcomes import PollResult
from ingest.pipeline.orchestrator import Pipeline
from ingest.redact import Redactor
from ingest.daemon.server import OpsServer, ops_routes, readiness
from ingest.units import format_duration

log = logging.getLogger("ingest.daemon")
DISPATCH_EVERY, CHECK_EVERY, COMPACT_EVERY = 1.0, 30.0, 86400.0
LEASE_SECONDS = 300.0  # a claimed feed comes back after this if its poller died
ALIVE_WITHIN = 30.0  # /healthz fails when the dispatcher has not run for this long
CLOCK_STEP = 5.0  # seconds the wall clock may fall behind the monotonic one unnoticed
FOOTER_LINES_KEPT = 30 * 86400.0  # a learned line that did not recur in this long goes


def run_daemon(cfg: Config, *, config_path=None) -> int:
    from ingest.pipeline.app import open_pipeline

    async def main() -> int:
        async with open_pipeline(cfg) as pipeline:
            return await Daemon(cfg, pipeline, config_path=config_path).run()

    # Until the daemon's own handlers are in place (start-up takes a second), a
    # stop request ends the process cleanly: nothing has been written yet.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_during_startup)
    return asyncio.run(main())


def _exit_during_startup(signum, frame) -> None:
    raise SystemExit(0)


class Daemon:
    def __init__(self, cfg: Config, pipeline: Pipeline, *, config_path=None,
                 clock=time.time, monotonic=time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.store = pipeline.store
        self.metrics = Metrics()
        self.server: OpsServer | None = None
        self.config_path = config_path or cfg.path
        self._clock = clock
        self._rng = rng or random.Random()
        self._feeds = {f.url: f for f in cfg.feeds}
        self._tasks: dict[str, asyncio.Task] = {}  # feed URL -> its running poll
        self._scheduler = AsyncIOScheduler()
        self._stopping = False
        self._stale: set[str] = set()
        self._monotonic = monotonic
        self._tick = (clock(), monotonic())  # the last dispatch, by both clocks

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
        if self.cfg.server.port:
            self.server = OpsServer(self.cfg.server.host, self.cfg.server.port, ops_routes(
                alive=self.alive, ready=lambda: readiness(self.store, self.cfg.output.dir),
                metrics=self.metrics, status=self.status), token=self.cfg.server.token)
            await self.server.start()
        now = datetime.now(timezone.utc)
        for func, every, first in ((self.dispatch, DISPATCH_EVERY, now),
                                   (self.check_feeds, CHECK_EVERY, now),
                                   (self.compact, COMPACT_EVERY, now + timedelta(minutes=5))):
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
        if self._tasks:
            grace = self.cfg.schedule.shutdown_grace
            log.info("daemon: waiting up to %s for %d running polls",
                     format_duration(grace), len(self._tasks))
            _, late = await asyncio.wait(list(self._tasks.values()), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("daemon: cancelled %d polls; their feeds are due again", len(late))
        if self.server is not None:
            await self.server.close()
        log.info("daemon: stopped")

    # -- dispatch ----------------------------------------------------------------------
    def dispatch(self) -> int:
        """Lease due feeds for the free slots and start their polls; how many started."""
        self._follow_wall_clock()
        free = self.cfg.schedule.concurrency - len(self._tasks)
        if self._stopping or free <= 0:
            return 0
        urls = self.store.claim_due_feeds(self._clock(), free, LEASE_SECONDS)
        fresh = [u for u in urls if u not in self._tasks]  # else: a long poll, lease renewed
        for url in fresh:
            self._tasks[url] = task = asyncio.get_running_loop().create_task(self._poll(url))
            task.add_done_callback(lambda _task, url=url: self._done(url))
        self.metrics.in_flight.set(len(self._tasks))
        return len(fresh)

    def _follow_wall_clock(self) -> None:
        """The schedule is stored in wall time (it outlives the process); a wall clock
        stepped back would leave every poll in the future, so the schedule is moved back
        by the step, as far as the monotonic clock says the wall one went back."""
        wall, mono = self._clock(), self._monotonic()
        step = self._tick[0] + (mono - self._tick[1]) - wall
        if step > CLOCK_STEP:
            moved = self.store.shift_schedule(-step)
            log.warning("daemon: the wall clock went back %s; %d scheduled polls moved back "
                        "with it", format_duration(round(step)), moved)
        self._tick = (wall, mono)

    def _done(self, url: str) -> None:
        self._tasks.pop(url, None)
        self.metrics.in_flight.set(len(self._tasks))
        _guarded(self.dispatch)  # fill the freed slot now, not at the next tick

    async def _poll(self, url: str) -> None:
        feed = self._feeds.get(url)
        if feed is None:  # removed from the config since it was scheduled
            _guarded(self._reschedule, url, None)
            return
        try:
            unconditional = schedule.wants_refresh(self.store.get_feed(url), self._clock())
            result = await self.pipeline.poll_feed(feed, unconditional=unconditional)
        except asyncio.CancelledError:
            _guarded(self._reschedule, url, self._clock())
            raise
        except IngestError as exc:  # the store failed; the lease brings the feed back
            log.error("poll %s: %s", feed.name, exc)
            return
        except Exception:  # a bug must not stop the other feeds; the lease retries this one
            log.exception("poll %s: unexpected error", feed.name)
            return
        _guarded(self._after_poll, feed, result, unconditional)

    def _after_poll(self, feed: Feed, result: PollResult, unconditional: bool) -> None:
        state = self.store.get_feed(feed.url)
        change = schedule.plan_after_poll(
            state, result, schedule.base_interval(feed, self.cfg.schedule), self.cfg.schedule,
            self._clock(), self._rng, unconditional=unconditional)
        if feed.url not in self._feeds:  # removed by a reload while it ran
            state.next_poll_at = None
        self.store.put_feed(state)
        self.metrics.observe(result, state)
        if change.became_failing or change.recovered:
            self.metrics.failing.inc(1 if change.became_failing else -1)
        log_poll(result, change, state.failures, self.cfg.schedule.max_interval)

    def _reschedule(self, url: str, at: float | None) -> None:
        """Poll ``url`` at ``at``; None parks it (its state is kept, it is not scheduled)."""
        state = self.store.get_feed(url)
        state.next_poll_at = at
        self.store.put_feed(state)

    # -- feeds and config ------------------------------------------------------------
    def sync_feeds(self) -> None:
        """Schedule new or re-timed feeds (first polls spread), park removed ones."""
        now, sched = self._clock(), self.cfg.schedule
        pending = [(state, base) for state, base in (
            (self.store.get_feed(f.url), schedule.base_interval(f, sched))
            for f in self._feeds.values()) if schedule.needs_plan(state, base, sched, now)]
        window = schedule.plan_first_polls(pending, sched, now, self._rng)
        for state, _ in pending:
            self.store.put_feed(state)
        for state in self.store.all_feeds():
            if state.url not in self._feeds and state.next_poll_at is not None:
                self._reschedule(state.url, None)
        if pending:
            log.info("daemon: first polls of %d new or re-timed feeds within %s", len(pending),
                     format_duration(math.ceil(window)))

    def reload(self) -> bool:
        """SIGHUP: apply the file's feeds and schedule; on any error keep the running ones."""
        old_cfg, old = self.cfg, self._feeds
        try:
            new = load_config(self.config_path)
            self.cfg = dataclasses.replace(self.cfg, feeds=new.feeds, schedule=new.schedule)
            self._feeds = {f.url: f for f in new.feeds}
            self.sync_feeds()
        except IngestError as exc:
            self.cfg, self._feeds = old_cfg, old
            log.error("daemon: reload failed, still running the previous config: %s", exc)
            return False
        # feeds added by the reload are kept out of the log lines too (and removed ones,
        # whose last polls may still be running)
        redact_secrets(Redactor([*old, *self._feeds], secrets=(self.cfg.server.token,)))
        for name in {f.name for f in old.values()} - {f.name for f in new.feeds}:
            self.metrics.forget(name)
        fixed = [s for s in ("output", "state", "http", "extract", "footers", "server")
                 if getattr(new, s) != getattr(self.cfg, s)]
        if fixed:
            log.warning("daemon: changes to %s take effect at the next start", ", ".join(fixed))
        log.info("daemon: config reloaded: %d feeds (%d added, %d removed)", len(self._feeds),
                 len(self._feeds.keys() - old.keys()), len(old.keys() - self._feeds.keys()))
        return True

    # -- housekeeping and operations ------------------------------------------------
    def status(self) -> list[dict]:
        return survey(list(self._feeds.values()), self.store, self.cfg.schedule, self._clock())

    def check_feeds(self) -> None:
        """Gauges from a survey of every feed; one log line when a feed turns stale."""
        rows = self.status()
        self.metrics.record(rows)
        stale = {row["feed"]: row for row in rows if row["stale"]}
        for name in sorted(stale.keys() - self._stale):
            quiet = format_duration(round(self._clock() - stale[name]["quiet_since"]))
            log.warning("feed %s is stale: no new item for %s", name, quiet)
        self._stale = set(stale)

    def compact(self) -> None:
        retention, now = self.cfg.state.retention, self._clock()
        dropped = self.store.forget_seen_before(now - retention)
        log.info("state: compaction dropped %d seen marks older than %s", dropped,
                 format_duration(retention))
        # Footer learning counts every short line of every article (~8 a story); the
        # lines that did not recur within FOOTER_LINES_KEPT are body text, not footers.
        below = self.cfg.footers.min_count
        dropped = self.store.forget_footer_lines(now - FOOTER_LINES_KEPT, below)
        log.info("state: compaction dropped %d footer lines seen in fewer than %d articles "
                 "and not for %s", dropped, below, format_duration(FOOTER_LINES_KEPT))

    def alive(self) -> str | None:
        """None when the scheduler runs and the dispatcher ticked lately; else why not."""
        if not self._scheduler.running:
            return "scheduler not running"
        quiet = self._monotonic() - self._tick[1]
        return f"dispatcher silent for {quiet:.0f}s" if quiet > ALIVE_WITHIN else None


def _guarded(func, *args) -> None:
    """Run a step whose failure (the store's) must not stop the daemon."""
    try:
        func(*args)
    except IngestError as exc:
        log.error("daemon: %s", exc)


def _in_loop(func):
    """APScheduler runs coroutine functions in the event loop (plain ones in threads)."""
    async def job() -> None:
        _guarded(func)
    return job


def _on_stop(sig: signal.Signals, stop: asyncio.Event) -> None:
    log.info("daemon: %s received, stopping", sig.name)
    stop.set()
