"""A tiny HTTP/1.1 server on asyncio for the operations endpoints (no dependency).

    server = OpsServer(host, port, {"/healthz": lambda: Reply(200, b"ok\\n")},
                       prefixes={"/websub/": (handle, max_body)})
    await server.start()    # server.port is the bound port (port 0: any free one)
    await server.close()

A route is one path and a function of no arguments returning a `Reply`; anything but GET
is 405. A prefix route is every path under a prefix and ``async def handle(request:
Request) -> Reply``, for GET and POST (else 405); a POST's body is read only with a
Content-Length within the route's ``max_body`` (none: 411, larger: 413, and the body is
not read). One request per connection (the sockets and messages are in
`ingest.daemon.http_request`); an unknown path is 404, a handler that raises 500. The
daemon's routes are in `ingest.daemon.endpoints`.

With a ``token``, every route but the probes (``open_paths``: /healthz, /readyz)
needs ``Authorization: Bearer <token>``, else 401. Prefix routes are open: what calls
them (a WebSub hub) has no token, so their handlers check each request themselves.
`Limits` keep a client from holding the server: at most ``connections`` at once (a new
one pushes out the oldest that has not finished sending its request, or is closed at
once when every slot is busy answering), ``read_timeout`` for the whole request, its
body included, ``handle_timeout`` for a prefix route's handler and ``write_timeout`` for
the whole reply (a client that never reads is dropped).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace

from ingest.daemon.http_request import (
    BodyRefused,
    Reply,
    Request,
    body_length,
    encode_reply,
    listen,
    open_streams,
    read_head,
)
from ingest.errors import IngestError

__all__ = ["PROBES", "Handler", "Limits", "OpsServer", "Reply", "Request"]

log = logging.getLogger("ingest.server")
_BACKLOG = 128  # connections the kernel holds (no file of ours) while we take one at a time
_ACCEPT_RETRY = 0.1  # seconds before accepting again after the system refused
PROBES = ("/healthz", "/readyz")  # orchestrators' probes carry no credentials


@dataclass(frozen=True)
class Limits:
    connections: int = 64
    read_timeout: float = 5.0  # seconds for the request line, headers and body, all of them
    handle_timeout: float = 10.0  # seconds for a prefix route's handler to answer
    write_timeout: float = 10.0  # seconds for the whole reply to leave


_UNAUTHORIZED = Reply(401, b"this path needs 'Authorization: Bearer <server.token>'\n",
                      headers=(("WWW-Authenticate", 'Bearer realm="ingest"'),))
_ONLY_GET = Reply(405, b"only GET is supported\n", headers=(("Allow", "GET"),))
_ONLY_GET_POST = Reply(405, b"only GET and POST are supported\n", headers=(("Allow", "GET, POST"),))
_FAILED = Reply(500, b"internal error\n")
Handler = Callable[[Request], Awaitable[Reply]]


class OpsServer:
    def __init__(self, host: str, port: int, routes: Mapping[str, Callable[[], Reply]], *,
                 token: str | None = None, open_paths: Collection[str] = PROBES,
                 prefixes: Mapping[str, tuple[Handler, int]] | None = None,
                 on_refused: Callable[[str, int], object] | None = None,
                 limits: Limits = Limits()) -> None:
        self.host = host
        self.port = port
        self._routes = dict(routes)
        self._prefixes = dict(prefixes or {})  # prefix: (handler, max_body in bytes)
        # told (prefix, status) of a body refused before its handler could see it
        self._on_refused = on_refused
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
            self._sockets = listen(self.host, self.port, _BACKLOG)
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
            _, stuck = await asyncio.wait(self._tasks, timeout=1.0)
            for task in stuck:  # a prefix route's handler still at work
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=1.0)

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
                reader, writer = await open_streams(loop, conn)
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
        """The reply to the request on ``reader``; None when the connection was pushed out
        before its request was in."""
        received: Request | Reply
        try:
            async with asyncio.timeout(self._limits.read_timeout):
                received = await self._receive(reader, writer)
        except BodyRefused as refused:
            received = Reply(refused.status, refused.message.encode())
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            received = Reply(400, b"bad request\n")
        if writer not in self._reading:
            return None
        # Answering from here on: a new connection can no longer push this one out.
        del self._reading[writer]
        self._writing.add(writer)
        return received if isinstance(received, Reply) else await self._dispatch(received)

    async def _receive(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> Request | Reply:
        """The request, with its body when a prefix route takes one; or the refusal that
        answers it before its body is read."""
        request = await read_head(reader)
        prefix = self._prefix_of(request.path)
        if prefix is None or request.method == "GET":
            return request
        if request.method != "POST":
            return _ONLY_GET_POST
        try:
            length = body_length(request.headers, self._prefixes[prefix][1])
        except BodyRefused as refused:
            if self._on_refused is not None:
                self._on_refused(prefix, refused.status)
            raise
        if request.headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client waits for it to send
        return replace(request, body=await reader.readexactly(length))

    def _prefix_of(self, path: str) -> str | None:
        """The prefix route ``path`` falls under; None for an exact route or no route."""
        if path in self._routes:
            return None
        return next((p for p in self._prefixes if path.startswith(p)), None)

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        """Write the reply and close, all within the write deadline; else drop the client."""
        try:
            async with asyncio.timeout(self._limits.write_timeout):
                writer.write(encode_reply(reply))
                await writer.drain()
                writer.close()  # the socket closes once the last byte left
                await writer.wait_closed()
        except (TimeoutError, ConnectionError):
            writer.transport.abort()

    async def _dispatch(self, request: Request) -> Reply:
        prefix = self._prefix_of(request.path)
        if prefix is not None:
            return await self._handle(prefix, request)
        route = self._routes.get(request.path)
        if route is None:
            return Reply(404, b"not found\n")
        if request.method != "GET":
            return _ONLY_GET
        if not self._authorized(request.path, request.headers.get("authorization")):
            return _UNAUTHORIZED
        try:
            return route()
        except Exception:  # a broken check must not take the server down
            log.exception("server: %s failed", request.path)
            return _FAILED

    async def _handle(self, prefix: str, request: Request) -> Reply:
        """A prefix route's answer. Logs name the prefix, not the path: a path under it
        may name what it serves (a WebSub callback id)."""
        try:
            async with asyncio.timeout(self._limits.handle_timeout):
                return await self._prefixes[prefix][0](request)
        except TimeoutError:
            log.error("server: the handler of %s gave no answer within %gs", prefix,
                      self._limits.handle_timeout)
            return Reply(503, b"no answer in time; try again later\n")
        except Exception:  # one broken request must not take the server down
            log.exception("server: the handler of %s failed", prefix)
            return _FAILED

    def _authorized(self, path: str, authorization: str | None) -> bool:
        if self._token is None or path in self._open_paths:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        # compare_digest: the time taken tells nothing about how much of a guess was right.
        return (scheme.lower() == "bearer"
                and hmac.compare_digest(credentials.strip().encode("latin-1"), self._token))

