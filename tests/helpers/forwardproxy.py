"""Small proxies on 127.0.0.1 for tests, each logging what it saw.

    with ForwardProxy(auth=("user", "pw")) as proxy:   # HTTP: absolute-form GET, CONNECT
        proxy.url                                        # http://user:pw@127.0.0.1:<port>
        proxy.log                                        # [ProxyHit(...), ...]
    with SocksProxy(auth=("user", "pw")) as proxy:     # SOCKS5, username/password (RFC 1929)
        proxy.url                                        # socks5://user:pw@127.0.0.1:<port>

A hit is logged when the request reached the proxy, before any check: a refused one too
(``allowed=False``: wrong or missing credentials, answered 407 or refused). Threads, one
per connection; the target's answer is relayed until either side closes.
"""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit


@dataclass
class ProxyHit:
    method: str  # GET, CONNECT, SOCKS5
    target: str  # absolute URL, or host:port
    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased; HTTP GET only


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class _Proxy:
    scheme = ""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self._lock = threading.Lock()
        self._log: list[ProxyHit] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(10)
                try:
                    owner._serve(self.request)
                except OSError:
                    pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> _Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        user = "" if self.auth is None else f"{quote(self.auth[0])}:{quote(self.auth[1])}@"
        return f"{self.scheme}://{user}127.0.0.1:{self.port}"

    @property
    def log(self) -> list[ProxyHit]:
        with self._lock:
            return list(self._log)

    def _record(self, hit: ProxyHit) -> None:
        with self._lock:
            self._log.append(hit)

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


class ForwardProxy(_Proxy):
    """An HTTP proxy: ``GET http://host/path`` forwarded, ``CONNECT host:port`` tunnelled."""

    scheme = "http"

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        method, target, _ = reader.readline().decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := reader.readline().decode("latin-1").strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        allowed = self.auth is None or headers.get("proxy-authorization") == "Basic " + \
            base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        self._record(ProxyHit(method, target, allowed, headers))
        if not allowed:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(conn, upstream)  # the client waits for the 200: nothing is buffered
            return
        parts = urlsplit(target)
        upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
        path = parts.path or "/"
        path += f"?{parts.query}" if parts.query else ""
        kept = [f"{k}: {v}" for k, v in headers.items()
                if k not in ("proxy-authorization", "proxy-connection", "connection")]
        lines = [f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]
        upstream.sendall("\r\n".join(lines).encode("latin-1"))
        _copy(upstream, conn)
        upstream.close()


class SocksProxy(_Proxy):
    """A SOCKS5 proxy with username/password auth (or none), CONNECT only."""

    scheme = "socks5"

    def _serve(self, conn: socket.socket) -> None:
        _version, count = _read(conn, 2)
        methods = _read(conn, count)
        wanted = 0 if self.auth is None else 2
        if wanted not in methods:
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(bytes([5, wanted]))
        allowed = True
        if wanted == 2:
            _, ulen = _read(conn, 2)
            user = _read(conn, ulen).decode()
            (plen,) = _read(conn, 1)
            password = _read(conn, plen).decode()
            allowed = (user, password) == self.auth
            conn.sendall(bytes([1, 0 if allowed else 1]))
            if not allowed:
                self._record(ProxyHit("SOCKS5", "", False))
                return
        _, _command, _, kind = _read(conn, 4)
        if kind == 1:
            host = socket.inet_ntoa(_read(conn, 4))
        elif kind == 4:
            host = socket.inet_ntop(socket.AF_INET6, _read(conn, 16))
        else:
            host = _read(conn, _read(conn, 1)[0]).decode()
        port = int.from_bytes(_read(conn, 2), "big")
        self._record(ProxyHit("SOCKS5", f"{host}:{port}", allowed))
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            conn.sendall(b"\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00")  # host unreachable
            return
        conn.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        _pipe(conn, upstream)


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Both ways until both sides are done."""
    back = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
    back.start()
    _copy(client, upstream)
    back.join(timeout=10)
    upstream.close()
