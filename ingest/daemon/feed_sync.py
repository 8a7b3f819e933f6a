"""The store's schedule kept in step with the configured feeds, at start and on SIGHUP.

`sync_schedule` plans first polls (spread) for new or re-timed feeds and parks the feeds
missing from the config (their state is kept, they are not scheduled); `reload_config`
reads the file again for the settings a reload may change (feeds and schedule), and
`log_reload` says what it changed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
from collections.abc import Collection, Iterable

from ingest.config.load import load_config
from ingest.config.model import Config, ScheduleConfig
from ingest.daemon import schedule
from ingest.models import Feed
from ingest.state.store import Store
from ingest.units import format_duration

log = logging.getLogger("ingest.daemon")
FIXED_AT_START = ("output", "state", "http", "extract", "footers", "server", "sitemap",
                  "websub")


def sync_schedule(store: Store, feeds: Iterable[Feed], sched: ScheduleConfig, now: float,
                  rng: random.Random) -> None:
    """Schedule new or re-timed feeds (first polls spread), park the others."""
    feeds = list(feeds)
    pending = [(state, base) for state, base in (
        (store.get_feed(f.url), schedule.base_interval(f, sched))
        for f in feeds) if schedule.needs_plan(state, base, sched, now)]
    window = schedule.plan_first_polls(pending, sched, now, rng)
    for state, _ in pending:
        store.put_feed(state)
    configured = {f.url for f in feeds}
    for state in store.all_feeds():
        if state.url not in configured and state.next_poll_at is not None:
            reschedule(store, state.url, None)
    if pending:
        log.info("daemon: first polls of %d new or re-timed feeds within %s", len(pending),
                 format_duration(math.ceil(window)))


def reschedule(store: Store, url: str, at: float | None) -> None:
    """Poll ``url`` at ``at``; None parks it (its state is kept, it is not scheduled)."""
    state = store.get_feed(url)
    state.next_poll_at = at
    store.put_feed(state)


def reload_config(running: Config, path: str | os.PathLike[str]) -> tuple[Config, Config]:
    """The file at ``path`` as loaded, and ``running`` with its feeds and schedule."""
    new = load_config(path)
    return new, dataclasses.replace(running, feeds=new.feeds, schedule=new.schedule)


def log_reload(loaded: Config, running: Config, before: Collection[str],
               after: Collection[str]) -> None:
    """Which settings wait for a restart, and how many feeds the reload added and removed
    (``before`` and ``after``: the feed URLs)."""
    fixed = [s for s in FIXED_AT_START if getattr(loaded, s) != getattr(running, s)]
    if fixed:
        log.warning("daemon: changes to %s take effect at the next start", ", ".join(fixed))
    log.info("daemon: config reloaded: %d feeds (%d added, %d removed)", len(after),
             len(set(after) - set(before)), len(set(before) - set(after)))
