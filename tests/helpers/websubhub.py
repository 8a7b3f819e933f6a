"""A small, real WebSub hub on 127.0.0.1 for end-to-end tests and bench/websub_latency.py.

It follows the W3C WebSub recommendation as far as ingest's subscriber needs, and serves
the feeds and article pages it is the hub of (it is a `FaultServer`, so ``add`` works):

    with WebSubHub() as hub:
        hub.add("/feed.xml", websub_rss(items, hub.hub_url, hub.url("/feed.xml")), RSS)
        hub.grant_leases(4)                 # the next verification grants 4 s, not the lease asked
        ...                                 # a subscriber POSTs to hub.hub_url; the hub answers
                                            # 202, then GETs the callback to verify the intent
        statuses = hub.publish(topic, body, "application/rss+xml", sign="sha256")
        hub.deny(topic)                     # hub.mode=denied to every subscriber of the topic

API (thread-safe):
    .hub_url                    the hub endpoint (POST, application/x-www-form-urlencoded)
    .subscribe_status = 202     what the hub answers to a well-formed (un)subscription request
    .grant_leases(*seconds)     the next verifications grant these leases, in order; then the
                                lease the subscriber asked for
    .subscriptions(topic=None)  the subscriptions, verified or not (`HubSubscription`)
    .active(topic)              the verified ones whose lease has not run out: who gets pushes
    .publish(topic, body, content_type, sign="sha256") -> [status per active subscriber];
                                sign: "sha1" | "sha256" | "sha384" | "sha512" (HMAC of the
                                body with the subscription's secret), "wrong" (a sha256 made
                                with another key) or None (no X-Hub-Signature)
    .deny(topic, reason)        tells every subscriber of ``topic`` it is denied, forgets them
    .events(kind=None)          the log: `HubEvent`s of kind "subscribe", "unsubscribe",
                                "refused" (a bad request), "verify", "deny", "publish"
    .wait_for(check, timeout)   poll ``check()`` until true (AssertionError with the log else)
A bad request (no hub.callback, a mode other than subscribe/unsubscribe, a callback that is
not http(s)) is answered 400 and logged as "refused". Verification runs in a thread of its
own once the 202 has gone out, as a hub does it asynchronously.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qs, urlencode, urlsplit

from .faultserver import FaultServer, _Handler
from .newssite import Item

HUB_PATH = "/hub"
_FORM = "application/x-www-form-urlencoded"
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
            "sha512": hashlib.sha512}


@dataclass
class HubSubscription:
    callback: str
    topic: str
    secret: str | None = field(repr=False)
    lease_asked: int | None
    verified: bool = False
    lease: float | None = None  # granted, in seconds
    expires_at: float | None = None  # monotonic


@dataclass(frozen=True)
class HubEvent:
    kind: str
    callback: str
    topic: str
    detail: dict = field(default_factory=dict)  # status, ok, lease, secret, mode, reason...
    at: float = field(default_factory=time.monotonic)


class _HubHandler(_Handler):
    def do_POST(self) -> None:  # noqa: N802
        owner = self.server.owner
        assert isinstance(owner, WebSubHub)
        parts = urlsplit(self.path)
        owner._record("POST", self.path, parts.path, self.headers)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path != HUB_PATH:
            return self.send(404, b"not found", {"Content-Type": "text/plain"})
        status, then = owner._subscription_request(self.headers.get("Content-Type", ""), body)
        self.send(status, b"", {"Content-Type": "text/plain"})
        if then is not None:
            threading.Thread(target=then, daemon=True).start()


class WebSubHub(FaultServer):
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", answer_within: float = 10) -> None:
        super().__init__(host)
        self._handler = _HubHandler
        self.answer_within = answer_within
        self.subscribe_status = 202
        self._subs: dict[tuple[str, str], HubSubscription] = {}
        self._leases: list[float] = []
        self._events: list[HubEvent] = []

    def __enter__(self) -> WebSubHub:
        self.start()
        return self

    @property
    def hub_url(self) -> str:
        return self.url(HUB_PATH)

    def grant_leases(self, *seconds: float) -> None:
        with self._lock:
            self._leases.extend(seconds)

    def subscriptions(self, topic: str | None = None) -> list[HubSubscription]:
        with self._lock:
            return [s for s in self._subs.values() if topic in (None, s.topic)]

    def active(self, topic: str) -> list[HubSubscription]:
        now = time.monotonic()
        return [s for s in self.subscriptions(topic)
                if s.verified and (s.expires_at is None or s.expires_at > now)]

    def events(self, kind: str | None = None) -> list[HubEvent]:
        with self._lock:
            return [e for e in self._events if kind in (None, e.kind)]

    def describe(self) -> str:
        return "hub log:\n" + "\n".join(f"  {e.kind} {e.callback} {e.topic} "
                                        f"{ {k: v for k, v in e.detail.items() if k != 'secret'} }"
                                        for e in self.events())

    def wait_for(self, check: Callable[[], object], timeout: float,
                 describe: Callable[[], str] = lambda: "") -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() >= deadline:
                raise AssertionError(f"gave up after {timeout}s\n{self.describe()}\n{describe()}")
            time.sleep(0.05)

    # -- the subscriber's side: (un)subscription requests and the verification of intent --

    def _subscription_request(self, content_type: str, body: bytes
                              ) -> tuple[int, Callable[[], None] | None]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        mode, callback, topic = (form.get(f"hub.{k}", "") for k in ("mode", "callback", "topic"))
        detail = {"mode": mode, "secret": form.get("hub.secret"),
                  "lease": form.get("hub.lease_seconds"), "content_type": content_type}
        if (not content_type.startswith(_FORM) or mode not in ("subscribe", "unsubscribe")
                or not topic or urlsplit(callback).scheme not in ("http", "https")):
            self._note("refused", callback, topic, detail)
            return 400, None
        self._note(mode, callback, topic, detail)
        if not 200 <= self.subscribe_status < 300:
            return self.subscribe_status, None
        lease = form.get("hub.lease_seconds")
        asked = int(lease) if lease and lease.isdigit() else None
        if mode == "subscribe":
            return self.subscribe_status, lambda: self._verify_subscribe(
                HubSubscription(callback, topic, form.get("hub.secret"), asked))
        return self.subscribe_status, lambda: self._verify_unsubscribe(callback, topic)

    def _verify_subscribe(self, sub: HubSubscription) -> None:
        with self._lock:
            lease = self._leases.pop(0) if self._leases else (sub.lease_asked or 864000)
        ok, status = self._challenge(sub.callback, {"hub.mode": "subscribe", "hub.topic": sub.topic,
                                                    "hub.lease_seconds": str(int(lease))})
        self._note("verify", sub.callback, sub.topic,
                  {"mode": "subscribe", "ok": ok, "status": status, "lease": lease})
        if ok:
            sub.verified, sub.lease, sub.expires_at = True, lease, time.monotonic() + lease
            with self._lock:
                self._subs[(sub.callback, sub.topic)] = sub

    def _verify_unsubscribe(self, callback: str, topic: str) -> None:
        ok, status = self._challenge(callback, {"hub.mode": "unsubscribe", "hub.topic": topic})
        self._note("verify", callback, topic, {"mode": "unsubscribe", "ok": ok, "status": status})
        if ok:
            with self._lock:
                self._subs.pop((callback, topic), None)

    def _challenge(self, callback: str, params: dict[str, str]) -> tuple[bool, int]:
        """GET the callback with a fresh challenge: verified when it answers 2xx with the
        challenge as its whole body."""
        challenge = secrets.token_urlsafe(16)
        status, body = self._request("GET", _with_query(callback, {**params,
                                                                   "hub.challenge": challenge}))
        return 200 <= status < 300 and body == challenge.encode(), status

    # -- the publisher's side -------------------------------------------------------------

    def publish(self, topic: str, body: bytes, content_type: str,
                sign: str | None = "sha256") -> list[int]:
        """POST ``body`` to every active subscriber of ``topic``; their answers' statuses."""
        statuses = []
        for sub in self.active(topic):
            headers = {"Content-Type": content_type,
                       "Link": f'<{self.hub_url}>; rel="hub", <{topic}>; rel="self"'}
            if sign is not None:
                headers["X-Hub-Signature"] = _signature(sign, sub.secret or "", body)
            status, _ = self._request("POST", sub.callback, body, headers)
            self._note("publish", sub.callback, topic,
                      {"status": status, "sign": sign, "bytes": len(body)})
            statuses.append(status)
        return statuses

    def deny(self, topic: str, reason: str = "denied by the test") -> None:
        for sub in self.subscriptions(topic):
            status, _ = self._request("GET", _with_query(sub.callback, {
                "hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}))
            self._note("deny", sub.callback, topic, {"status": status, "reason": reason})
            with self._lock:
                self._subs.pop((sub.callback, topic), None)

    def _request(self, method: str, url: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body) of one request; 0 when the subscriber does not answer."""
        request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.answer_within) as response:
                return response.status, response.read(65536)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(65536)
        except OSError:
            return 0, b""

    def _note(self, kind: str, callback: str, topic: str, detail: dict) -> None:
        with self._lock:
            self._events.append(HubEvent(kind, callback, topic, detail))


def _signature(sign: str, secret: str, body: bytes) -> str:
    if sign == "wrong":
        return "sha256=" + hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()
    return f"{sign}=" + hmac.new(secret.encode(), body, _DIGESTS[sign]).hexdigest()


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


def websub_rss(items: list[Item], hub: str, topic: str, *, title: str = "Pushed feed") -> bytes:
    """An RSS 2.0 feed naming its WebSub hub and itself (``<atom:link rel="hub|self">``)."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
             f"<channel><title>{escape(title)}</title><link>http://127.0.0.1/</link>",
             f'<atom:link rel="hub" href="{escape(hub)}"/>',
             f'<atom:link rel="self" href="{escape(topic)}" type="application/rss+xml"/>',
             "<language>it</language>"]
    for it in items:
        parts.append(f"<item><title>{escape(it.title)}</title><link>{escape(it.link)}</link>"
                     f'<guid isPermaLink="false">{escape(it.guid or it.link)}</guid>'
                     f"<pubDate>{it.published}</pubDate>"
                     f"<description>{escape(it.summary)}</description></item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()
