"""A tiny HTTP/1.1 server on asyncio for the operations endpoints (GET only, no dependency).

    server = OpsServer(host, port, {"/healthz": lambda: Reply(200, b"ok\\n")})
    await server.start()    # server.port is the bound port (port 0: any free one)
    await server.close()

Each route is a function of no arguments returning a `Reply`. One request per
connection; anything but GET is 405, an unknown path 404, a handler that raises 500.
The daemon's routes are in `ingest.daemon.endpoints`.

With a ``token``, every route but the probes (``open_paths``: /healthz, /readyz)
needs ``Authorization: Bearer <token>``, else 401. `Limits` keep a client from
holding the server: at most ``connections`` at once (a new one pushes out the
oldest that has not finished sending its request, or is closed at once when every
slot is busy answering), ``read_timeout`` for the whole request and
``write_timeout`` for the whole reply (a client that never reads is dropped).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from ingest.errors import IngestError

log = logging.getLogger("ingest.server")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error",
            503: "Service Unavailable"}
_MAX_HEADER_LINES = 100
_MAX_LINE = 8192  # bytes of one request or header line; longer is a 400
_BACKLOG = 128  # connections the kernel holds (no file of ours) while we take one at a time
_ACCEPT_RETRY = 0.1  # seconds before accepting again after the system refused
PROBES = ("/healthz", "/readyz")  # orchestrators' probes carry no credentials


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Limits:
    connections: int = 64
    read_timeout: float = 5.0  # seconds for the request line and headers, all of them
    write_timeout: float = 10.0  # seconds for the whole reply to leave


_UNAUTHORIZED = Reply(401, b"this path needs 'Authorization: Bearer <server.token>'\n",
                      headers=(("WWW-Authenticate", 'Bearer realm="ingest"'),))


class OpsServer:
    def __init__(self, host: str, port: int, routes: Mapping[str, Callable[[], Reply]], *,
                 token: str | None = None, open_paths: Collection[str] = PROBES,
                 limits: Limits = Limits()) -> None:
        self.host = host
        self.port = port
        self._routes = dict(routes)
        self._token = token.encode() if token else None
        self._open_paths = frozenset(open_paths)
        self._limits = limits
        self._sockets: list[socket.socket] = []
        self._acceptors: list[asyncio.Task] = []
        self._reading: dict[asyncio.StreamWriter, None] = {}  # oldest first
        self._writing: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def connections(self) -> int:
        """Connections being served now (reading a request or writing a reply)."""
        return len(self._reading) + len(self._writing)

    async def start(self) -> None:
        try:
            self._sockets = _listen(self.host, self.port)
        except OSError as exc:
            raise IngestError(f"server: cannot listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}; set server.host to an address of "
                              "this machine and server.port to a free port (0: no "
                              "server)") from exc
        self.port = self._sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self._acceptors = [loop.create_task(self._accept(sock)) for sock in self._sockets]

    async def close(self) -> None:
        """Stop listening and drop every connection (their tasks end before this returns:
        none is left for the event loop to cancel on its way out)."""
        for task in self._acceptors:
            task.cancel()
        await asyncio.gather(*self._acceptors, return_exceptions=True)
        for sock in self._sockets:
            sock.close()
        self._acceptors, self._sockets = [], []
        for writer in [*self._reading, *self._writing]:
            writer.transport.abort()
        self._reading.clear()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)

    async def _accept(self, sock: socket.socket) -> None:
        """Take connections one at a time, each given a slot (or closed) before the next
        is taken: connections never outnumber the cap, so neither do file descriptors."""
        loop, refused = asyncio.get_running_loop(), False
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # out of file descriptors, say: others may free some
                if not refused:  # once per spell, not ten lines a second
                    log.warning("server: cannot accept connections: %s; retrying",
                                exc.strerror or exc)
                refused = True
                await asyncio.sleep(_ACCEPT_RETRY)
                continue
            refused = False
            if not self._make_room():
                conn.close()
                continue
            try:
                reader, writer = await _streams(loop, conn)
            except OSError:
                conn.close()
                continue
            self._reading[writer] = None
            task = loop.create_task(self._serve(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _make_room(self) -> bool:
        """Whether a new connection may have a slot; when none is free, the oldest
        connection still reading its request gives up its own (idle or slow clients cannot
        starve /healthz). False when every slot is busy answering."""
        if self.connections < self._limits.connections:
            return True
        if not self._reading:
            return False
        oldest = next(iter(self._reading))
        del self._reading[oldest]
        oldest.transport.abort()
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            reply = await self._answer(reader, writer)
            if reply is not None:
                await self._send(writer, reply)
        finally:
            self._reading.pop(writer, None)
            self._writing.discard(writer)

    async def _answer(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> Reply | None:
        """The reply to the request on ``reader``; None when the connection was pushed out."""
        try:
            async with asyncio.timeout(self._limits.read_timeout):
                method, path, authorization = await _read_request(reader)
            reply = self._dispatch(method, path, authorization)
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            reply = Reply(400, b"bad request\n")
        return reply if writer in self._reading else None

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        """Write the reply and close, all within the write deadline; else drop the client."""
        del self._reading[writer]
        self._writing.add(writer)
        try:
            async with asyncio.timeout(self._limits.write_timeout):
                writer.write(_encode(reply))
                await writer.drain()
                writer.close()  # the socket closes once the last byte left
                await writer.wait_closed()
        except (TimeoutError, ConnectionError):
            writer.transport.abort()

    def _dispatch(self, method: str, path: str, authorization: bytes | None) -> Reply:
        path = path.split("?", 1)[0]
        route = self._routes.get(path)
        if route is None:
            return Reply(404, b"not found\n")
        if method != "GET":
            return Reply(405, b"only GET is supported\n")
        if not self._authorized(path, authorization):
            return _UNAUTHORIZED
        try:
            return route()
        except Exception:  # a broken check must not take the server down
            log.exception("server: %s failed", path)
            return Reply(500, b"internal error\n")

    def _authorized(self, path: str, authorization: bytes | None) -> bool:
        if self._token is None or path in self._open_paths:
            return True
        scheme, _, credentials = (authorization or b"").strip().partition(b" ")
        # compare_digest: the time taken tells nothing about how much of a guess was right.
        return (scheme.lower() == b"bearer"
                and hmac.compare_digest(credentials.strip(), self._token))


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes | None]:
    """The method, target and Authorization value of one request; other headers are
    read and ignored."""
    parts = (await reader.readline()).decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    authorization = None
    for _ in range(_MAX_HEADER_LINES):
        line = (await reader.readline()).strip()
        if line == b"":
            return parts[0], parts[1], authorization
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization":
            authorization = value.strip()
    raise ValueError("too many header lines")


def _encode(reply: Reply) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
    head = (f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}\r\n"
            f"Content-Type: {reply.content_type}\r\nContent-Length: {len(reply.body)}\r\n"
            + ("Allow: GET\r\n" if reply.status == 405 else "") + extra
            + "Connection: close\r\n\r\n")
    return head.encode("latin-1") + reply.body


def _listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address ``host`` names (as asyncio.start_server binds)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # an IPv4 address gets its own socket
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(_BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def _streams(loop: asyncio.AbstractEventLoop, conn: socket.socket
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Reader and writer over an accepted socket (what start_server hands its callback)."""
    reader = asyncio.StreamReader(limit=_MAX_LINE)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

