"""Politeness across replicas: two HttpClients, each over its own PostgresStore (replicas
"a" and "b" of one real PostgreSQL) through a SharedHostGate, asking one host at once.

Each replica is a process of its own, as in production. The server on 127.0.0.1 (in
the test's process) records when each request starts and how many are in flight; what
is asserted is the property (never more than per_host_concurrency in flight, starts
per_host_delay apart), not how long anything took. A process's first requests start
later after their turn than the others (imports, thread pools, the database session
planning the turn function): each replica first fetches a page of another server
through its gate, and neither starts before both are ready.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest.config.model import HttpConfig
from ingest.errors import HostBackoff
from ingest.fetch.client import HttpClient
from ingest.fetch.shared_gate import SharedHostGate
from ingest.state.postgres import PostgresStore

CONCURRENCY, DELAY = 2, 0.2
SERVE = 0.5  # seconds a page takes: longer than CONCURRENCY × DELAY, so slots run out
PAGES = 8  # per replica

# One replica: argv = database URL, replica name, per_host_concurrency, per_host_delay,
# warm-up URL, then the URLs to fetch.
# It says "ready" once warmed up, starts on a line from the test, and prints the
# outcome of each fetch (the status, or the error's class, requested or not).
REPLICA = """
import asyncio, json, sys
from ingest.config.model import HttpConfig
from ingest.errors import FetchError, HostBackoff
from ingest.fetch.client import HttpClient
from ingest.fetch.shared_gate import SharedHostGate
from ingest.state.postgres import PostgresStore

url, replica, concurrency, delay, warm_up, *pages = sys.argv[1:]
CONCURRENCY, DELAY = int(concurrency), float(delay)

async def fetch(client, page):
    try:
        return (await client.fetch_page(page)).status
    except FetchError as exc:
        return [type(exc).__name__, getattr(exc, "requested", None), str(exc)]

async def main(store):
    cfg = HttpConfig(allow_private_networks=True, robots=False, per_host_concurrency=CONCURRENCY,
                     per_host_delay=DELAY, timeout=10.0)
    gate = SharedHostGate(store, CONCURRENCY, DELAY, hold=cfg.timeout + 30.0)
    async with HttpClient(cfg, gate=gate, rests=store) as client:
        await client.fetch_page(warm_up)
        print("ready", flush=True)
        sys.stdin.readline()
        return await asyncio.gather(*(fetch(client, page) for page in pages))

store = PostgresStore(url, replica=replica)
try:
    print(json.dumps(asyncio.run(main(store))), flush=True)
finally:
    store.close()
"""


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.starts: list[float] = []
        self.in_flight = self.most_in_flight = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: PageServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        server = self.server
        with server.lock:
            server.starts.append(time.monotonic())
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        if self.path == "/busy":
            status, headers = 429, {"Retry-After": "3600"}
        else:
            time.sleep(SERVE)
            status, headers = 200, {"Content-Type": "text/html"}
        with server.lock:  # before answering: the client hands its turn back after the answer
            server.in_flight -= 1
        body = b"<p>page</p>"
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving() -> Iterator[PageServer]:
    srv = PageServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def server() -> Iterator[PageServer]:
    with serving() as srv:
        yield srv


def run_replicas(postgres_url: str, warm_up: str, pages: dict[str, list[str]]) -> dict[str, list]:
    """Each replica fetches its ``pages`` at once (both start together); its outcomes."""
    procs = {name: subprocess.Popen([sys.executable, "-c", REPLICA, postgres_url, name,
                                     str(CONCURRENCY), str(DELAY), f"{warm_up}/{name}", *urls],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for name, urls in pages.items()}
    try:
        for proc in procs.values():
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = {}
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, out
            outcomes[name] = json.loads(out)
        return outcomes
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.timeout(120)
def test_per_host_politeness_holds_across_replicas(server, postgres_url):
    with serving() as other:
        outcomes = run_replicas(postgres_url, other.url("/warm-up"), {
            name: [server.url(f"/{name}/{i}") for i in range(PAGES)] for name in ("a", "b")})
    assert outcomes == {"a": [200] * PAGES, "b": [200] * PAGES}
    starts = sorted(server.starts)
    assert len(starts) == 2 * PAGES
    assert server.most_in_flight <= CONCURRENCY
    gaps = [round(b - a, 4) for a, b in zip(starts, starts[1:], strict=False)]
    # Spaced across replicas: each on its own would start its requests together. How close
    # the gaps come to DELAY is bench.replicas' figure: a busy machine delays a start by
    # a few milliseconds, which a test must not turn into a failure.
    assert min(gaps) >= DELAY / 2, gaps


@pytest.mark.timeout(60)
def test_a_host_told_to_wait_by_one_replica_is_refused_by_the_others_gate(server, postgres_url):
    stores = [PostgresStore(postgres_url, replica=name) for name in ("a", "b")]

    def client_of(store: PostgresStore) -> HttpClient:
        cfg = HttpConfig(allow_private_networks=True, per_host_delay=0.0, robots=False)
        return HttpClient(cfg, gate=SharedHostGate(store, 2, 0.0, hold=40.0), rests=store)

    async def main() -> None:
        # both running before the host is told to wait: b learns it from its gate's turn
        async with client_of(stores[0]) as a, client_of(stores[1]) as b:
            with pytest.raises(HostBackoff) as told:
                await a.fetch_page(server.url("/busy"))
            assert told.value.requested
            with pytest.raises(HostBackoff) as refused:
                await b.fetch_page(server.url("/b/1"))
            assert not refused.value.requested and 3500.0 < refused.value.retry_after <= 3600.0
            assert "answered HTTP 429, asked us to wait (another 3" in str(refused.value)

    try:
        asyncio.run(main())
    finally:
        for store in stores:
            store.close()
    assert len(server.starts) == 1
