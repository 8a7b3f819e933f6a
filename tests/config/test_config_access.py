"""A feed's request settings, proxies and ${ENV_VAR} references in config.yaml: what they
load into, each mistake named by file:line and key, and no secret in any message or in
the effective settings `ingest check` prints."""

from __future__ import annotations

import base64
import json

import pytest

from ingest.config.load import load_config
from ingest.config.model import effective_config
from ingest.errors import ConfigError
from ingest.models import Access

SECRET = "s3cr3t-Value"
ENV = {"FEED_PW": SECRET, "API_TOKEN": "tok-" + SECRET, "SID": "sid-" + SECRET,
       "PROXY_PW": "px-" + SECRET}
FULL = """\
feeds:
  - url: https://example.com/rss.xml
    headers:
      X-Api-Key: "${API_TOKEN}"
      Accept-Language: it
    cookies: {consent: "yes", session: "${SID}"}
    user_agent: FeedBot/2
    username: bob
    password: ${FEED_PW}
    proxy: socks5h://px:${PROXY_PW}@127.0.0.1:1080
    fetch_pages: false
  - url: https://example.org/rss.xml
    password: "$${literal}"
    username: ann
http:
  proxy: http://user:${PROXY_PW}@proxy.example:3128
  trust_env: true
  robots: false
"""


def load(tmp_path, text: str, env: dict | None = None, monkeypatch=None):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    if monkeypatch is not None:  # feeds read ${NAME} from the process environment
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
    return load_config(path, env=env or {})


def test_the_settings_load_with_references_replaced(tmp_path, monkeypatch):
    cfg = load(tmp_path, FULL, ENV, monkeypatch)
    first, second = cfg.feeds
    assert first.access == Access(
        headers=(("X-Api-Key", "tok-" + SECRET), ("Accept-Language", "it")),
        cookies=(("consent", "yes"), ("session", "sid-" + SECRET)), user_agent="FeedBot/2",
        username="bob", password=SECRET, proxy=f"socks5h://px:px-{SECRET}@127.0.0.1:1080")
    assert first.fetch_pages is False and second.fetch_pages is True
    assert second.access.password == "${literal}"
    assert cfg.http.proxy == f"http://user:px-{SECRET}@proxy.example:3128"
    assert (cfg.http.trust_env, cfg.http.robots) == (True, False)
    assert SECRET not in repr(cfg)


def test_the_effective_settings_mask_every_secret(tmp_path, monkeypatch):
    plain = effective_config(load(tmp_path, FULL, ENV, monkeypatch))
    assert SECRET not in json.dumps(plain)
    first = plain["feeds"][0]
    assert first["headers"] == {"X-Api-Key": "***", "Accept-Language": "it"}
    assert first["cookies"] == {"consent": "***", "session": "***"}
    assert (first["password"], first["username"], first["fetch_pages"]) == ("***", "bob", False)
    assert first["proxy"] == "socks5h://px:***@127.0.0.1:1080"
    assert plain["http"]["proxy"] == "http://user:***@proxy.example:3128"
    assert "headers" not in plain["feeds"][1] and "fetch_pages" not in plain["feeds"][1]


def test_ingest_http_proxy_from_the_environment(tmp_path):
    cfg = load(tmp_path, "feeds: [{url: https://example.com/rss.xml}]\n",
               {"INGEST_HTTP_PROXY": "socks5://127.0.0.1:9050"})
    assert cfg.http.proxy == "socks5://127.0.0.1:9050"


FEED = "feeds:\n  - url: https://example.com/rss.xml\n"  # lines 1-2

