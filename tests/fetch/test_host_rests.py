"""Host rests that outlive the process: HostRests over a ledger (ingest.fetch.hosts).

The ledger is a real SqliteStore under ``tmp_path``, but for the ledger that fails.
Network: MockTransport with a stub resolver, or the fault server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from ingest.config.model import HttpConfig
from ingest.errors import HostBackoff, StateError, TransientFetchError
from ingest.fetch.client import HttpClient
from ingest.fetch.hosts import GIVE_UP_AFTER, HOST_REST
from ingest.state.sqlite import SqliteStore

NOW = 1_717_408_800.0  # the wall clock of the MockTransport tests


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


class FakeTime:
    """A monotonic clock far from the wall clock, as it is."""

    def __init__(self) -> None:
        self.now = 5000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def mock_client(handler, ledger, fake: FakeTime, **cfg) -> HttpClient:
    cfg.setdefault("robots", False)
    return HttpClient(HttpConfig(per_host_delay=0.0, **cfg), transport=httpx.MockTransport(handler),
                      resolver=public_resolver, clock=fake.clock, sleep=fake.sleep,
                      wall_clock=lambda: NOW, rests=ledger)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "state.sqlite", clock=lambda: NOW)
    yield s
    s.close()


@pytest.mark.timeout(20)
def test_a_retry_after_of_an_hour_is_kept_by_the_next_run(fault_server, tmp_path):
    path = tmp_path / "state" / "state.sqlite"
    asked = fault_server.url("/status/429?retry_after=3600")

    async def run_once(store: SqliteStore) -> HostBackoff:
        cfg = HttpConfig(allow_private_networks=True, per_host_delay=0.0, robots=False)
        async with HttpClient(cfg, rests=store) as http:
            with pytest.raises(HostBackoff) as info:
                await http.fetch_feed(asked)
            return info.value

    for run in ("first", "next"):
        store = SqliteStore(path)
        try:
            told = asyncio.run(run_once(store))
        finally:
            store.close()
        if run == "first":
            assert told.requested and told.retry_after == 3600.0
        else:  # refused without asking: the rest came from the store
            assert not told.requested and 3590.0 < told.retry_after <= 3600.0
            assert re.search(r"127\.0\.0\.1:\d+ answered HTTP 429, asked us to wait "
                             r"\(another 3[56]\d\ds\)$", str(told)), str(told)
    assert fault_server.hits("/status/429") == 1 and len(fault_server.requests) == 1


def test_a_rest_read_from_the_store_runs_on_the_monotonic_clock(store):
    sent: list[str] = []
    store.rest_host("n.example", NOW + 100.0, "answered HTTP 503, asked us to wait")
    store.rest_host("done.example", NOW - 1.0, "answered HTTP 429, asked us to wait")
    fake = FakeTime()

    def handler(request):
        sent.append(request.url.host)
        return httpx.Response(200, html="<p>ok</p>")

    async def main() -> None:
        async with mock_client(handler, store, fake) as client:
            with pytest.raises(HostBackoff) as info:
                await client.fetch_page("https://n.example/a")
            assert not info.value.requested and info.value.retry_after == 100.0
            assert str(info.value) == ("https://n.example/a: n.example answered HTTP 503, "
                                       "asked us to wait (another 100s)")
            await client.fetch_page("https://done.example/a")  # its rest was over
            fake.now += 100.0
            await client.fetch_page("https://n.example/a")

    asyncio.run(main())
    assert sent == ["done.example", "n.example"]


@pytest.mark.timeout(10)
def test_a_rest_for_timeouts_in_a_row_is_written_through_with_its_reason(store):
    fake = FakeTime()

    async def handler(request):
        await asyncio.sleep(5)  # past the deadline
        return httpx.Response(200)

    async def main() -> None:
        async with mock_client(handler, store, fake, timeout=0.05) as client:
            for i in range(GIVE_UP_AFTER):
                with pytest.raises(TransientFetchError, match="timed out"):
                    await client.fetch_page(f"https://n.example/{i}")

    asyncio.run(main())
    assert store.resting_hosts(NOW) == {
        "n.example": (NOW + HOST_REST, f"timed out {GIVE_UP_AFTER} times in a row, left alone")}


class FailingLedger:
    def __init__(self) -> None:
        self.calls = 0

    def rest_host(self, host: str, until: float, why: str) -> None:
        self.calls += 1
        raise StateError("state: write to user@db:5432/ingest failed: the server went away")

    def resting_hosts(self, now: float) -> dict[str, tuple[float, str]]:
        self.calls += 1
        raise StateError("state: read from user@db:5432/ingest failed: the server went away")


def test_a_ledger_that_fails_is_logged_and_the_rest_still_holds_here(caplog):
    sent: list[str] = []
    ledger = FailingLedger()

    def handler(request):
        sent.append(request.url.host)
        return httpx.Response(429, headers={"Retry-After": "60"})

    async def main() -> None:
        async with mock_client(handler, ledger, FakeTime()) as client:
            for host in ("a.example", "b.example", "a.example"):
                with pytest.raises(HostBackoff):
                    await client.fetch_feed(f"https://{host}/feed")

    with caplog.at_level("WARNING", logger="ingest.fetch"):
        asyncio.run(main())
    assert sent == ["a.example", "b.example"]  # a rests, though the store did not keep it
    lines = [r.getMessage() for r in caplog.records]
    assert ledger.calls == 3 and len(lines) == 3  # the read at start, one write per rest
    assert "resting hosts could not be read" in lines[0]
    assert all("the rest of" in line and "server went away" in line for line in lines[1:])
