"""Per-host state of the fetch stage: politeness (HostGate) and rests (HostRests).

Hosts are keyed by `host_of`: the lower-cased host name, with ``:port`` when not the
scheme's default. A host rests when it asked us to wait (429/503 with Retry-After) or
when its answers keep running out the deadline (a server dripping its pages, which
would otherwise cost pages ÷ per_host_concurrency × timeout); while it rests, its
requests raise HostBackoff without being sent and are left for a later run.

A rest outlives the process when HostRests is given a ledger (`RestLedger`, which the
state stores are): every rest it decides is written through with its reason, and the
rests still running are read back when it starts, so a one-shot run told to wait an
hour does not ask again on the next run. The ledger keeps wall-clock times; HostRests
converts them to its own monotonic clock.

`Gate` is what the client needs of a politeness gate: HostGate keeps turns in this
process; ingest.fetch.shared_gate keeps them in a store that several replicas share. A
host's robots.txt may ask for more time between requests than per_host_delay
(Crawl-delay: ingest.fetch.robots), which both keep per host.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from ingest.errors import HostBackoff, StateError
from ingest.urls import DEFAULT_PORTS

log = logging.getLogger("ingest.fetch")

GIVE_UP_AFTER = 3  # timeouts in a row before a host rests
HOST_REST = 300.0  # seconds it then rests


def host_of(url: str) -> str:
    """The politeness key of ``url``: lower-cased host, ``:port`` if not the default."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    host = f"[{host}]" if ":" in host else host
    if port is None or port == DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"


class Gate(Protocol):
    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """Wait for ``host``'s turn, then hold one of its slots for the block; HostBackoff
        (nothing requested) if the host may not be asked now."""
        ...

    def set_min_delay(self, host: str, seconds: float) -> None:
        """Space ``host``'s starts at least ``seconds`` apart (its robots.txt's Crawl-delay);
        a longer delay already set stands."""
        ...


class RestLedger(Protocol):
    """Where host rests are kept beyond this process (`ingest.state.store.Store` is one)."""

    def rest_host(self, host: str, until: float, why: str) -> None: ...

    def resting_hosts(self, now: float) -> dict[str, tuple[float, str]]: ...


@dataclass
class _HostSlot:
    semaphore: asyncio.Semaphore
    delay: float  # seconds between starts: per_host_delay, or the host's Crawl-delay
    next_start: float = 0.0
    users: int = 0


class HostGate:
    """Per-host politeness: ``concurrency`` requests in flight, ``delay`` s between starts."""

    def __init__(self, concurrency: int, delay: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay)
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _HostSlot] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for ``host``'s turn, then hold one of its slots for the block."""
        slot = self._hosts.get(host) or self._add(host)
        slot.users += 1
        try:
            async with slot.semaphore:
                now = self._clock()
                start = max(now, slot.next_start)
                slot.next_start = start + slot.delay  # reserved before sleeping: FIFO turns
                if start > now:
                    await self._sleep(start - now)
                yield
        finally:
            slot.users -= 1

    def set_min_delay(self, host: str, seconds: float) -> None:
        slot = self._hosts.get(host) or self._add(host)
        slot.delay = max(slot.delay, seconds)

    def _add(self, host: str) -> _HostSlot:
        # Forget idle hosts whose delay has passed; a Crawl-delay forgotten with its host is
        # set again by the robots.txt check before the host's next request.
        if len(self._hosts) >= 1024:
            now = self._clock()
            for name in [n for n, s in self._hosts.items() if not s.users and s.next_start <= now]:
                del self._hosts[name]
        slot = self._hosts[host] = _HostSlot(asyncio.Semaphore(self._concurrency), self._delay)
        return slot


class HostRests:
    """Which hosts are left alone, until when and why; timeouts in a row per host."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 ledger: RestLedger | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._ledger = ledger
        self._wall_clock = wall_clock
        self._until: dict[str, float] = {}  # host -> clock time it may be asked again
        self._why: dict[str, str] = {}  # host -> why it is left alone
        self._timeouts: dict[str, int] = {}  # host -> timeouts in a row
        if ledger is not None:
            self._load(ledger)

    def until(self, url: str) -> float | None:
        """The clock time until which ``url``'s host rests, or None."""
        if not self._until:  # the usual case: no host rests, nothing to parse
            return None
        host = host_of(url)
        until = self._until.get(host)
        if until is not None and until <= self._clock():
            del self._until[host]
            self._why.pop(host, None)
            return None
        return until

    def refuse_if_resting(self, url: str) -> None:
        """HostBackoff (nothing requested) while ``url``'s host rests."""
        until = self.until(url)
        if until is not None:
            wait, host = until - self._clock(), host_of(url)
            why = self._why.get(host, "asked us to wait")
            raise HostBackoff(f"{url}: {host} {why} (another {wait:.0f}s)",
                              url=url, retry_after=wait, requested=False)

    def rest(self, seconds: float, *urls: str, why: str = "asked us to wait") -> None:
        """The hosts of ``urls`` are left alone ``seconds`` (a Retry-After), for ``why``;
        a longer rest already decided stands."""
        until = self._clock() + seconds
        for host in {host_of(u) for u in urls}:
            self._hold(host, until, why)
            self._share(host, self._wall_clock() + seconds, why)

    def answered(self, host: str) -> None:
        """``host`` answered (whatever the status): its timeouts are counted afresh."""
        self._timeouts.pop(host, None)

    def timed_out(self, host: str, url: str) -> None:
        """One more timeout from ``host``; the GIVE_UP_AFTER-th in a row makes it rest."""
        count = self._timeouts[host] = self._timeouts.get(host, 0) + 1
        if count >= GIVE_UP_AFTER:
            del self._timeouts[host]  # after the rest, as many timeouts again
            why = f"timed out {count} times in a row, left alone"
            self.rest(HOST_REST, url, why=why)
            log.warning("fetch: %s %s for %.0fs", host, why, HOST_REST)

    def _hold(self, host: str, until: float, why: str) -> None:
        if until >= self._until.get(host, until):
            self._until[host] = until
            self._why[host] = why

    def _share(self, host: str, until: float, why: str) -> None:
        """Write a rest through to the ledger; if it fails, the rest holds here only."""
        if self._ledger is None:
            return
        try:
            self._ledger.rest_host(host, until, why)
        except StateError as exc:
            log.warning("fetch: the rest of %s could not be stored, so only this process "
                        "leaves it alone: %s", host, exc)

    def _load(self, ledger: RestLedger) -> None:
        """The rests still running in the ledger, on this clock."""
        wall_now = self._wall_clock()
        try:
            resting = ledger.resting_hosts(wall_now)
        except StateError as exc:
            log.warning("fetch: the resting hosts could not be read from the store, so only "
                        "the rests this process decides hold: %s", exc)
            return
        now = self._clock()
        for host, (until, why) in resting.items():
            self._hold(host, now + (until - wall_now), why)
