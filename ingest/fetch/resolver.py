"""Host names to addresses for the fetch stage: the system's resolver, and a cache before it.

The private-network check before each request (`netguard.GuardedTransport`) and each new
connection (`netguard.PinnedBackend`) both need a host's addresses. With one
`CachedResolver` shared by the two, a host costs one lookup a minute instead of one per
request plus one per connection, and the check and the connection see the same answer.
getaddrinfo does not say how long a record may be kept, so answers are kept for a fixed
time; failures and empty answers are not kept.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the event loop's ``getaddrinfo`` (what connect uses)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]  # drop IPv6 scope ids


class CachedResolver:
    """``resolver``'s answers, kept ``ttl`` seconds per (host, port)."""

    def __init__(self, resolver: Resolver, ttl: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, max_hosts: int = 1024) -> None:
        self._resolver = resolver
        self._ttl = ttl
        self._clock = clock
        self._max_hosts = max_hosts
        self._answers: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        kept = self._answers.get(key)
        if kept is not None and kept[0] > self._clock():
            return list(kept[1])
        addresses = await self._resolver(host, port)
        if addresses:
            self._keep(key, addresses)
        return addresses

    def _keep(self, key: tuple[str, int], addresses: list[str]) -> None:
        now = self._clock()
        if len(self._answers) >= self._max_hosts:  # forget what has expired, else everything
            self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
            if len(self._answers) >= self._max_hosts:
                self._answers.clear()
        self._answers[key] = (now + self._ttl, list(addresses))
