"""No secret of a feed URL (userinfo, token), of the ops server (its token) or of the
state's PostgreSQL connection string (its password) in any log line, status, error, check
output or record.

End to end: `ingest fetch`, `ingest status`, `ingest check` and `ingest run` in
subprocesses against the fault server on 127.0.0.1, with feeds whose URLs carry a
password and tokens, one answering and one failing (HTTP 500). Then the parts:
`redact_url` and `record_url` (tables), `Redactor` (the forms libraries print, and
what it must leave alone), the connection-string helpers (`conninfo_secrets`,
`describe_conninfo`, `mask_conninfo`), the log filter, and fuzzing (nothing raises,
nothing leaks, bounded work).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote, quote_plus, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo

from helpers.cli import run_cli
from helpers.daemonrun import Run, free_port, wait_for
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, read_records, write_config
from helpers.tty import ANSI, run_with_tty_stderr
from ingest import logs
from ingest.cli import status
from ingest.cli.progress import fetch_progress
from ingest.config.load import load_config
from ingest.daemon import metrics
from ingest.models import FeedState
from ingest.pipeline.outcomes import PollResult, RunStats
from ingest.redact import (
    Redactor,
    conninfo_secrets,
    describe_conninfo,
    is_credential_name,
    mask_conninfo,
    record_url,
    redact_url,
)
from ingest.state.sqlite import SqliteStore

PASSWORD = "Pa%24%24-w0rd-9"  # as the URL spells it; "Pa$$-w0rd-9" decoded
TOKEN = "tok_5ecret_abc"
API_KEY = "KEY-998877"
SERVER_TOKEN = "srv-T0ken-42"
BASIC = base64.b64encode(f"alice:{unquote(PASSWORD)}".encode()).decode()
DB_PASSWORD = "db-Pa%2Fss:w0rd"  # as the URL spells it; "db-Pa/ss:w0rd" decoded
STATE_URL = f"postgresql://ingest:{DB_PASSWORD}@db.internal:5433/news?sslmode=require"
SECRETS = (PASSWORD, unquote(PASSWORD), TOKEN, API_KEY, SERVER_TOKEN, BASIC, DB_PASSWORD,
           unquote(DB_PASSWORD))


def assert_no_secret(text: str, where: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{where} shows {leaked}:\n{text}"


def with_secrets(url: str, query: str) -> str:
    return url.replace("http://", f"http://alice:{PASSWORD}@", 1) + "?" + query


@pytest.fixture
def site(tmp_path):
    """A config of two feeds with secrets in their URLs: 'good' answers, 'down' is a 500."""
    with FaultServer() as server:
        [(_, good)] = add_small_site(server, feeds=1)
        feeds = [("good", with_secrets(good, f"token={TOKEN}&page=2")),
                 ("down", with_secrets(server.url("/status/500"), f"api_key={API_KEY}"))]
        config = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1},
                              server={"token": SERVER_TOKEN})
        yield config, server


def test_fetch_status_records_and_store_show_no_secret(site, tmp_path):
    config, server = site
    port = urlsplit(server.url("/")).port
    # On a terminal, log lines go through the progress display's console.
    status, _, screen = run_with_tty_stderr("fetch", "-vv", "--config", str(config),
                                            cwd=tmp_path)
    assert status == 1, screen
    text = ANSI.sub("", screen)
    assert "ERROR down: http://***@" in text, text  # the log line did go through the console
    assert_no_secret(text, "the terminal")
    # Elsewhere (cron mail, CI), plain lines; the operator still recognises the failed feed.
    fetch = run_cli("fetch", "-vv", "--config", str(config))
    assert fetch.returncode == 1, fetch.stderr
    assert_no_secret(fetch.stderr, "ingest fetch -vv")
    assert (f"FAILED down: http://***@127.0.0.1:{port}/status/500?api_key=***: HTTP 500"
            in fetch.stderr), fetch.stderr

    table = run_cli("status", "--config", str(config))
    as_json = run_cli("status", "--json", "--config", str(config))
    assert table.returncode == 0 and as_json.returncode == 0, table.stderr + as_json.stderr
    assert_no_secret(table.stdout, "ingest status")
    assert_no_secret(as_json.stdout, "ingest status --json")
    rows = {row["feed"]: row for row in json.loads(as_json.stdout)}
    assert rows["down"]["url"] == f"http://***@127.0.0.1:{port}/status/500?api_key=***"
    assert rows["down"]["last_error"].endswith("HTTP 500")

    records = read_records(tmp_path / "out")
    assert len(records) == 3
    assert_no_secret(json.dumps(records), "the records")
    # Not a credential, page=2 stays: it tells this feed from its other pages.
    assert {r["feed_url"] for r in records} == {
        f"http://127.0.0.1:{port}/small/0.xml?token=***&page=2"}

    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        feeds = db.execute("SELECT data FROM feeds").fetchall()
        attempts = db.execute("SELECT last_error FROM attempts").fetchall()
    errors = [json.loads(data).get("last_error") or "" for (data,) in feeds]
    assert any("HTTP 500" in error for error in errors), errors
    assert_no_secret(json.dumps(errors) + json.dumps(attempts), "the state store")


def test_check_shows_no_secret(site):
    config, server = site
    port = urlsplit(server.url("/")).port
    shown = {}
    for fmt in ("json", "yaml"):
        check = run_cli("check", "--format", fmt, "--config", str(config),
                        env={"INGEST_SERVER_TOKEN": SERVER_TOKEN})
        assert check.returncode == 0, check.stderr
        assert_no_secret(check.stdout + check.stderr, f"ingest check --format {fmt}")
        shown[fmt] = check.stdout
    plain = json.loads(shown["json"])
    assert plain["server"]["token"] == "***"
    assert plain["feeds"][0]["url"] == f"http://***@127.0.0.1:{port}/small/0.xml?token=***&page=***"


@pytest.mark.parametrize(("url", "shown"), [
    (STATE_URL, "postgresql://ingest:***@db.internal:5433/news?sslmode=require"),
    (f"host=db.internal dbname=news user=ingest password='{unquote(DB_PASSWORD)}'",
     "user=ingest password=*** dbname=news host=db.internal"),  # libpq's order
])
def test_check_shows_no_password_of_the_state_database(tmp_path, url, shown):
    config = write_config(tmp_path / "config.yaml", [("a", "http://127.0.0.1:9/feed.xml")])
    for fmt in ("json", "yaml"):
        check = run_cli("check", "--format", fmt, "--config", str(config),
                        env={"INGEST_STATE_URL": url})
        assert check.returncode == 0, check.stderr
        assert_no_secret(check.stdout + check.stderr, f"ingest check --format {fmt}")
        if fmt == "json":
            assert json.loads(check.stdout)["state"]["url"] == shown


@pytest.mark.parametrize("url", [
    f"host=db password={unquote(DB_PASSWORD)} and more",  # libpq: missing "=" after "more"
    f"postgresql://ingest:{DB_PASSWORD}@[::1/news",  # libpq quotes the whole URL back
    f"postgresql://ingest:{DB_PASSWORD}@db:port/news",
    f"mysql://ingest:{DB_PASSWORD}@db/news",
])
def test_a_config_error_in_the_state_url_shows_no_password(tmp_path, url):
    config = write_config(tmp_path / "config.yaml", [("a", "http://127.0.0.1:9/feed.xml")],
                          state={"url": url})
    proc = run_cli("check", "--config", str(config))
    assert proc.returncode == 2 and "state.url: " in proc.stderr, proc.stderr
    assert_no_secret(proc.stderr, "the config error")


@pytest.mark.parametrize(("conninfo", "secrets", "described", "masked"), [
    (STATE_URL, {DB_PASSWORD, unquote(DB_PASSWORD)}, "ingest@db.internal:5433/news",
     "postgresql://ingest:***@db.internal:5433/news?sslmode=require"),
    ("postgres://u@/news?host=/run/pg&password=Qpw9&sslpassword=Qkey7", {"Qpw9", "Qkey7"},
     "u@/run/pg:5432/news", "postgres://u@/news?host=/run/pg&password=***&sslpassword=***"),
    ("host=db port=6000 dbname=news user=u password='a b\\'c'", {"a b'c"}, "u@db:6000/news",
     "user=u password=*** dbname=news host=db port=6000"),
    ("postgresql://u:@db/news", set(), "u@db:5432/news", "postgresql://u:***@db/news"),
    ("postgresql://db", set(), None, "postgresql://db"),  # user and dbname: libpq's defaults
    ("not a connection string", set(), "a PostgreSQL database (connection string unreadable)",
     "***"),
])
def test_the_secrets_description_and_display_of_a_connection_string(
        conninfo, secrets, described, masked):
    assert set(conninfo_secrets(conninfo)) == secrets
    assert described is None or describe_conninfo(conninfo) == described
    assert mask_conninfo(conninfo) == masked


def test_the_redactor_hides_a_database_password_however_it_is_printed():
    redact = Redactor(secrets=conninfo_secrets(STATE_URL))
    for printed in (STATE_URL, unquote(DB_PASSWORD), f"password={unquote(DB_PASSWORD)}",
                    quote(unquote(DB_PASSWORD), safe="")):
        assert_no_secret(redact(f"state: cannot connect with {printed}: refused"), printed)
    # the userinfo of any PostgreSQL URL, known or not
    assert (Redactor()("to postgres://bob:pw@db/x and postgresql://amy@db/y")
            == "to postgres://***@db/x and postgresql://***@db/y")


def test_a_config_error_naming_a_feed_url_shows_no_secret(tmp_path):
    url = f"http://alice:{PASSWORD}@127.0.0.1:9/feed.xml?token={TOKEN}"
    config = write_config(tmp_path / "config.yaml", [("a", url), ("b", url)])  # the same feed
    proc = run_cli("check", "--config", str(config))
    assert proc.returncode == 2 and "http://***@127.0.0.1:9/feed.xml?token=***" in proc.stderr
    assert_no_secret(proc.stderr, "the config error")


def get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_daemon_shows_no_secret_and_guards_status_with_the_token(site, tmp_path):
    config, _ = site
    port = free_port()
    cfg = json.loads(config.read_text())
    cfg["server"] = {"host": "127.0.0.1", "port": port, "token": SERVER_TOKEN}
    cfg["schedule"] = {"interval": "1s", "min_interval": "1s", "max_interval": "5s",
                       "shutdown_grace": "3s"}
    config.write_text(json.dumps(cfg))
    run = Run(config, port, tmp_path / "run.log")
    try:
        def failed() -> bool:
            rows = json.loads(get(port, "/status", SERVER_TOKEN)[1])
            return any(row["feed"] == "down" and row["failures"] for row in rows)

        wait_for(failed, 20, run.text)
        code, body = get(port, "/status", SERVER_TOKEN)
        assert code == 200 and "HTTP 500" in body
        assert_no_secret(body, "/status")
        assert_no_secret(get(port, "/metrics", SERVER_TOKEN)[1], "/metrics")
        assert get(port, "/status")[0] == 401
        assert get(port, "/metrics", "wrong")[0] == 401
        assert get(port, "/healthz")[0] == 200
        assert run.stop(10)[0] == 0
    finally:
        run.kill()
    assert "poll down: failed (http_500): http://***@" in run.text(), run.text()
    assert_no_secret(run.text(), "the daemon's log")


# -- the parts ------------------------------------------------------------------------------


def test_status_survey_and_summary_hide_secrets_the_store_holds(tmp_path):
    """The store is a file, and its last_error may hold whole URLs: what shows them
    (`ingest status`, /status, the fetch summary) redacts on its own, trusting no writer."""
    good = f"http://alice:{PASSWORD}@127.0.0.1:9/feed.xml?token={TOKEN}&page=2"
    down = f"http://alice:{PASSWORD}@127.0.0.1:9/down.xml?api_key={API_KEY}"
    gone = f"http://127.0.0.1:9/gone.xml?token={TOKEN}x"  # in the store, not in the config
    config = write_config(tmp_path / "config.yaml", [("good", good), ("down", down)],
                          server={"token": SERVER_TOKEN})
    cfg = load_config(config, env={})
    now = time.time()
    store = SqliteStore(tmp_path / "state.sqlite")
    store.put_feed(FeedState(url=down, last_poll_at=now, failures=1,
                             last_error=f"{down}: HTTP 500"))
    store.put_feed(FeedState(url=gone, last_poll_at=now, failures=1,
                             last_error=f"{gone}: sent {SERVER_TOKEN}"))  # `status` knows it
    try:
        rows = status.feed_rows(cfg, store.all_feeds(), now)
        survey = metrics.survey(list(cfg.feeds), store, cfg.schedule, now)
    finally:
        store.close()
    assert_no_secret(json.dumps(status.public(rows)), "ingest status --json")
    assert_no_secret(status.render_table(rows, now), "ingest status")
    assert_no_secret(json.dumps(survey), "/status")
    shown = "http://***@127.0.0.1:9/down.xml?api_key=***"
    assert [row["url"] for row in survey] == [
        "http://***@127.0.0.1:9/feed.xml?token=***&page=***", shown]
    assert rows[1]["last_error"] == f"{shown}: HTTP 500"
    assert rows[2]["url"] == "http://127.0.0.1:9/gone.xml?token=***"
    assert rows[2]["last_error"] == "http://127.0.0.1:9/gone.xml?token=***: sent ***"

    stats = RunStats([PollResult(cfg.feeds[1]).fail("http_500", f"{down}: HTTP 500"),
                      PollResult(cfg.feeds[0]).fail("sink", "sink: disk full")])
    summary = stats.summary()
    assert_no_secret(summary, "the fetch summary")
    assert f"FAILED down: {shown}: HTTP 500" in summary
    assert "FAILED good (http://***@127.0.0.1:9/feed.xml?token=***&page=***): sink" in summary


@pytest.mark.parametrize("url, shown, recorded", [
    ("https://www.ansa.it/sito/ansait_rss.xml", "https://www.ansa.it/sito/ansait_rss.xml",
     "https://www.ansa.it/sito/ansait_rss.xml"),
    ("https://alice:pw@h.example/rss?token=abc&page=2",
     "https://***@h.example/rss?token=***&page=***", "https://h.example/rss?token=***&page=2"),
    ("https://TOKEN123@h.example/feed", "https://***@h.example/feed", "https://h.example/feed"),
    ("https://h.example/f?API-Key=k1&X-Amz-Signature=s&Session_Id=x&q=news&flag",
     "https://h.example/f?API-Key=***&X-Amz-Signature=***&Session_Id=***&q=***&***",
     "https://h.example/f?API-Key=***&X-Amz-Signature=***&Session_Id=***&q=news&flag"),
    ("https://a:b@c@h.example/x#access_token=t", "https://***@h.example/x#access_token=***",
     "https://h.example/x#access_token=***"),
    ("https://h.example/a@b/feed?sig=", "https://h.example/a@b/feed?sig=",
     "https://h.example/a@b/feed?sig="),
    ("not a url", "not a url", "not a url"),
])
def test_redact_url_and_record_url(url, shown, recorded):
    assert redact_url(url) == shown
    assert record_url(url) == recorded


@pytest.mark.parametrize("name, credential", [
    ("token", True), ("access_token", True), ("X-Auth-Token", True), ("api_key", True),
    ("apikey", True), ("key", True), ("secret", True), ("client_secret", True),
    ("password", True), ("passwd", True), ("auth", True), ("oauth", True), ("sig", True),
    ("signature", True), ("session", True), ("PHPSESSID", True), ("sid", True),
    ("api%5Fkey", True), ("page", False), ("format", False), ("q", False), ("id", False),
    ("author", False), ("category", False), ("keywords", False),
])
def test_credential_names(name, credential):
    assert is_credential_name(name) is credential


URL = f"http://alice:{PASSWORD}@127.0.0.1:8080/feed.xml?token={TOKEN}&page=2&fmt=json"


@pytest.mark.parametrize("printed", [
    URL,
    URL.replace(f"alice:{PASSWORD}@", ""),  # httpx and servers print it without userinfo
    URL.replace("%24", "%24".lower()) + ".",
    f"({URL})",
    f"password {unquote(PASSWORD)}, as quoted {quote(unquote(PASSWORD), safe='')}",
    f"Authorization: Basic {BASIC}",
    f"url={quote_plus(URL)}",
    f"GET /feed.xml?token={TOKEN} 500",
])
def test_the_redactor_finds_every_form_of_a_known_url(printed):
    assert_no_secret(Redactor([URL])(f"fetch: {printed}: HTTP 500"), "the redacted text")


def test_the_redactor_shows_the_display_form_and_leaves_other_text_alone():
    redact = Redactor([URL, "https://h.example/rss?c=it"], secrets=[SERVER_TOKEN, "abc"])
    assert (redact(f"fetch: {URL}: HTTP 500")
            == "fetch: http://***@127.0.0.1:8080/feed.xml?token=***&page=***&fmt=***: HTTP 500")
    text = "poll it: 2 written, 3 json lines in articles.jsonl; abc; page 2 of 2"
    assert redact(text) == text.replace(" json ", " *** ")
    assert redact(f"token {SERVER_TOKEN}.") == "token ***."
    # Any URL's userinfo and credential parameters, known or not.
    assert (redact("to https://u:p@other.example/x?sid=9f8e&lang=it and /p?api_key=zz, then")
            == "to https://***@other.example/x?sid=***&lang=it and /p?api_key=***, then")


@pytest.fixture
def ingest_logging():
    """The "ingest" logger and the last-resort handler as they were, after the test."""
    logger = logging.getLogger("ingest")
    saved = (logger.handlers[:], logger.level, logger.propagate,
             logging.lastResort.filters[:])
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[:3]
    logging.lastResort.filters[:] = saved[3]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_log_filter_redacts_messages_and_tracebacks(ingest_logging, fmt):
    logs.setup_logging(logging.DEBUG, fmt)
    stream = io.StringIO()
    ingest_logging.handlers[0].setStream(stream)
    logs.redact_secrets(Redactor([URL]))
    log = logging.getLogger("ingest.test")
    log.warning("fetch: %s: HTTP %d", URL, 500)
    try:
        raise RuntimeError(f"cannot reach {URL.replace(f'alice:{PASSWORD}@', '')}")
    except RuntimeError:
        log.exception("poll good: unexpected error")
    text = stream.getvalue()
    assert "fetch: http://***@127.0.0.1:8080/feed.xml" in text and "RuntimeError" in text
    assert_no_secret(text, f"the {fmt} log")
    logs.redact_secrets(Redactor())  # a second call replaces the filter, it does not add one
    assert len(ingest_logging.handlers[0].filters) == 1


def test_the_log_filter_survives_the_progress_display(ingest_logging, monkeypatch):
    terminal = io.StringIO()
    for name in ("stderr", "__stderr__"):  # the stream the progress display takes over
        monkeypatch.setattr(sys, name, terminal)
    logs.setup_logging(logging.INFO)
    logs.redact_secrets(Redactor([URL]))
    with fetch_progress(1, True):
        assert ingest_logging.handlers[0].stream is not terminal  # moved to rich's console
        logging.getLogger("ingest.test").warning("fetch: %s: HTTP 500", URL)
    assert "fetch: http://***@127.0.0.1:8080/feed.xml" in terminal.getvalue()
    assert_no_secret(terminal.getvalue(), "the terminal")


# -- fuzzing ----------------------------------------------------------------------------------

# Secrets always hold a capital Q: nothing else in the texts below does, so a secret
# found in the output can only be a leak.
_SECRET_CHARS = "Q0123456789abcdefghijklmnopqrstuvwxyz-_.~!$&'()+,;=:@/?# %"
secrets_st = st.text(_SECRET_CHARS, min_size=3, max_size=20).map(lambda s: "Q" + s)


@pytest.mark.fuzz
@given(st.text(max_size=300), st.lists(st.text(max_size=80), max_size=4))
def test_no_input_makes_the_redaction_raise(text, urls):
    for url in [text, *urls]:
        assert isinstance(redact_url(url), str) and isinstance(record_url(url), str)
    assert isinstance(Redactor(urls + [text], secrets=[text])(text + " " + " ".join(urls)), str)


@pytest.mark.fuzz
@given(secrets_st, secrets_st, st.lists(secrets_st, min_size=1, max_size=3))
def test_no_secret_of_a_known_url_survives(user, password, values):
    url = (f"https://{quote(user, safe='')}:{quote(password, safe='')}@feeds.example/rss"
           + "?" + "&".join(f"p{i}={quote(v, safe='')}" for i, v in enumerate(values)))
    printed = [url, url.replace("https://", "").split("@", 1)[1], *values, password,
               quote_plus(password), base64.b64encode(f"{user}:{password}".encode()).decode()]
    out = Redactor([url])(" | ".join(f"fetch: {p}: failed" for p in printed))
    leaked = [s for s in [password, *values] if s in out]
    assert not leaked, out


HOSTILE = ["http://" * 20_000, "?a" * 70_000, "&a=" * 50_000, "a" * 150_000,
           "%41" * 50_000, "https://a@" * 15_000, "postgresql://a@" * 10_000,
           ("Q" * 3 + " ") * 40_000]


@pytest.mark.fuzz
@given(secrets_st, st.text(max_size=200))
def test_no_database_password_survives_and_no_text_makes_the_helpers_raise(password, text):
    for conninfo in (f"postgresql://u:{quote(password, safe='')}@db/news",
                     make_conninfo(host="db", dbname="news", password=password)):
        assert password in conninfo_secrets(conninfo)
        shown = mask_conninfo(conninfo) + describe_conninfo(conninfo)
        out = Redactor(secrets=conninfo_secrets(conninfo))(f"state: {conninfo}: {password}")
        assert password not in shown + out, shown + out
    assert isinstance(conninfo_secrets(text), tuple)
    assert isinstance(mask_conninfo(text) + describe_conninfo(text), str)


@pytest.fixture(scope="module")
def many_feeds() -> Redactor:
    return Redactor([f"https://u:Qpw{i}@h{i}.example/rss?token=Qtok{i}&a=QQQQ{i}"
                     for i in range(2000)], secrets=["QQQQ"])


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:8]))
def test_redaction_work_stays_linear_on_long_hostile_text(text, many_feeds):
    started = time.monotonic()
    many_feeds(text)
    redact_url(text)
    record_url(text)
    assert time.monotonic() - started < 1.0  # far above linear work, far below quadratic
