"""What keeping secrets out of logs and status costs, and what the ops server's limits give.

    python -m bench.redaction

Prints two Markdown tables. Redaction: building a `Redactor` for N feeds (URLs with a password
and a token, or plain ones), then redacting one log line that names a feed, one that
names none, and 100 KB of hostile text (the worst of several shapes). Ops server:
/healthz latency beside K idle connections, with the default limits.
"""

from __future__ import annotations

import asyncio
import random
import socket
import string
import time
from contextlib import ExitStack

from bench.common import argument_parser, table
from ingest.daemon.http_server import OpsServer, Reply
from ingest.redact import Redactor

HOSTILE = ["x" * 100_000, "! " * 50_000, "http://" * 14_000, "?a" * 50_000, "&a=" * 33_000,
           "https://a@" * 10_000]


def _token(rng: random.Random, n: int = 24) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _per_call(func, text: str, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        func(text)
    return (time.perf_counter() - started) / repeat


def redaction_rows() -> list[tuple[str, ...]]:
    rng = random.Random(1)
    rows = []
    for n in (10, 100, 1000, 5000):
        secret = [f"https://u{i}:{_token(rng)}@feeds{i % 50}.example/rss/{i}.xml"
                  f"?token={_token(rng)}&page={i}" for i in range(n)]
        plain = [f"https://feeds{i % 50}.example/rss/{i}.xml" for i in range(n)]
        for kind, urls in (("secrets", secret), ("plain", plain)):
            started = time.perf_counter()
            redact = Redactor(urls)
            build = time.perf_counter() - started
            named = f"12:00:00 WARNING poll f{n}: failed (http_503): {urls[n // 2]}: HTTP 503"
            other = "12:00:00 INFO poll ansa-mondo: new, 12 written, 1.2s; next in 15m"
            worst = max(_per_call(redact, text, 1) for text in HOSTILE)
            rows.append((f"{n} feeds, {kind}", f"{build * 1e3:.0f} ms",
                         f"{_per_call(redact, named, 2000) * 1e6:.0f} µs",
                         f"{_per_call(redact, other, 2000) * 1e6:.0f} µs", f"{worst * 1e3:.0f} ms"))
    return rows


async def _healthz_beside_idle(idle: int) -> float:
    server = OpsServer("127.0.0.1", 0, {"/healthz": lambda: Reply(200, b"ok\n")})
    await server.start()
    try:
        return await asyncio.to_thread(_ask_beside_idle, server.port, idle)
    finally:
        await server.close()


def _ask_beside_idle(port: int, idle: int) -> float:
    with ExitStack() as stack:
        for _ in range(idle):
            stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        time.sleep(0.2)  # let the server take them all
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            while sock.recv(65536):
                pass
        return time.perf_counter() - started


def main() -> None:
    argument_parser("redaction", __doc__).parse_args()
    print("Redaction\n")
    print(table(("config", "build", "line naming a feed", "other line", "100 KB hostile (worst)"),
                redaction_rows(), "lrrrr"))
    ops = [(k, f"{asyncio.run(_healthz_beside_idle(k)) * 1e3:.1f} ms") for k in (0, 64, 500)]
    print("\nOps server (cap 64 connections)\n")
    print(table(("idle connections", "/healthz"), ops, "rr"))


if __name__ == "__main__":
    main()
