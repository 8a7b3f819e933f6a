"""The replica bench's PostgreSQL: the server (TEST_POSTGRES_URL, else pgserver, as the tests
have it), where a proxy reaches it, and the CPU its processes spend."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.common import parent_of, tree
from tests.helpers.postgres import PostgresServer, postgres_server

_TICK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def database_server() -> Iterator[PostgresServer]:
    """The tests' PostgreSQL; SystemExit with the reason when there is none."""
    import pytest  # tests.helpers.postgres reports a missing server as a skip

    try:
        with postgres_server() as server:
            yield server
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise SystemExit(f"bench: {exc.msg}") from None


def described(url: str) -> str:
    """user@host:port/dbname: a database named without its password."""
    params = conninfo_to_dict(url)
    return (f"{params.get('user', '?')}@{params.get('host', 'localhost')}:"
            f"{params.get('port', '5432')}/{params.get('dbname', '?')}")


def proxy_target(url: str) -> str | tuple[str, int]:
    """Where the database of ``url`` listens: a Unix socket's path, or (host, port)."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        host, port = conn.info.host, conn.info.port
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)


def proxied(url: str, proxy_port: int) -> str:
    """``url``'s database reached through a proxy on 127.0.0.1 (plain text: it reads it)."""
    params = conninfo_to_dict(url)
    keep = {k: str(v) for k, v in params.items() if k in ("dbname", "user", "password") and v}
    return make_conninfo(host="127.0.0.1", port=str(proxy_port), sslmode="disable",
                         gssencmode="disable", **keep)


def _cpu(pid: int, children: bool) -> float:
    """utime + stime of ``pid`` (and of its reaped children), in seconds; 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: ended backends
    return ticks / _TICK


class DatabaseCpu:
    """CPU seconds spent by the PostgreSQL server's processes so far: the postmaster, its
    live backends, and those it has reaped. None where the server is not a local process
    whose /proc this bench can read (a remote TEST_POSTGRES_URL)."""

    def __init__(self, url: str) -> None:
        with psycopg.connect(url, connect_timeout=10) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()
            self.postmaster = parent_of(backend[0]) if backend else -1  # while it lives
        # the backend must be a child of this machine's postmaster, not a pid of another host
        if self.postmaster <= 1 or "postgres" not in _name(self.postmaster):
            self.postmaster = -1

    def seconds(self) -> float | None:
        if self.postmaster < 0:
            return None
        live = sum(_cpu(pid, False) for pid in tree(self.postmaster) if pid != self.postmaster)
        return _cpu(self.postmaster, True) + live


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
