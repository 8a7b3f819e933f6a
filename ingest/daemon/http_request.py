"""The wire of the ops server (`ingest.daemon.http_server`): its listening sockets, and
the messages on a connection: one HTTP/1.1 request read (the request line and headers,
then, for a prefix route that takes one, the body) and its `Reply` encoded.

Everything here is bounded before it is read: a line is at most MAX_LINE bytes (the
stream's limit), there are at most MAX_HEADER_LINES header lines and MAX_HEADER_BYTES of
them kept, and a body is read only with a Content-Length no larger than the route's cap
(no chunked bodies). The caller runs it all under its read deadline. A request that is
not HTTP raises ValueError; a body refused before it is read raises `BodyRefused`.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

MAX_LINE = 8192  # bytes of one request or header line; longer is a 400
MAX_HEADER_LINES = 100
MAX_HEADER_BYTES = 64 * 1024  # of the names and values kept, all headers together
_MAX_LENGTH_DIGITS = 18  # a Content-Length longer than this is no size we would take
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            411: "Length Required", 413: "Content Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class Request:
    """One request as a prefix route's handler gets it."""

    method: str
    path: str  # without the query
    query: dict[str, str] = field(default_factory=dict)  # the first value of each name
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class BodyRefused(Exception):
    """A request body not read: ``status`` 411 (no length given) or 413 (too large). The
    server answers it; it never leaves the server."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_head(reader: asyncio.StreamReader) -> Request:
    """The request line and headers (no body yet); ValueError when it is not HTTP."""
    parts = (await reader.readline()).decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    path, _, query = parts[1].partition("?")
    headers: dict[str, str] = {}
    kept = 0
    for _ in range(MAX_HEADER_LINES):
        line = (await reader.readline()).strip()
        if line == b"":
            return Request(parts[0], path, parse_query(query), headers)
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            continue  # not a header line: ignored
        kept += len(name) + len(value)
        if kept > MAX_HEADER_BYTES:
            raise ValueError("headers too large")
        name, value = name.strip().lower(), value.strip()
        # A repeated header is one list (RFC 9110, 5.3); a repeated Content-Length then
        # fails its number check rather than one copy silently winning.
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raise ValueError("too many header lines")


def parse_query(query: str) -> dict[str, str]:
    """The first value of each name in a query string (the request line caps its size)."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        found.setdefault(name, value)
    return found


def body_length(headers: dict[str, str], max_body: int) -> int:
    """The Content-Length of a body we may read; BodyRefused (411, 413) or ValueError."""
    if "transfer-encoding" in headers:
        raise BodyRefused(411, "a chunked body is not taken; send Content-Length\n")
    value = headers.get("content-length")
    if value is None:
        raise BodyRefused(411, "Content-Length is required\n")
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_LENGTH_DIGITS:
        raise ValueError("bad Content-Length")
    length = int(value)
    if length > max_body:
        raise BodyRefused(413, f"the body is larger than {max_body} bytes\n")
    return length


def encode_reply(reply: Reply) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
    head = (f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}\r\n"
            f"Content-Type: {reply.content_type}\r\nContent-Length: {len(reply.body)}\r\n"
            + extra + "Connection: close\r\n\r\n")
    return head.encode("latin-1") + reply.body


async def open_streams(loop: asyncio.AbstractEventLoop, conn: socket.socket
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Reader and writer over an accepted socket (what start_server hands its callback);
    the reader refuses a line longer than MAX_LINE."""
    reader = asyncio.StreamReader(limit=MAX_LINE)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def listen(host: str, port: int, backlog: int) -> list[socket.socket]:
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
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets

