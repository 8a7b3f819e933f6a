"""A TCP proxy on 127.0.0.1 in front of PostgreSQL that counts round trips.

A round trip (a "turn") is the client sending after the server spoke: however many
messages a pipelined batch holds, the client waits for one answer. Each turn is labelled by
the statements it carries (from the frontend protocol's Query, Parse and Bind messages: a
prepared statement's Bind names the Parse seen earlier on its connection), so a cost can be
broken down by the calls that make it up. The server is a Unix socket (pgserver's) or a TCP
address; the client must not ask for TLS or GSS encryption (``sslmode=disable
gssencmode=disable``), which the proxy could not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

_UNTYPED = {80877103: "(TLS request)", 80877104: "(GSS request)", 80877102: "(cancel)"}
_LABEL_CHARS = 90


@dataclass
class Counts:
    turns: int = 0
    connections: int = 0
    labels: Counter[str] = field(default_factory=Counter)  # turns by their statements

    def __sub__(self, other: Counts) -> Counts:
        labels = Counter(self.labels)
        labels.subtract(other.labels)
        return Counts(self.turns - other.turns, self.connections - other.connections,
                      +labels)


def _label(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= _LABEL_CHARS else text[:_LABEL_CHARS - 1] + "…"


class _Stream:
    """The client side of one connection, parsed message by message."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.started = False  # past the untyped startup message
        self.statements: dict[bytes, str] = {}  # prepared statement name -> its SQL
        self.turn: list[str] = []  # the labels of the turn in progress
        self.open = False  # the client spoke last: a turn awaits its answer

    def feed(self, data: bytes) -> None:
        self.buf += data
        while True:
            if not self.started:
                if len(self.buf) < 8:
                    return
                size, code = struct.unpack("!ii", self.buf[:8])
                if len(self.buf) < size:
                    return
                self._note(_UNTYPED.get(code, "(startup)"))
                self.started = code not in _UNTYPED
                del self.buf[:size]
                continue
            if len(self.buf) < 5:
                return
            size = struct.unpack("!i", self.buf[1:5])[0]
            if len(self.buf) < 1 + size:
                return
            self._message(chr(self.buf[0]), bytes(self.buf[5:1 + size]))
            del self.buf[:1 + size]

    def _message(self, kind: str, body: bytes) -> None:
        if kind == "Q":
            self._note(_label(body.split(b"\0", 1)[0].decode(errors="replace")))
        elif kind == "P":
            name, rest = body.split(b"\0", 1)
            sql = rest.split(b"\0", 1)[0].decode(errors="replace")
            self.statements[name] = sql
            self._note(_label(sql))
        elif kind == "B":
            name = body.split(b"\0", 2)[1]
            self._note(_label(self.statements.get(name, "(unknown prepared statement)")))
        elif kind == "X":
            self._note("(terminate)")
        elif kind in "pF":
            self._note(f"({kind} message)")

    def _note(self, label: str) -> None:
        if label not in self.turn:
            self.turn.append(label)


class CountingProxy:
    """``with CountingProxy(target) as proxy``: listens on 127.0.0.1:``proxy.port``;
    ``target`` is a Unix socket path or a (host, port) pair."""

    def __init__(self, target: str | tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._lock = threading.Lock()
        self._counts = Counts()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(self._counts.turns, self._counts.connections,
                          Counter(self._counts.labels))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if isinstance(self.target, str):
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        with self._lock:
            self._counts.connections += 1
        stream = _Stream()
        with contextlib.suppress(asyncio.CancelledError):  # the proxy closing: not an error
            await asyncio.gather(self._pump(reader, up_writer, stream, client=True),
                                 self._pump(up_reader, writer, stream, client=False),
                                 return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    stream: _Stream, *, client: bool) -> None:
        try:
            while data := await reader.read(65536):
                self._account(stream, data, client)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def _account(self, stream: _Stream, data: bytes, client: bool) -> None:
        with self._lock:
            if client:
                if not stream.open:  # the server spoke last (or nothing was said yet)
                    self._counts.turns += 1
                    stream.open = True
                stream.feed(data)
            elif stream.open:
                self._counts.labels[" + ".join(stream.turn) or "(no statement)"] += 1
                stream.turn, stream.open = [], False
