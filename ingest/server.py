"""The operations endpoints: a tiny HTTP/1.1 server on asyncio (GET only, no dependency).

    server = OpsServer(host, port, {"/healthz": lambda: Reply(200, b"ok\\n")})
    await server.start()    # server.port is the bound port (port 0: any free one)
    await server.close()

Each route is a function of no arguments returning a `Reply`. One request per
connection; anything but GET is 405, an unknown path 404, a handler that raises 500.
`ops_routes` builds the daemon's /healthz, /readyz, /metrics and /status;
`readiness` is the /readyz check (store answers, output folder takes a file).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError
from ingest.metrics import Metrics
from ingest.state import Store

log = logging.getLogger("ingest.server")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}
_READ_TIMEOUT = 5.0
_MAX_HEADER_LINES = 100


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class OpsServer:
    def __init__(self, host: str, port: int,
                 routes: Mapping[str, Callable[[], Reply]]) -> None:
        self.host = host
        self.port = port
        self._routes = dict(routes)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise IngestError(f"server: cannot listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}; set server.port to a free port, "
                              "or to 0 for no server") from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                method, path = await _read_request(reader)
            reply = self._dispatch(method, path)
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            reply = Reply(400, b"bad request\n")
        try:
            writer.write(_encode(reply))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _dispatch(self, method: str, path: str) -> Reply:
        route = self._routes.get(path.split("?", 1)[0])
        if route is None:
            return Reply(404, b"not found\n")
        if method != "GET":
            return Reply(405, b"only GET is supported\n")
        try:
            return route()
        except Exception:  # a broken check must not take the server down
            log.exception("server: %s failed", path)
            return Reply(500, b"internal error\n")


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """The method and target of one request; its headers are read and ignored."""
    parts = (await reader.readline()).decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    for _ in range(_MAX_HEADER_LINES):
        if (await reader.readline()).strip() == b"":
            return parts[0], parts[1]
    raise ValueError("too many header lines")


def _encode(reply: Reply) -> bytes:
    head = (f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}\r\n"
            f"Content-Type: {reply.content_type}\r\nContent-Length: {len(reply.body)}\r\n"
            + ("Allow: GET\r\n" if reply.status == 405 else "")
            + "Connection: close\r\n\r\n")
    return head.encode("latin-1") + reply.body


def readiness(store: Store, output_dir: Path) -> str | None:
    """None when the store answers and the output folder takes a file; else why not."""
    try:
        store.ping()
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except IngestError as exc:
        return str(exc)
    except OSError as exc:
        return f"output folder {output_dir} is not writable: {exc.strerror or exc}"
    return None


def ops_routes(*, alive: Callable[[], str | None], ready: Callable[[], str | None],
               metrics: Metrics, status: Callable[[], list[dict]]
               ) -> dict[str, Callable[[], Reply]]:
    """``/healthz`` and ``/readyz`` (a check gives None when fine, else why not),
    ``/metrics`` (a `Metrics`) and ``/status`` (one JSON object per feed)."""
    def check(func: Callable[[], str | None]) -> Callable[[], Reply]:
        def route() -> Reply:
            problem = func()
            return Reply(200, b"ok\n") if problem is None else Reply(503, f"{problem}\n".encode())
        return route

    return {
        "/healthz": check(alive),
        "/readyz": check(ready),
        "/metrics": lambda: Reply(200, metrics.render(), metrics.content_type),
        "/status": lambda: Reply(200, json.dumps(status(), indent=1).encode() + b"\n",
                                 "application/json"),
    }
