"""The ops server is private and cannot be exhausted: it binds 127.0.0.1 unless told
otherwise, /status and /metrics need the bearer token when one is set (the probes never
do), idle or slow clients cannot starve /healthz or the process's file descriptors, and a
client that never reads is dropped at the write deadline. A prefix route (the WebSub
callback) takes GET and POST without the token, is handed the whole request, and has a
body refused before it is read (411, 413) or cut at the read deadline.

In-process tests drive `OpsServer` with small limits over real sockets on 127.0.0.1; the
end-to-end ones run `ingest run` in a subprocess (one under a 128-file limit).
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from helpers.cli import REPO, ingest_command
from helpers.daemonrun import free_port, wait_for
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, write_config
from ingest.config.load import load_config
from ingest.daemon.http_server import Limits, OpsServer, Reply, Request

TOKEN = "ops-T0ken-7"
BIG = b"x" * (32 << 20)  # more than the kernel buffers of both ends hold


def routes() -> dict:
    return {"/healthz": lambda: Reply(200, b"ok\n"), "/readyz": lambda: Reply(200, b"ok\n"),
            "/status": lambda: Reply(200, b"[]\n", "application/json"),
            "/metrics": lambda: Reply(200, b"# metrics\n"), "/big": lambda: Reply(200, BIG)}


def ask(port: int, request: bytes, host: str = "127.0.0.1", timeout: float = 5) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *headers, "", ""]
    return ask(port, "\r\n".join(lines).encode())


def status_line(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (within 5 s) without sending anything."""
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:  # closed with our request unread
        return True
    except TimeoutError:  # still open
        return False


def serve(scenario, **server_args):
    """Run ``scenario(server)`` (a blocking function, in a thread) beside a started server."""
    async def main():
        server = OpsServer("127.0.0.1", 0, routes(), **server_args)
        await server.start()
        try:
            return await asyncio.to_thread(scenario, server)
        finally:
            await server.close()

    return asyncio.run(main())


def test_status_and_metrics_need_the_bearer_token_and_the_probes_do_not():
    def scenario(server):
        port = server.port
        return {
            "none": get(port, "/status"),
            "wrong": get(port, "/status", "Authorization: Bearer ops-T0ken-8"),
            "prefix": get(port, "/metrics", "Authorization: Bearer ops-T0ken"),
            "basic": get(port, "/metrics", f"Authorization: Basic {TOKEN}"),
            "right": get(port, "/status", f"Authorization: Bearer {TOKEN}"),
            "lower": get(port, "/metrics", f"authorization: bearer  {TOKEN}"),
            "healthz": get(port, "/healthz"), "readyz": get(port, "/readyz?verbose=1"),
            "unknown": get(port, "/nope"),
        }

    answers = serve(scenario, token=TOKEN)
    for refused in ("none", "wrong", "prefix", "basic"):
        assert status_line(answers[refused]) == b"HTTP/1.1 401 Unauthorized", refused
        assert b'\r\nWWW-Authenticate: Bearer realm="ingest"\r\n' in answers[refused]
        assert TOKEN.encode() not in answers[refused]
    for allowed in ("right", "lower", "healthz", "readyz"):
        assert status_line(answers[allowed]) == b"HTTP/1.1 200 OK", allowed
    assert status_line(answers["unknown"]) == b"HTTP/1.1 404 Not Found"
    # Without a token every path is open, as before.
    assert status_line(serve(lambda server: get(server.port, "/status"))) == b"HTTP/1.1 200 OK"


def test_idle_connections_beyond_the_cap_cannot_starve_healthz():
    cap = 8

    def scenario(server):
        with ExitStack() as stack:
            idle = [stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
                    for _ in range(5 * cap)]
            started = time.monotonic()
            answer = get(server.port, "/healthz")
            took = time.monotonic() - started
            most = server.connections
            oldest_dropped = closed_by_server(idle[0])  # pushed out, not left to time out
        return answer, took, most, oldest_dropped

    answer, took, most, oldest_dropped = serve(
        scenario, limits=Limits(connections=cap, read_timeout=30))
    assert status_line(answer) == b"HTTP/1.1 200 OK"
    assert took < 1.0  # answered at once, not after the idle clients' 30 s read deadline
    assert most <= cap and oldest_dropped


def test_a_client_that_never_reads_is_dropped_at_the_write_deadline():
    def scenario(server):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"GET /big HTTP/1.1\r\n\r\n")
            wait_for(lambda: server.connections == 1, 5)
            # Never reads: the reply cannot leave, so the deadline must end it.
            started = time.monotonic()
            wait_for(lambda: server.connections == 0, 10)
            return time.monotonic() - started

    assert serve(scenario, limits=Limits(write_timeout=0.5)) < 5.0


