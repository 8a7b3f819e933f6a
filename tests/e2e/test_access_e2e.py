"""A feed's request settings end to end: `ingest fetch` (a subprocess) against a site on
127.0.0.1 whose feed needs Basic auth and whose pages sit behind a consent wall, with a page
on another host (127.0.0.2) that must see none of the settings; a feed read from its own
text only (``fetch_pages: false``); then every secret, given as ${VAR}, looked for in all
that fetch, check and status print, and in the records and the state store. (The daemon's
/status shows the store's errors through the same redaction as `ingest status`;
tests/test_secrets.py runs it.)"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.daemonrun import free_port
from helpers.faultserver import FaultServer
from helpers.newssite import HTML, RSS, Item, plain_page, read_records, rss, write_config

pytestmark = pytest.mark.timeout(120)

PASSWORD, COOKIE, TOKEN, PROXY_PW = "Bas1c-Pa55-e2e", "c00kie-Val-e2e", "hdr-T0ken-e2e", "pr0xy-Pw-e2e"
BASIC = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, COOKIE, TOKEN, PROXY_PW, BASIC.split()[1])
ENV = {"FEED_PW": PASSWORD, "CONSENT": COOKIE, "API_TOKEN": TOKEN, "PROXY_PW": PROXY_PW}
WALL = b"<html><body><p>Accetta i cookie per continuare.</p></body></html>"
FEED_TEXT = "Il testo completo della notizia, pubblicato nel feed stesso. " * 3


class GatedSite(FaultServer):
    """/gated/feed.xml answers 401 without bob's password; /wall/<n>.html answers a consent
    wall without the consent cookie."""

    feed = b""

    def _route_gated(self, h, arg: str, query: dict) -> None:  # noqa: ANN001
        if h.headers.get("Authorization") != BASIC:
            return h.send(401, b"login first", {"WWW-Authenticate": 'Basic realm="news"'})
        return h.send(200, self.feed, RSS)

    def _route_wall(self, h, arg: str, query: dict) -> None:  # noqa: ANN001
        if f"consent={COOKIE}" not in h.headers.get("Cookie", ""):
            return h.send(200, WALL, HTML)
        return h.send(200, plain_page("Dietro il muro", 7), HTML)


@pytest.fixture
def sites(tmp_path):
    with GatedSite() as site, FaultServer(host="127.0.0.2") as other:
        other.add("/elsewhere.html", plain_page("Altrove", 8), HTML)
        site.feed = rss([Item("Dietro il muro", site.url("/wall/1.html"), "w1"),
                         Item("Altrove", other.url("/elsewhere.html"), "o1")])
        site.add("/text.xml", rss([
            Item("Lungo", site.url("/never/1.html"), "t1", content=f"<p>{FEED_TEXT}</p>"),
            Item("Breve", site.url("/never/2.html"), "t2", summary="Solo un sommario."),
            Item("Vuoto", site.url("/never/3.html"), "t3")]), RSS)
        config = write_config(tmp_path / "config.yaml", [
            ("gated", site.url("/gated/feed.xml")), ("no-password", site.url("/gated/f.xml")),
            ("text-only", site.url("/text.xml")), ("bad-proxy", site.url("/text.xml?p=1"))],
            extract={"workers": 1}, http={"robots": False})
        cfg = json.loads(config.read_text())
        cfg["feeds"][0].update(
            username="bob", password="${FEED_PW}", cookies={"consent": "${CONSENT}"},
            headers={"X-Api-Token": "${API_TOKEN}", "X-Trace": "e2e"}, user_agent="FeedBot/2")
        cfg["feeds"][2]["fetch_pages"] = False
        cfg["feeds"][3]["proxy"] = f"http://px:${{PROXY_PW}}@127.0.0.1:{free_port()}"
        config.write_text(json.dumps(cfg))
        yield site, other, config


def assert_no_secret(text: str, where: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{where} shows {leaked}:\n{text}"


def test_fetch_with_the_feeds_settings_and_no_secret_shown(sites, tmp_path):
    site, other, config = sites
    fetch = run_cli("fetch", "-vv", "--config", str(config), env=ENV)
    assert fetch.returncode == 1, fetch.stderr  # no-password and bad-proxy fail
    assert "no-password" in fetch.stderr and "HTTP 401" in fetch.stderr
    assert "(through proxy http://***@127.0.0.1:" in fetch.stderr, fetch.stderr
    assert_no_secret(fetch.stdout + fetch.stderr, "ingest fetch -vv")

    by_url = {r["url"]: r for r in read_records(tmp_path / "out")}
    walled = by_url[site.url("/wall/1.html")]
    assert "notizia numero 7" in walled["text"] and "cookie" not in walled["text"]
    assert by_url[other.url("/elsewhere.html")]["body_source"] == "page"
    # fetch_pages: false: the feed's text, however short; an entry without any is skipped
    assert by_url[site.url("/never/1.html")]["text"].startswith("Il testo completo")
    assert by_url[site.url("/never/2.html")]["text"] == "Solo un sommario."
    assert {by_url[site.url(f"/never/{i}.html")]["body_source"] for i in (1, 2)} == {"feed"}
    assert site.url("/never/3.html") not in by_url and "no_feed_text" in fetch.stderr
    assert not [path for _, path, _ in site.requests if path.startswith("/never/")]
    assert_no_secret(json.dumps(list(by_url.values())), "the records")

    gated = [h for _, path, h in site.requests if path.startswith(("/gated/feed", "/wall/"))]
    assert len(gated) == 2 and all(
        h["x-api-token"] == TOKEN and h["x-trace"] == "e2e" and h["user-agent"] == "FeedBot/2"
        for h in gated)
    assert f"consent={COOKIE}" in gated[1]["cookie"]
    [(_, _, elsewhere)] = other.requests
    assert not {"x-api-token", "x-trace", "cookie", "authorization"} & set(elsewhere)
    assert elsewhere["user-agent"] != "FeedBot/2"
    assert_no_secret(Path(tmp_path / "state" / "state.sqlite").read_bytes().decode("latin-1"),
                     "the state store")

    shown = {}
    for args in (["check", "--format", "json"], ["status", "--json"]):
        proc = run_cli(*args, "--config", str(config), env=ENV)
        assert proc.returncode == 0, proc.stderr
        assert_no_secret(proc.stdout + proc.stderr, f"ingest {' '.join(args)}")
        shown[" ".join(args)] = proc.stdout
    plain = json.loads(shown["check --format json"])
    assert plain["feeds"][0]["password"] == "***" and plain["feeds"][0]["cookies"] == {
        "consent": "***"}


def test_a_missing_variable_is_a_config_error_naming_key_and_variable(sites):
    _, _, config = sites
    check = run_cli("check", "--config", str(config),
                    env={k: v for k, v in ENV.items() if k != "API_TOKEN"})
    assert check.returncode == 2
    assert "feeds[0].headers.X-Api-Token: environment variable API_TOKEN" in check.stderr
    assert_no_secret(check.stderr, "the config error")