ERRORS = [
    ("missing variable", FEED + "    password: ${NOPE_PW}\n    username: u\n",
     "config.yaml:3: feeds[0].password: environment variable NOPE_PW (from ${NOPE_PW}) is not set"),
    ("missing variable in a header", FEED + "    headers:\n      A: ok\n      X-Token: 'a ${NOPE}'\n",
     "config.yaml:5: feeds[0].headers.X-Token: environment variable NOPE (from ${NOPE})"),
    ("missing variable in http.proxy", FEED + "http:\n  proxy: http://u:${NOPE}@p:1\n",
     "config.yaml:4: http.proxy: environment variable NOPE (from ${NOPE}) is not set"),
    ("bad reference", FEED + "    user_agent: Bot ${1x}\n",
     "config.yaml:3: feeds[0].user_agent: '${' starts a reference"),
    ("reserved header", FEED + "    headers: {Host: example.net}\n",
     "config.yaml:3: feeds[0].headers.Host: ingest sets this header itself"),
    ("connection header", FEED + "    headers:\n      X-A: b\n      Transfer-Encoding: chunked\n",
     "config.yaml:5: feeds[0].headers.Transfer-Encoding: ingest sets this header itself"),
    ("cookie as a header", FEED + "    headers: {cookie: a=b}\n",
     "config.yaml:3: feeds[0].headers.cookie: set it with the feed's cookies: key"),
    ("header name", FEED + "    headers: {'X Bad': v}\n",
     "config.yaml:3: feeds[0].headers: a header name must be a token"),
    ("header line break", FEED + '    headers: {X-Secret: "' + SECRET + '\\r\\nEvil: 1"}\n',
     "config.yaml:3: feeds[0].headers.X-Secret: a header value must be one line"),
    ("header not text", FEED + "    headers: {X-Pin: 12345678}\n",
     "config.yaml:3: feeds[0].headers.X-Pin: expected text (quote it), got a value of type int"),
    ("cookie value", FEED + "    cookies: {sid: '" + SECRET + ";x'}\n",
     "config.yaml:3: feeds[0].cookies.sid: a cookie value must be printable ASCII"),
    ("cookies not a mapping", FEED + "    cookies: " + SECRET + "\n",
     "config.yaml:3: feeds[0].cookies: expected a mapping of cookie name to value, got text"),
    ("password alone", FEED + "    password: " + SECRET + "\n",
     "config.yaml:3: feeds[0].password: username and password go together"),
    ("username alone", FEED + "    username: bob\n",
     "config.yaml:3: feeds[0].username: username and password go together"),
    ("basic auth and an Authorization header",
     FEED + "    username: u\n    password: p\n    headers: {Authorization: Bearer x}\n",
     "config.yaml:3: feeds[0].username: username and password make the Authorization header"),
    ("null headers are none", FEED + "    headers:\n    fetch_pages: 1\n",
     "config.yaml:4: feeds[0].fetch_pages: expected true or false"),
    ("password a number", FEED + "    username: u\n    password: 12345678\n",
     "config.yaml:4: feeds[0].password: expected non-empty text (quote it), got a value of type int"),
    ("username colon", FEED + "    username: 'a:b'\n    password: x\n",
     "config.yaml:3: feeds[0].username: a user name for HTTP basic auth cannot hold ':'"),
    ("proxy scheme", FEED + f"    proxy: ftp://u:{SECRET}@proxy.example\n",
     "config.yaml:3: feeds[0].proxy: a proxy's scheme must be http, https, socks5 or socks5h, "
     "got 'ftp://***@proxy.example'"),
    ("proxy path", FEED + f"http:\n  proxy: http://u:{SECRET}@proxy.example/x\n",
     "config.yaml:4: http.proxy: not a proxy URL: 'http://***@proxy.example/x'"),
    ("proxy port", FEED + f"http:\n  proxy: http://u:{SECRET}@proxy.example:99999\n",
     "config.yaml:4: http.proxy: not a proxy URL: 'http://***@proxy.example:99999'"),
    ("fetch_pages", FEED + "    fetch_pages: nope\n",
     "config.yaml:3: feeds[0].fetch_pages: expected true or false"),
    ("trust_env", FEED + "http: {trust_env: 1}\n", "config.yaml:3: http.trust_env: expected true"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors_name_line_and_key_and_no_secret(tmp_path, monkeypatch, text, expected):
    monkeypatch.delenv("NOPE", raising=False)
    monkeypatch.delenv("NOPE_PW", raising=False)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / expected.split(":", 1)[0]) + ":" +
                              expected.split(":", 1)[1]), message
    assert SECRET not in message


def test_env_proxy_variable_errors_name_the_variable(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, FEED, {"INGEST_HTTP_PROXY": f"gopher://u:{SECRET}@h"})
    assert str(caught.value).startswith("env INGEST_HTTP_PROXY: http.proxy: a proxy's scheme")
    assert SECRET not in str(caught.value)


def test_the_log_redactor_can_hide_every_access_secret(tmp_path, monkeypatch):
    from ingest.config.masking import access_secrets
    from ingest.redact import Redactor

    cfg = load(tmp_path, FULL, ENV, monkeypatch)
    redact = Redactor(secrets=access_secrets(cfg.feeds, cfg.http.proxy))
    basic = base64.b64encode(f"bob:{SECRET}".encode()).decode()
    line = (f"sent Authorization: Basic {basic}, Cookie: session=sid-{SECRET}, "
            f"X-Api-Key: tok-{SECRET} via px:px-{SECRET}@127.0.0.1 and {SECRET}")
    assert SECRET not in redact(line) and basic not in redact(line)