def test_when_every_slot_is_answering_a_new_connection_is_closed_at_once():
    def scenario(server):
        with ExitStack() as stack:
            for _ in range(2):  # both slots: writing to clients that do not read
                sock = stack.enter_context(socket.socket())
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", server.port))
                sock.sendall(b"GET /big HTTP/1.1\r\n\r\n")
            wait_for(lambda: server.connections == 2, 5)
            late = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            return closed_by_server(late)

    assert serve(scenario, limits=Limits(connections=2, write_timeout=30))


def test_the_shipped_config_and_the_default_bind_the_loopback_only(tmp_path):
    assert load_config(REPO / "config.yaml", env={}).server.host == "127.0.0.1"
    config = write_config(tmp_path / "config.yaml", [("a", "https://a.example/rss")])
    assert load_config(config, env={}).server.host == "127.0.0.1"


def start_daemon(tmp_path: Path, site: FaultServer, *, nofile: int | None = None,
                 **server) -> tuple[subprocess.Popen, int, Path]:
    """`ingest run` on one small local feed, its ops server on a free port; the process
    is limited to ``nofile`` open files when given."""
    port = free_port()
    config = write_config(tmp_path / "config.yaml", add_small_site(site, feeds=1),
                          extract={"workers": 1}, server={"port": port, **server})
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}

    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log = tmp_path / "run.log"
    proc = subprocess.Popen([*ingest_command(), "run", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                            preexec_fn=limit)

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return status_line(get(port, "/healthz")) == b"HTTP/1.1 200 OK"
        except OSError:
            return False

    wait_for(healthy, 20, log.read_text)
    return proc, port, log


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_daemon_binds_the_loopback_and_answers_beside_more_idle_sockets_than_files(
        tmp_path):
    """The default host is 127.0.0.1; and 131 idle connections to a daemon limited to 128
    open files stopped /healthz."""
    with FaultServer() as site, ExitStack() as stack:
        proc, port, log = start_daemon(tmp_path, site, nofile=128)
        stack.callback(stop, proc)
        with pytest.raises(ConnectionRefusedError):  # 127.0.0.2 is this host too
            socket.create_connection(("127.0.0.2", port), timeout=2).close()
        assert f"ops on http://127.0.0.1:{port}" in log.read_text()

        for _ in range(131):
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)  # the flood has the kernel's accept queue full for a moment
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            answer = sock.recv(65536)
        assert status_line(answer) == b"HTTP/1.1 200 OK", log.read_text()
        assert time.monotonic() - started < 1.0  # not after the idle ones' read deadline
        assert len(os.listdir(f"/proc/{proc.pid}/fd")) < 128


# -- prefix routes (the WebSub callback) ------------------------------------------------------------
MAX_BODY = 1000


