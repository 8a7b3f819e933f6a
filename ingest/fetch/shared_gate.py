"""Per-host politeness across processes: SharedHostGate, whose turns a store hands out.

HostGate keeps a host's turns in one process; several replicas polling the same hosts
would each keep their own, and together ask a host N times as often. SharedHostGate asks
a `TurnLedger` (the PostgreSQL store) for every turn instead, so ``concurrency`` and
``delay`` hold for all of them together, and so does a rest any of them decided:

    take_host_turn(host, delay, concurrency, hold) -> HostTurn
        a slot (held until end_host_turn, or ``hold`` seconds if its holder dies) and the
        seconds until its request may start; or no slot, and the seconds before asking
        again; or no slot because the host rests (until when, and why)
    end_host_turn(host, slot)

In one process, one request per host asks the ledger at a time and the others queue
behind it (first come, first served), so a burst of requests to one host costs the
store one question at a time, not one per request per try. The ledger is called in a
worker thread: a round trip on the event loop would make every request due meanwhile
start late, and a late start crowds the next turn. Waiting for a turn counts against
no deadline, as with HostGate. A ledger that fails (StateError) fails the request as
transient (kind ``state``): nothing is sent, and the feed is polled again later. A turn
that cannot be handed back runs out after ``hold``. A host whose robots.txt asks for a
Crawl-delay longer than ``delay`` has its turns reserved that far apart instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ingest.errors import HostBackoff, StateError, TransientFetchError
from ingest.models import HostTurn

log = logging.getLogger("ingest.fetch")

# Seconds between asks while every slot of a host is taken: often enough that a slot
# another replica frees is taken soon, never a busy loop on the store.
ASK_AGAIN_MIN, ASK_AGAIN_MAX = 0.02, 1.0
# A turn's start is reserved ``delay`` after the one before, plus LATE: a request may start
# up to LATE after its reserved start (the event loop had other work) and still keep
# ``delay`` to the next. One later than that would come too soon before the next: it
# hands the turn back and asks again, up to LATE_TRIES times in a row (then it goes,
# late, rather than wait without end on a loop that is always busy).
LATE, LATE_TRIES = 0.005, 5
MAX_MIN_DELAYS = 4096  # hosts whose Crawl-delay is kept (robots.txt sets it again if dropped)


@runtime_checkable
class TurnLedger(Protocol):
    def take_host_turn(self, host: str, delay: float, concurrency: int,
                       hold: float) -> HostTurn: ...

    def end_host_turn(self, host: str, slot: int) -> None: ...


@dataclass
class _Askers:
    """The requests of this process waiting to ask for one host's turn."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    count: int = 0


class SharedHostGate:
    """``concurrency`` requests in flight per host and ``delay`` s between their starts,
    across every process that shares ``ledger``; ``hold``: seconds a turn of a process
    that died is kept (the request deadline and a margin)."""

    def __init__(self, ledger: TurnLedger, concurrency: int, delay: float, hold: float, *,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 wall_clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._concurrency = max(1, concurrency)
        self._spacing = delay + LATE if delay > 0 else 0.0  # what the ledger reserves
        self._hold = hold
        self._sleep = sleep
        self._wall_clock = wall_clock  # the ledger's rests end at wall-clock times
        self._monotonic = monotonic
        self._askers: dict[str, _Askers] = {}  # hosts with requests waiting for a turn
        self._min_delays: dict[str, float] = {}  # host -> its Crawl-delay, above ``delay``

    def set_min_delay(self, host: str, seconds: float) -> None:
        """Space ``host``'s starts at least ``seconds`` apart (its Crawl-delay); a longer
        delay already set stands."""
        if seconds <= self._min_delays.get(host, 0.0):
            return
        if host not in self._min_delays and len(self._min_delays) >= MAX_MIN_DELAYS:
            del self._min_delays[next(iter(self._min_delays))]  # set again at its next check
        self._min_delays[host] = seconds

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for ``host``'s turn, then hold one of its slots for the block.

        HostBackoff (nothing requested) while the host rests; TransientFetchError (kind
        ``state``) when the ledger fails. Both name the host, not the URL."""
        slot = await self._start(host)
        try:
            yield
        finally:  # shielded: ended even if cancelled again meanwhile
            await asyncio.shield(asyncio.to_thread(self._end, host, slot))

    async def _start(self, host: str) -> int:
        """A slot of ``host`` once its reserved start has come, and not passed by more
        than LATE (see there)."""
        for tries in range(1, LATE_TRIES + 1):
            slot, start = await self._take(host)
            try:  # nothing awaited since the slot was taken: a cancellation still ends it
                if (wait := start - self._monotonic()) > 0:
                    await self._sleep(wait)
            except BaseException:
                await asyncio.shield(asyncio.to_thread(self._end, host, slot))
                raise
            if self._monotonic() - start <= LATE or tries == LATE_TRIES:
                return slot
            await asyncio.shield(asyncio.to_thread(self._end, host, slot))
        raise AssertionError("unreachable: the last try returns")

    async def _take(self, host: str) -> tuple[int, float]:
        """A slot of ``host`` and when its request may start (the monotonic clock), asked
        for when the requests of this process that came first have theirs."""
        askers = self._askers.setdefault(host, _Askers())
        askers.count += 1
        try:
            async with askers.lock:
                return await self._take_in_turn(host)
        finally:
            askers.count -= 1
            if not askers.count:
                del self._askers[host]

    async def _take_in_turn(self, host: str) -> tuple[int, float]:
        while True:
            turn, answered = await self._ask(host)
            if turn.resting is not None:  # and so no slot
                raise self._refusal(host, *turn.resting)
            if turn.slot is not None:
                return turn.slot, answered + turn.wait
            await self._sleep(min(max(turn.wait, ASK_AGAIN_MIN), ASK_AGAIN_MAX))

    async def _ask(self, host: str) -> tuple[HostTurn, float]:
        """The ledger's answer, from a worker thread, and when it came (the monotonic
        clock, read in that thread: the event loop may take its time to look)."""
        asking = asyncio.ensure_future(asyncio.to_thread(self._ask_ledger, host))
        try:
            return await asyncio.shield(asking)
        except asyncio.CancelledError:  # a turn taken for nobody is handed back
            asking.add_done_callback(functools.partial(self._abandon, host))
            raise

    def _abandon(self, host: str, asking: asyncio.Future[tuple[HostTurn, float]]) -> None:
        if not asking.cancelled() and asking.exception() is None:
            slot = asking.result()[0].slot
            if slot is not None:
                self._end(host, slot)

    def _ask_ledger(self, host: str) -> tuple[HostTurn, float]:
        try:
            spacing = self._spacing
            if (minimum := self._min_delays.get(host)) is not None:
                spacing = max(spacing, minimum + LATE)
            turn = self._ledger.take_host_turn(host, spacing, self._concurrency, self._hold)
            return turn, self._monotonic()
        except StateError as exc:
            raise TransientFetchError(f"{host}: no turn could be taken from the store, so "
                                      f"nothing was requested: {exc}", kind="state") from exc

    def _end(self, host: str, slot: int) -> None:
        try:
            self._ledger.end_host_turn(host, slot)
        except StateError as exc:
            log.warning("fetch: the turn of %s could not be handed back to the store; it "
                        "runs out in %.0fs: %s", host, self._hold, exc)

    def _refusal(self, host: str, until: float, why: str) -> HostBackoff:
        wait = max(0.0, until - self._wall_clock())
        return HostBackoff(f"{host} {why} (another {wait:.0f}s)", retry_after=wait,
                           requested=False)
