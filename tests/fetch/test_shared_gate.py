"""SharedHostGate (ingest.fetch.shared_gate) against an in-memory ledger.

`MemoryLedger` keeps HostTurn's semantics (ingest.models) the way a shared store does:
at most ``concurrency`` slots of a host held at once, each until it is ended or ``hold``
runs out; starts ``delay`` apart, reserved when the slot is given; no slot while the host
rests. The PostgreSQL store itself is tested against the same behaviour in
test_shared_gate_postgres.py.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import httpx
import pytest

from ingest.config.model import HttpConfig
from ingest.errors import HostBackoff, StateError, TransientFetchError
from ingest.fetch.client import HttpClient
from ingest.fetch.shared_gate import (
    ASK_AGAIN_MAX,
    ASK_AGAIN_MIN,
    LATE,
    LATE_TRIES,
    SharedHostGate,
)
from ingest.models import HostTurn

NOW = 1_717_408_800.0
pytestmark = pytest.mark.timeout(10)  # a turn never handed back would hang a test


@dataclass
class _Host:
    held: dict[int, float] = field(default_factory=dict)  # slot -> held until
    next_start: float = 0.0
    rest: tuple[float, str] | None = None


class MemoryLedger:
    """Called from the gate's worker threads, one call at a time (as a row lock would)."""

    def __init__(self, clock, *, busy_wait: float = 0.5) -> None:
        self.lock = threading.Lock()
        self.before_take = lambda: None  # a test holds a take here
        self.clock = clock
        self.busy_wait = busy_wait  # what it says to a taker when every slot is held
        self.hosts: dict[str, _Host] = {}
        self.taken: list[tuple[str, int]] = []
        self.ended: list[tuple[str, int]] = []
        self.fail_take = self.fail_end = False

    def take_host_turn(self, host: str, delay: float, concurrency: int, hold: float) -> HostTurn:
        self.before_take()
        with self.lock:
            return self._take(host, delay, concurrency, hold)

    def _take(self, host: str, delay: float, concurrency: int, hold: float) -> HostTurn:
        if self.fail_take:
            raise StateError("state: taking a turn in user@db:5432/ingest failed: gone")
        now, state = self.clock(), self.hosts.setdefault(host, _Host())
        if state.rest is not None and state.rest[0] > now:
            return HostTurn(None, state.rest[0] - now, state.rest)
        state.held = {s: until for s, until in state.held.items() if until > now}
        free = [s for s in range(concurrency) if s not in state.held]
        if not free:
            return HostTurn(None, self.busy_wait)
        start = max(now, state.next_start)
        state.next_start = start + delay
        state.held[free[0]] = now + hold
        self.taken.append((host, free[0]))
        return HostTurn(free[0], start - now)

    def end_host_turn(self, host: str, slot: int) -> None:
        if self.fail_end:
            raise StateError("state: ending a turn in user@db:5432/ingest failed: gone")
        with self.lock:
            self.ended.append((host, slot))
            self.hosts[host].held.pop(slot, None)

    def held(self) -> dict[str, list[int]]:
        return {h: sorted(s.held) for h, s in self.hosts.items() if s.held}