class Recorder:
    """A prefix route's handler that keeps what it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[Request] = []
        self.fail = fail

    async def __call__(self, request: Request) -> Reply:
        self.requests.append(request)
        if self.fail:
            raise RuntimeError("broken handler")
        return Reply(202, b"taken\n")


def post(port: int, path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", *headers, "", ""]
    return ask(port, "\r\n".join(lines).encode() + body)


def serve_prefix(scenario, handler: Recorder, **limits):
    return serve(scenario, token=TOKEN, prefixes={"/websub/": (handler, MAX_BODY)},
                 limits=Limits(**limits))


def test_a_prefix_route_gets_the_whole_request_without_the_token_and_status_still_needs_it():
    handler = Recorder()
    body = b"<feed>\x00\xff" + b"x" * (MAX_BODY - 8)  # exactly the cap, any bytes

    def scenario(server):
        port = server.port
        return {
            "post": post(port, "/websub/cb-1?x=1&x=2&empty=", body, "Content-Type: application/atom+xml",
                         f"Content-Length: {len(body)}", "X-Hub-Signature: sha256=ab"),
            "get": get(port, "/websub/cb-2?hub.mode=subscribe&hub.challenge=c%20d&hub.topic=https%3A%2F%2Fa"),
            "put": ask(port, b"PUT /websub/cb-1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            "post_status": post(port, "/status", b"", "Content-Length: 0"),
            "status": get(port, "/status"),
        }

    answers = serve_prefix(scenario, handler)
    assert status_line(answers["post"]) == b"HTTP/1.1 202 Accepted"
    assert answers["post"].endswith(b"\r\n\r\ntaken\n")
    assert status_line(answers["get"]) == b"HTTP/1.1 202 Accepted"
    posted, got = handler.requests
    assert (posted.method, posted.path, posted.query, posted.body) == (
        "POST", "/websub/cb-1", {"x": "1", "empty": ""}, body)
    assert posted.headers["content-type"] == "application/atom+xml"
    assert posted.headers["x-hub-signature"] == "sha256=ab" and posted.headers["host"] == "x"
    assert (got.method, got.path, got.body) == ("GET", "/websub/cb-2", b"")
    assert got.query == {"hub.mode": "subscribe", "hub.challenge": "c d", "hub.topic": "https://a"}
    assert status_line(answers["put"]) == b"HTTP/1.1 405 Method Not Allowed"
    assert b"\r\nAllow: GET, POST\r\n" in answers["put"]
    assert status_line(answers["post_status"]) == b"HTTP/1.1 405 Method Not Allowed"
    assert b"\r\nAllow: GET\r\n" in answers["post_status"]
    assert status_line(answers["status"]) == b"HTTP/1.1 401 Unauthorized"


@pytest.mark.parametrize("headers, expected", [
    ((f"Content-Length: {MAX_BODY + 1}",), b"HTTP/1.1 413 Content Too Large"),
    ((f"Content-Length: {10**17}",), b"HTTP/1.1 413 Content Too Large"),
    ((), b"HTTP/1.1 411 Length Required"),
    (("Transfer-Encoding: chunked",), b"HTTP/1.1 411 Length Required"),
    (("Transfer-Encoding: chunked", "Content-Length: 3"), b"HTTP/1.1 411 Length Required"),
    (("Content-Length: 3", "Content-Length: 4"), b"HTTP/1.1 400 Bad Request"),
    (("Content-Length: -3",), b"HTTP/1.1 400 Bad Request"),
    (("Content-Length: \u0663",), b"HTTP/1.1 400 Bad Request"),  # a digit, not an ASCII one
])
def test_a_body_without_an_acceptable_length_is_refused_before_it_is_read(headers, expected):
    handler = Recorder()

    def scenario(server):
        # Only the head is sent: an answer proves the server did not wait for a body.
        lines = ["POST /websub/cb-1 HTTP/1.1", *headers, "", ""]
        return ask(server.port, "\r\n".join(lines).encode("utf-8"))

    assert status_line(serve_prefix(scenario, handler, read_timeout=30)) == expected
    assert handler.requests == []


def test_headers_beyond_their_cap_are_refused_and_not_kept():
    handler = Recorder()
    big = [f"X-Filler-{n}: {'v' * 4000}" for n in range(20)]  # 80 KB of headers, 20 lines

    def scenario(server):
        return get(server.port, "/websub/cb-1", *big), get(server.port, "/websub/cb-1", *big[:10])

    refused, taken = serve_prefix(scenario, handler)
    assert status_line(refused) == b"HTTP/1.1 400 Bad Request"
    assert status_line(taken) == b"HTTP/1.1 202 Accepted" and len(handler.requests) == 1


def test_a_slow_body_is_cut_by_the_read_deadline_and_the_handler_never_sees_it():
    handler = Recorder()

    def scenario(server):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /websub/cb-1 HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf")
            return sock.recv(65536)  # the rest never comes

    assert status_line(serve_prefix(scenario, handler, read_timeout=0.3)) == b"HTTP/1.1 400 Bad Request"
    assert handler.requests == []


def test_a_client_that_expects_100_continue_is_told_to_send_its_body():
    handler = Recorder()

    def scenario(server):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"POST /websub/cb-1 HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            interim = sock.recv(25)
            sock.sendall(b"body")
            return interim, sock.recv(65536)

    interim, answer = serve_prefix(scenario, handler)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert status_line(answer) == b"HTTP/1.1 202 Accepted" and handler.requests[0].body == b"body"


def test_a_failing_or_stuck_handler_is_a_500_or_503_logged_without_the_path(caplog):
    async def stuck(request: Request) -> Reply:
        await asyncio.sleep(30)
        return Reply(200, b"")

    def scenario(server):
        return get(server.port, "/websub/cb-SECRETish?hub.challenge=abc")

    broken = serve_prefix(scenario, Recorder(fail=True))
    late = serve(scenario, prefixes={"/websub/": (stuck, MAX_BODY)},
                 limits=Limits(handle_timeout=0.2))
    assert status_line(broken) == b"HTTP/1.1 500 Internal Server Error"
    assert status_line(late) == b"HTTP/1.1 503 Service Unavailable"
    logged = [r.getMessage() for r in caplog.records if r.name == "ingest.server"]
    assert logged == ["server: the handler of /websub/ failed",
                      "server: the handler of /websub/ gave no answer within 0.2s"]
    assert "cb-SECRETish" not in caplog.text and "abc" not in caplog.text


def test_closing_the_server_ends_a_handler_still_at_work():
    started, cancelled = [], []

    async def stuck(request: Request) -> Reply:
        started.append(request.path)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(request.path)
            raise
        return Reply(200, b"")

    def ask_and_leave(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /websub/cb-1 HTTP/1.1\r\n\r\n")
            wait_for(lambda: started, 5)

    async def main() -> list[str]:
        server = OpsServer("127.0.0.1", 0, {}, prefixes={"/websub/": (stuck, MAX_BODY)},
                           limits=Limits(handle_timeout=60))
        await server.start()
        await asyncio.to_thread(ask_and_leave, server.port)
        await server.close()
        return list(cancelled)  # before asyncio.run cancels what is left

    assert asyncio.run(main()) == ["/websub/cb-1"]
