"""The WebSub hub of tests/helpers/websubhub.py against a minimal subscriber, so that the
end-to-end tests that use it can trust what it sends and logs."""

from __future__ import annotations

import hashlib
import hmac
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from helpers.newssite import Item
from helpers.websubhub import WebSubHub, websub_rss

pytestmark = pytest.mark.timeout(20)
SECRET = "s3cret-of-the-subscriber"
TOPIC = "http://127.0.0.1:9/feed.xml"


class Subscriber(ThreadingHTTPServer):
    """Answers verifications with the challenge (or ``echo``, when set) and keeps what it
    was sent: (method, {query}, {lower-cased headers}, body)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SubscriberHandler)
        self.echo: str | None = None
        self.seen: list[tuple[str, dict, dict, bytes]] = []
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def callback(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/websub/cb1"


class _SubscriberHandler(BaseHTTPRequestHandler):
    server: Subscriber

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self.server.seen.append(("GET", query, {k.lower(): v for k, v in self.headers.items()}, b""))
        echo = self.server.echo if self.server.echo is not None else query.get("hub.challenge", "")
        self._answer(200, echo.encode())

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append(("POST", {}, {k.lower(): v for k, v in self.headers.items()}, body))
        self._answer(202, b"")


@pytest.fixture
def hub():
    with WebSubHub() as server:
        yield server


@pytest.fixture
def subscriber():
    server = Subscriber()
    yield server
    server.shutdown()
    server.server_close()


def ask(hub: WebSubHub, **form: str) -> int:
    request = urllib.request.Request(hub.hub_url, data=urlencode(form).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def subscribe(hub: WebSubHub, callback: str, lease: str = "600") -> int:
    return ask(hub, **{"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": callback,
                       "hub.secret": SECRET, "hub.lease_seconds": lease})


def test_subscribe_verify_and_publish_signed_unsigned_and_wrongly(hub, subscriber):
    hub.grant_leases(4)
    assert subscribe(hub, subscriber.callback) == 202
    hub.wait_for(lambda: hub.active(TOPIC), 5)
    method, query, _, _ = subscriber.seen[0]
    assert method == "GET" and query["hub.mode"] == "subscribe" and query["hub.topic"] == TOPIC
    assert query["hub.lease_seconds"] == "4" and len(query["hub.challenge"]) >= 16
    [sub] = hub.active(TOPIC)
    assert (sub.lease, sub.secret, sub.lease_asked) == (4, SECRET, 600)
    [event] = hub.events("subscribe")
    assert event.detail["secret"] == SECRET and event.detail["lease"] == "600"

    body = b"<rss>pushed</rss>"
    for sign in ("sha256", "sha1", "sha512", None, "wrong"):
        assert hub.publish(TOPIC, body, "application/rss+xml", sign=sign) == [202]
    posts = [(headers, got) for method, _, headers, got in subscriber.seen if method == "POST"]
    assert all(got == body and headers["content-type"] == "application/rss+xml"
               for headers, got in posts)
    signatures = [headers.get("x-hub-signature") for headers, _ in posts]
    for sign, signature in zip(("sha256", "sha1", "sha512"), signatures, strict=False):
        digest = hmac.new(SECRET.encode(), body, getattr(hashlib, sign)).hexdigest()
        assert signature == f"{sign}={digest}"
    assert signatures[3] is None
    assert signatures[4].startswith("sha256=") and signatures[4] != signatures[0]
    assert [e.detail["status"] for e in hub.events("publish")] == [202] * 5


def test_a_wrong_echo_leaves_the_subscription_unverified_and_unpushed(hub, subscriber):
    subscriber.echo = "not the challenge"
    assert subscribe(hub, subscriber.callback) == 202
    hub.wait_for(lambda: hub.events("verify"), 5)
    assert hub.events("verify")[0].detail["ok"] is False
    assert hub.active(TOPIC) == [] and hub.publish(TOPIC, b"x", "text/xml") == []


def test_a_granted_lease_runs_out(hub, subscriber):
    hub.grant_leases(0.3)
    subscribe(hub, subscriber.callback)
    hub.wait_for(lambda: hub.active(TOPIC), 5)
    hub.wait_for(lambda: not hub.active(TOPIC), 5)  # no delivery past the lease


def test_unsubscribe_and_deny(hub, subscriber):
    subscribe(hub, subscriber.callback)
    hub.wait_for(lambda: hub.active(TOPIC), 5)
    assert ask(hub, **{"hub.mode": "unsubscribe", "hub.topic": TOPIC,
                       "hub.callback": subscriber.callback}) == 202
    hub.wait_for(lambda: not hub.subscriptions(), 5)
    assert subscriber.seen[-1][1]["hub.mode"] == "unsubscribe"

    subscribe(hub, subscriber.callback)
    hub.wait_for(lambda: hub.active(TOPIC), 5)
    hub.deny(TOPIC, "spam")
    assert subscriber.seen[-1][1] == {"hub.mode": "denied", "hub.topic": TOPIC, "hub.reason": "spam"}
    assert hub.subscriptions() == []


@pytest.mark.parametrize("form", [
    {"hub.mode": "subscribe", "hub.topic": TOPIC},  # no callback
    {"hub.mode": "publish", "hub.topic": TOPIC, "hub.callback": "http://127.0.0.1:9/cb"},
    {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": "ftp://127.0.0.1/cb"},
])
def test_bad_requests_are_refused(hub, form):
    assert ask(hub, **form) == 400
    assert [e.kind for e in hub.events()] == ["refused"]


def test_the_hub_serves_its_feed_naming_itself(hub):
    topic = hub.url("/feed.xml")
    hub.add("/feed.xml", websub_rss([Item("Uno", hub.url("/1.html"), "g1")], hub.hub_url, topic))
    with urllib.request.urlopen(topic, timeout=5) as response:
        feed = response.read().decode()
    assert f'<atom:link rel="hub" href="{hub.hub_url}"/>' in feed
    assert f'<atom:link rel="self" href="{topic}"' in feed