class Sleeps:
    """Records each sleep, by task; sleeps no time (the ledger's clock does not move)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    async def __call__(self, seconds: float) -> None:
        task = asyncio.current_task()
        self.seen.append((task.get_name() if task else "", seconds))
        await asyncio.sleep(0)


def gate_for(ledger: MemoryLedger, sleep, *, concurrency: int = 2, delay: float = 0.0,
             monotonic=lambda: 0.0):
    """A gate whose monotonic clock stands still unless given: no start is ever late."""
    return SharedHostGate(ledger, concurrency, delay, 30.0, sleep=sleep, wall_clock=ledger.clock,
                          monotonic=monotonic)


def test_a_start_missed_by_a_busy_loop_is_handed_back_and_asked_again():
    ledger, sleeps = MemoryLedger(lambda: NOW), Sleeps()
    clock = {"now": 0.0}
    late_by = [0.05, 0.05, 0.001]  # how late each sleep ends: twice missed, then on time

    async def late_sleep(seconds: float) -> None:
        await sleeps(seconds)
        clock["now"] += seconds + late_by.pop(0)

    gate = gate_for(ledger, late_sleep, concurrency=1, delay=1.0, monotonic=lambda: clock["now"])

    async def main() -> None:
        async with gate.slot("a"):
            assert ledger.held() == {"a": [0]}

    ledger.hosts["a"] = _Host(next_start=NOW + 1.0)  # the first turn waits a second
    asyncio.run(main())
    assert len(ledger.taken) == 3 and len(ledger.ended) == 3  # two missed turns given back
    assert ledger.held() == {}


def test_a_loop_late_every_time_still_sends_after_the_last_try():
    ledger = MemoryLedger(lambda: NOW)
    clock = {"now": 0.0}

    async def late_sleep(seconds: float) -> None:
        clock["now"] += seconds + 0.1

    gate = gate_for(ledger, late_sleep, concurrency=1, delay=1.0, monotonic=lambda: clock["now"])
    ledger.hosts["a"] = _Host(next_start=NOW + 1.0)

    async def main() -> bool:
        async with gate.slot("a"):
            return True

    assert asyncio.run(main())
    assert len(ledger.taken) == LATE_TRIES and len(ledger.ended) == LATE_TRIES


def test_turns_start_when_the_ledger_says_and_every_slot_is_handed_back():
    ledger, sleeps = MemoryLedger(lambda: NOW), Sleeps()
    gate = gate_for(ledger, sleeps, concurrency=5, delay=2.0)

    async def request(host: str) -> None:
        async with gate.slot(host):
            pass

    async def main() -> None:
        await asyncio.gather(request("a"), request("a"), request("a"), request("b"))

    asyncio.run(main())
    # a: now, then two more, each the delay (and the margin for a late start) after the
    # one before; b at once
    assert [seconds for _, seconds in sleeps.seen] == pytest.approx([2.0 + LATE, 2 * (2.0 + LATE)])
    assert sorted(ledger.ended) == [("a", 0), ("a", 0), ("a", 1), ("b", 0)]  # a's first: done
    assert ledger.held() == {}


@pytest.mark.parametrize("busy_wait, asked_again_after", [
    (0.5, 0.5), (300.0, ASK_AGAIN_MAX), (0.0, ASK_AGAIN_MIN)])
def test_with_no_free_slot_one_request_asks_again_within_bounds_the_others_queue(
        busy_wait, asked_again_after):
    ledger, sleeps = MemoryLedger(lambda: NOW, busy_wait=busy_wait), Sleeps()
    gate = gate_for(ledger, sleeps, concurrency=1)
    order: list[str] = []

    async def request(name: str, release: asyncio.Event | None = None) -> None:
        async with gate.slot("a"):
            order.append(f"{name} in")
            if release is not None:
                await release.wait()

    async def main() -> None:
        release = asyncio.Event()
        tasks = [asyncio.create_task(request("first", release), name="first")]
        tasks += [asyncio.create_task(request(name), name=name) for name in ("w1", "w2", "w3")]
        while len(sleeps.seen) < 3:
            await asyncio.sleep(0.001)
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert order == ["first in", "w1 in", "w2 in", "w3 in"]  # first come, first served
    assert [task for task, _ in sleeps.seen[:3]] == ["w1"] * 3  # the others did not ask
    assert {seconds for _, seconds in sleeps.seen} == {asked_again_after}
    assert ledger.held() == {} and len(ledger.ended) == 4


def test_the_slot_is_handed_back_when_the_request_fails():
    ledger = MemoryLedger(lambda: NOW)
    gate = gate_for(ledger, Sleeps(), concurrency=1)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            async with gate.slot("a"):
                assert ledger.held() == {"a": [0]}
                raise RuntimeError("boom")
        async with gate.slot("a"):
            pass

    asyncio.run(main())
    assert ledger.held() == {} and ledger.ended == [("a", 0), ("a", 0)]


@pytest.mark.parametrize("where", ["waiting for its start", "in flight"])
def test_the_slot_is_handed_back_when_the_request_is_cancelled(where):
    ledger = MemoryLedger(lambda: NOW)
    waiting, entered = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(seconds)

    gate = SharedHostGate(ledger, 2, 3600.0, 30.0, sleep=sleep, wall_clock=ledger.clock)

    async def request() -> None:
        async with gate.slot("a"):
            entered.set()
            await asyncio.sleep(3600)

    async def main() -> None:
        if where == "waiting for its start":  # a first turn takes now; the next is an hour off
            async with gate.slot("a"):
                pass
        task = asyncio.create_task(request())
        await (waiting if where == "waiting for its start" else entered).wait()
        assert ledger.held() == {"a": [0]}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert ledger.held() == {} and entered.is_set() == (where == "in flight")


def test_a_turn_taken_for_a_request_cancelled_while_it_asked_is_handed_back():
    ledger = MemoryLedger(lambda: NOW)
    asking, answer = threading.Event(), threading.Event()
    ledger.before_take = lambda: (asking.set(), answer.wait(5))
    gate = gate_for(ledger, Sleeps())

    async def request() -> None:
        async with gate.slot("a"):
            raise AssertionError("a cancelled request never gets its turn")

    async def main() -> None:
        task = asyncio.create_task(request())
        await asyncio.to_thread(asking.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        answer.set()  # the ledger answers now, with a slot nobody will use
        for _ in range(500):
            if ledger.ended:
                break
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert ledger.taken == ledger.ended == [("a", 0)] and ledger.held() == {}


def client_over(ledger: MemoryLedger, handler, **cfg) -> HttpClient:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    gate = gate_for(ledger, Sleeps())
    cfg.setdefault("robots", False)
    return HttpClient(HttpConfig(**cfg), transport=httpx.MockTransport(handler), resolver=resolver,
                      gate=gate, wall_clock=ledger.clock)


def test_a_host_resting_in_the_ledger_is_refused_without_a_request():
    ledger = MemoryLedger(lambda: NOW)
    ledger.hosts["n.example"] = _Host(rest=(NOW + 120.0, "answered HTTP 429, asked us to wait"))
    sent: list[str] = []

    def handler(request):
        sent.append(request.url.host)
        return httpx.Response(200, html="<p>ok</p>")

    async def main() -> None:
        async with client_over(ledger, handler) as client:
            for call in (client.fetch_feed, client.fetch_page):
                with pytest.raises(HostBackoff) as info:
                    await call("https://n.example/a")
                assert not info.value.requested and info.value.retry_after == 120.0
                assert info.value.url == "https://n.example/a"
                assert str(info.value) == ("https://n.example/a: n.example answered HTTP 429, "
                                           "asked us to wait (another 120s)")
            await client.fetch_page("https://other.example/a")

    asyncio.run(main())
    assert sent == ["other.example"]
    assert ledger.taken == [("other.example", 0)] and ledger.held() == {}


def test_a_ledger_that_fails_fails_the_request_as_transient(caplog):
    ledger = MemoryLedger(lambda: NOW)
    sent: list[str] = []

    def handler(request):
        sent.append(request.url.path)
        return httpx.Response(200, html="<p>ok</p>")

    async def main() -> None:
        async with client_over(ledger, handler) as client:
            ledger.fail_take = True
            with pytest.raises(TransientFetchError) as info:
                await client.fetch_page("https://n.example/a")
            assert type(info.value) is TransientFetchError and info.value.kind == "state"
            assert str(info.value).startswith("https://n.example/a: n.example: no turn could be "
                                              "taken from the store, so nothing was requested")
            assert isinstance(info.value.__cause__.__cause__, StateError)
            ledger.fail_take, ledger.fail_end = False, True
            result = await client.fetch_page("https://n.example/b")  # the page is kept
            assert result.status == 200

    with caplog.at_level("WARNING", logger="ingest.fetch"):
        asyncio.run(main())
    assert sent == ["/b"]
    assert "the turn of n.example could not be handed back to the store; it runs out in 30s" \
        in caplog.text
