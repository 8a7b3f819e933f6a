"""A feed's request settings (ingest.models.Access) on each hop of one fetch.

The client hands each request a `RequestPlan` in its extensions: the headers the feed
asks for (its own, a Cookie header built from its cookies, Basic auth, its User-Agent),
the origin they are meant for, and the proxy it chose. httpx copies a request's headers
onto every redirect hop and drops only ``Authorization`` when a hop leaves the origin
(and ``Cookie`` on every hop, for the cookies its jar holds for the next host), so
`AccessTransport` decides on every hop: a hop to the planned origin (or its https://
upgrade) carries the headers, the feed's cookies before the jar's; any other hop has them
removed and the default User-Agent back. A feed's cookies and tokens never reach another
origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ingest.models import Access
from ingest.urls import DEFAULT_PORTS

PLAN = "ingest.plan"  # the request extension holding a RequestPlan


@dataclass(frozen=True)
class RequestPlan:
    origin: tuple[str, str, int]  # scheme, host, port
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    proxy: str | None = field(default=None, repr=False)  # the feed's own proxy


def plan_request(url: httpx.URL, access: Access | None) -> dict[str, RequestPlan]:
    """The extensions of a request for ``url`` made with ``access`` (None: nothing)."""
    if access is None:
        return {}
    headers = list(access.headers)
    if access.cookies:
        headers.append(("Cookie", "; ".join(f"{name}={value}" for name, value in access.cookies)))
    if access.basic_credential is not None:
        headers.append(("Authorization", f"Basic {access.basic_credential}"))
    if access.user_agent:
        headers.append(("User-Agent", access.user_agent))
    return {PLAN: RequestPlan(_origin(url), tuple(headers), access.proxy)}


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 0)


def _is_planned(url: httpx.URL, origin: tuple[str, str, int]) -> bool:
    here = _origin(url)
    upgrade = origin[0] == "http" and origin[2] == 80 and here == ("https", origin[1], 443)
    return here == origin or upgrade


class AccessTransport(httpx.AsyncBaseTransport):
    """Each hop's headers set from its plan, or cleared of them off the planned origin."""

    def __init__(self, inner: httpx.AsyncBaseTransport, user_agent: str) -> None:
        self._inner = inner
        self._user_agent = user_agent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        plan = request.extensions.get(PLAN)
        if isinstance(plan, RequestPlan) and plan.headers:
            headers = request.headers
            if _is_planned(request.url, plan.origin):
                jar = headers.get("Cookie")  # what the host itself set earlier: kept
                for name, value in plan.headers:
                    headers[name] = f"{value}; {jar}" if name == "Cookie" and jar else value
            else:  # httpx put the jar's cookies for this hop in place of ours: kept
                for name, _ in plan.headers:
                    if name != "Cookie":
                        headers.pop(name, None)
                headers["User-Agent"] = self._user_agent
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
