"""The ops server is private and cannot be exhausted: it binds 127.0.0.1 unless told
otherwise, /status and /metrics need the bearer token when one is set (the probes never
do), idle or slow clients cannot starve /healthz or the process's file descriptors, and a
client that never reads is dropped at the write deadline.

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
from ingest.daemon.http_server import Limits, OpsServer, Reply

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
