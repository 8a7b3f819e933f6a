"""In-process WebSub fakes for the daemon-level tests: a frozen clock, a news site with a hub
behind httpx.MockTransport, and a wait for a condition. (The real hub on 127.0.0.1, for the
end-to-end tests, is `helpers.websubhub`.)"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx

from helpers.pipeline_fakes import Site

RSS = "application/rss+xml"
HUB = "https://hub.example/hub"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class HubAndSite(Site):
    """The news site, and a hub at /hub that takes every request (202) and keeps its form."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/hub":
            self.forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
            return httpx.Response(202)
        return super().answer(request)


async def until(check, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)
