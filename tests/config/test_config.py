"""config.yaml + INGEST_* overrides -> Config, and every error naming file:line: key."""

from __future__ import annotations

import io
import json
import logging
import re
import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from helpers.cli import REPO
from ingest import USER_AGENT
from ingest.config import load as config_module
from ingest.config.load import load_config
from ingest.config.model import (
    Config,
    DedupConfig,
    ExtractConfig,
    FootersConfig,
    HttpConfig,
    OutputConfig,
    ScheduleConfig,
    ServerConfig,
    StateConfig,
    effective_config,
)
from ingest.config.source import parse_yaml
from ingest.errors import ConfigError
from ingest.models import Feed
from ingest.units import parse_duration, parse_size

MINIMAL = "feeds:\n  - url: https://example.com/rss.xml\n"

FULL = """\
feeds:
  - url: https://www.ansa.it/sito/notizie/topnews/topnews_rss.xml
  - url: https://example.com/feed
    name: Example News
    interval: 1h30m
    tags: [world, it]
output:
  dir: out
  partition: none
state:
  path: /var/lib/ingest/state.sqlite
  lock_timeout: 0
  max_attempts: 3
  retention: 30d
http:
  timeout: 90s
  user_agent: test-agent/1.0
  allow_private_networks: true
  per_host_concurrency: 4
  per_host_delay: 0.5
  max_feed_bytes: 5 MiB
  max_page_bytes: 500kB
  max_redirects: 0
  max_connections: 8
extract:
  workers: 2
  min_feed_text: 500
footers:
  learn: false
  min_count: 4
  sites:
    www.ANSA.it:
      - '^Riproduzione riservata'
      - '© ANSA'
schedule:
  interval: 10m
  min_interval: 1m
  max_interval: 2h
  concurrency: 3
  failing_after: 7
  shutdown_grace: 5
server:
  host: 127.0.0.1
  port: 9100
dedup:
  enabled: false
  threshold: 0.7
  window: 2d
  min_words: 30
  action: drop
"""


def write(folder: Path, text: str, name: str = "config.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_full_config(tmp_path):
    path = write(tmp_path, FULL)
    assert load_config(path, env={}) == Config(
        path=path,
        feeds=(
            Feed("ansa.it-sito-notizie-topnews-topnews_rss.xml",
                 "https://www.ansa.it/sito/notizie/topnews/topnews_rss.xml"),
            Feed("Example News", "https://example.com/feed", 5400.0, ("world", "it")),
        ),
        output=OutputConfig(dir=tmp_path / "out", partition="none"),
        state=StateConfig(path=Path("/var/lib/ingest/state.sqlite"), lock_timeout=0.0,
                          max_attempts=3, retention=30 * 86400.0),
        http=HttpConfig(timeout=90.0, user_agent="test-agent/1.0", allow_private_networks=True,
                        per_host_concurrency=4, per_host_delay=0.5, max_feed_bytes=5 * 2**20,
                        max_page_bytes=500_000, max_redirects=0, max_connections=8),
        extract=ExtractConfig(workers=2, min_feed_text=500),
        footers=FootersConfig(learn=False, min_count=4,
                              sites={"ansa.it": ("^Riproduzione riservata", "© ANSA")}),
        schedule=ScheduleConfig(interval=600.0, min_interval=60.0, max_interval=7200.0,
                                concurrency=3, failing_after=7, shutdown_grace=5.0),
        server=ServerConfig(host="127.0.0.1", port=9100),
        dedup=DedupConfig(enabled=False, threshold=0.7, window=2 * 86400.0, min_words=30,
                          action="drop"),
    )


def test_defaults(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert load_config(path, env={}) == Config(
        path=path,
        feeds=(Feed("example.com-rss.xml", "https://example.com/rss.xml"),),
        output=OutputConfig(dir=tmp_path / "data"),
        state=StateConfig(path=tmp_path / "data" / "state.sqlite"),
    )
    assert HttpConfig().user_agent == USER_AGENT


def test_relative_paths_resolve_against_config_folder(tmp_path, monkeypatch):
    write(tmp_path / "conf", MINIMAL + "output:\n  dir: out\nstate:\n  path: ../st/s.db\n")
    monkeypatch.chdir(write(tmp_path / "elsewhere", "").parent)
    cfg = load_config("../conf/config.yaml", env={"INGEST_CONFIG": "ignored"})
    assert cfg.path == tmp_path / "conf" / "config.yaml"
    assert cfg.output.dir == tmp_path / "conf" / "out"
    assert cfg.state.path == tmp_path / "st" / "s.db"
    assert not (tmp_path / "conf" / "out").exists()  # resolved, not created


def test_env_paths_resolve_against_cwd(tmp_path, monkeypatch):
    path = write(tmp_path / "conf", MINIMAL)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path, env={"INGEST_OUTPUT_DIR": "run/out", "INGEST_STATE_PATH": "/s.db"})
    assert (cfg.output.dir, cfg.state.path) == (tmp_path / "run" / "out", Path("/s.db"))


@pytest.mark.parametrize(("name", "value", "section", "key", "expected"), [
    ("INGEST_HTTP_USER_AGENT", "bot/2 (+https://x.test)", "http", "user_agent",
     "bot/2 (+https://x.test)"),
    ("INGEST_HTTP_TIMEOUT", "45", "http", "timeout", 45.0),
    ("INGEST_HTTP_TIMEOUT", "2m", "http", "timeout", 120.0),
    ("INGEST_HTTP_ALLOW_PRIVATE_NETWORKS", "true", "http", "allow_private_networks", True),
    ("INGEST_HTTP_MAX_FEED_BYTES", "1MB", "http", "max_feed_bytes", 1_000_000),
    ("INGEST_SCHEDULE_INTERVAL", "5m", "schedule", "interval", 300.0),
    ("INGEST_SERVER_PORT", "9000", "server", "port", 9000),
    ("INGEST_SERVER_PORT", "null", "server", "port", None),
    ("INGEST_SERVER_PORT", "0", "server", "port", None),
    ("INGEST_SERVER_PORT", "", "server", "port", None),
    ("INGEST_SERVER_HOST", "::", "server", "host", "::"),  # text is taken as is, not YAML
    ("INGEST_OUTPUT_PARTITION", "none", "output", "partition", "none"),
    ("INGEST_FOOTERS_LEARN", "false", "footers", "learn", False),
    ("INGEST_EXTRACT_WORKERS", "3", "extract", "workers", 3),
    ("INGEST_CONFIG", "/elsewhere.yaml", "http", "timeout", 10.0),  # reserved for the CLI
])
def test_env_overrides_file(tmp_path, name, value, section, key, expected):
    path = write(tmp_path, MINIMAL + "http:\n  timeout: 10\nserver:\n  port: 8000\n")
    cfg = load_config(path, env={name: value, "UNRELATED": "x"})
    assert getattr(getattr(cfg, section), key) == expected


def test_env_defaults_to_os_environ(tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_HTTP_TIMEOUT", "7")
    assert load_config(write(tmp_path, MINIMAL)).http.timeout == 7.0


@pytest.mark.parametrize(("urls", "names"), [
    (["https://www.ansa.it/sito/notizie/topnews/topnews_rss.xml"],
     ["ansa.it-sito-notizie-topnews-topnews_rss.xml"]),
    (["https://example.com/", "http://example.com:8080/?feed=rss2"],
     ["example.com", "example.com-8080-feed-rss2"]),
    (["https://a.test/x", "https://a.test/x/", "https://a.test/x."],
     ["a.test-x", "a.test-x-2", "a.test-x-3"]),
])
def test_derived_feed_names(tmp_path, urls, names):
    text = "feeds:\n" + "".join(f"  - url: '{u}'\n" for u in urls)
    cfg = load_config(write(tmp_path, text), env={})
    assert [f.name for f in cfg.feeds] == names


def test_derived_name_steps_around_given_names(tmp_path):
    text = "feeds:\n  - url: https://a.test/x\n  - url: https://b.test/\n    name: A.TEST-X\n"
    cfg = load_config(write(tmp_path, text), env={})
    assert [f.name for f in cfg.feeds] == ["a.test-x-2", "A.TEST-X"]


def test_yaml_merge_keys_and_nulls(tmp_path):
    text = """\
    feeds:
      - &base
        url: https://a.test/rss
        interval: 1h
        tags: [x]
      - <<: *base
        url: https://b.test/rss
        name: null
    server:
      port: null
    """
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.feeds[1] == Feed("b.test-rss", "https://b.test/rss", 3600.0, ("x",))
    assert cfg.server.port is None


MERGED = """\
feeds:
  - &base
    url: https://a.test/rss
    interval: 1h
    tags: [x, "y"]
  - <<: *base
    url: https://b.test/rss
    name: null
"""
SHIPPED = REPO / "config.yaml"


@pytest.fixture
def yaml_readings(monkeypatch):
    """The ``lines`` argument of every YAML reading load_config makes, in order."""
    calls: list[bool] = []
    real = config_module.parse_yaml

    def parse_yaml(text, label, *, lines):
        calls.append(lines)
        return real(text, label, lines=lines)

    monkeypatch.setattr(config_module, "parse_yaml", parse_yaml)
    return calls


@pytest.mark.parametrize("text", [FULL, MINIMAL, MERGED, SHIPPED.read_text()],
                         ids=["full", "minimal", "merge-keys", "shipped"])
def test_good_config_read_once_by_quick_loader_as_with_lines(tmp_path, monkeypatch,
                                                              yaml_readings, text):
    path = write(tmp_path, text)
    quick = load_config(path, env={})
    assert yaml_readings == [False]  # no second reading for a good file
    real = config_module.parse_yaml
    monkeypatch.setattr(config_module, "parse_yaml",
                        lambda text, label, lines: real(text, label, lines=True))
    assert load_config(path, env={}) == quick


def test_flow_style_urls(tmp_path):
    # libyaml keeps YAML 1.1's syntax (no ':' inside a plain scalar in flow style),
    # so the quick loader fails here and the round-trip reading must take over.
    cfg = load_config(write(tmp_path, "feeds: [{url: https://a.test/rss, tags: [x]}]\n"), env={})
    assert cfg.feeds == (Feed("a.test-rss", "https://a.test/rss", None, ("x",)),)


@pytest.mark.parametrize("text", [MINIMAL + "  - url: ftp://x.test/\n", "feeds: [}\n"],
                         ids=["bad value", "bad YAML"])
def test_bad_config_read_again_with_lines(tmp_path, yaml_readings, text):
    with pytest.raises(ConfigError, match=r"config\.yaml:3: |config\.yaml:1: YAML"):
        load_config(write(tmp_path, text), env={})
    assert yaml_readings == [False, True]


def test_effective_config_is_plain_data(tmp_path):
    path = write(tmp_path, FULL)
    plain = effective_config(load_config(path, env={}))
    assert json.loads(json.dumps(plain)) == plain
    YAML(typ="safe").dump(plain, io.StringIO())  # no ruamel scalar types left inside
    assert plain["path"] == str(path)
    assert plain["output"] == {"dir": str(tmp_path / "out"), "partition": "none",
                               "compress": "none", "max_file_bytes": None, "sink": "files",
                               "table": "articles"}
    assert plain["state"]["url"] is None and plain["state"]["connect_timeout"] == 120.0
    assert plain["feeds"][1] == {"name": "Example News", "url": "https://example.com/feed",
                                 "interval": 5400.0, "tags": ["world", "it"]}
    assert plain["footers"]["sites"] == {"ansa.it": ["^Riproduzione riservata", "© ANSA"]}
    assert plain["schedule"]["max_interval"] == 7200.0
    assert plain["server"] == {"host": "127.0.0.1", "port": 9100, "token": None,
                               "public_url": None}


FEED = "feeds:\n  - url: https://example.com/rss.xml\n"  # lines 1-2

ERRORS = [
    # (id, file text, env, expected message start)
    ("unknown top key", "feedz: []\n", {}, "config.yaml:1: feedz: unknown key; did you mean 'feeds'?"),
    ("unknown nested key", FEED + "http:\n  timeout: 5\n  timout: 5\n", {},
     "config.yaml:5: http.timout: unknown key; did you mean 'timeout'?"),
    ("unknown key, no near match", FEED + "http:\n  colour: blue\n", {},
     "config.yaml:4: http.colour: unknown key; expected one of: timeout, user_agent"),
    ("unknown feed key", FEED + "  - url: https://b.test/\n    nmae: B\n", {},
     "config.yaml:4: feeds[1].nmae: unknown key; did you mean 'name'?"),
    ("section not a mapping", FEED + "output: [a]\n", {},
     "config.yaml:3: output: expected a mapping, got a list"),
    ("int as text", FEED + "http:\n  max_redirects: '5'\n", {},
     "config.yaml:4: http.max_redirects: expected an integer, got text '5'"),
    ("yes is not a bool", FEED + "footers:\n  learn: yes\n", {},
     "config.yaml:4: footers.learn: expected true or false, got text 'yes'"),
    ("float for int", FEED + "schedule:\n  concurrency: 1.5\n", {},
     "config.yaml:4: schedule.concurrency: expected an integer, got a number 1.5"),
    ("zero concurrency", FEED + "schedule:\n  concurrency: 0\n", {},
     "config.yaml:4: schedule.concurrency: must be 1 or more, got 0"),
    ("zero min_count", FEED + "footers:\n  min_count: 0\n", {},
     "config.yaml:4: footers.min_count: must be 1 or more"),
    ("zero timeout", FEED + "http:\n  timeout: 0s\n", {},
     "config.yaml:4: http.timeout: must be more than 0 seconds"),
    ("negative delay", FEED + "http:\n  per_host_delay: -1\n", {},
     "config.yaml:4: http.per_host_delay: expected a duration, got -1"),
    ("bad duration", FEED + "schedule:\n  interval: 15 minutes\n", {},
     "config.yaml:4: schedule.interval: unknown unit 'minutes'"),
    ("duration as list", FEED + "state:\n  retention: [1d]\n", {},
     "config.yaml:4: state.retention: expected a duration, got a list"),
    ("bad size", FEED + "http:\n  max_page_bytes: 5 parsecs\n", {},
     "config.yaml:4: http.max_page_bytes: unknown unit 'parsecs' in size '5 parsecs'"),
    ("zero size", FEED + "http:\n  max_feed_bytes: 0\n", {},
     "config.yaml:4: http.max_feed_bytes: must be more than 0 bytes"),
    ("bad partition", FEED + "output:\n  partition: hour\n", {},
     "config.yaml:4: output.partition: expected one of day, none; got text 'hour'"),
    ("port out of range", FEED + "server:\n  port: 70000\n", {},
     "config.yaml:4: server.port: expected a port 1-65535"),
    ("bad url", FEED + "  - url: ftp://example.com/rss\n", {},
     "config.yaml:3: feeds[1].url: not an http(s) URL: 'ftp://example.com/rss'"),
    ("url without host", "feeds:\n  - url: https:///rss\n", {},
     "config.yaml:2: feeds[0].url: not an http(s) URL"),
    ("relative url", "feeds:\n  - url: /rss.xml\n", {}, "config.yaml:2: feeds[0].url: not an http(s) URL"),
    ("missing url", FEED + "  - name: B\n", {}, "config.yaml:3: feeds[1]: missing url"),
    ("feed not a mapping", FEED + "  - https://b.test/\n", {},
     "config.yaml:3: feeds[1]: expected a mapping such as '{url: https://example.com/rss.xml}'"),
    ("tags not a list", FEED + "    tags: world\n", {},
     "config.yaml:3: feeds[0].tags: expected a list of tags, got text 'world'"),
    ("bad tag", FEED + "    tags:\n      - ok\n      - [x]\n", {},
     "config.yaml:5: feeds[0].tags[1]: expected a tag"),
    ("bad feed interval", FEED + "    interval: often\n", {},
     "config.yaml:3: feeds[0].interval: not a duration: 'often'"),
    ("duplicate names",
     "feeds:\n  - url: https://a.test/\n    name: News\n  - url: https://b.test/\n    name: news\n",
     {}, "config.yaml:5: feeds[1].name: 'news' is already the name of feeds[0] (line 3)"),
    ("duplicate urls",
     "feeds:\n  - url: https://a.test/rss\n  - url: HTTPS://A.test/rss?utm_source=x\n", {},
     "config.yaml:3: feeds[1].url: 'HTTPS://A.test/rss?utm_source=x' is the same feed as "
     "feeds[0] (line 2)"),
    ("no feeds key", "http:\n  timeout: 5\n", {}, "config.yaml:1: feeds: missing"),
    ("empty feeds", "feeds: []\n", {},
     "config.yaml:1: feeds: expected a non-empty list of feeds, got an empty list"),
    ("empty file", "# nothing yet\n", {}, "config.yaml:1: the config file is empty"),
    ("top is a list", "- url: https://a.test/\n", {},
     "config.yaml:1: expected a mapping of settings at the top, got a list"),
    ("yaml syntax", FEED + "http:\n  timeout: [5\n  user_agent: x\n", {},
     "config.yaml:5: YAML syntax error: "),
    ("duplicate yaml key", FEED + "http:\n  timeout: 5\n  timeout: 6\n", {},
     "config.yaml:5: YAML syntax error: found duplicate key \"timeout\""),
    ("sites not a mapping", FEED + "footers:\n  sites: [a]\n", {},
     "config.yaml:4: footers.sites: expected a mapping of host name to list of patterns"),
    ("site is a URL", FEED + "footers:\n  sites:\n    https://ansa.it: []\n", {},
     "config.yaml:5: footers.sites.https://ansa.it: expected a host name such as 'ansa.it'"),
    ("site twice", FEED + "footers:\n  sites:\n    ansa.it: []\n    www.ansa.it: []\n", {},
     "config.yaml:6: footers.sites.www.ansa.it: site 'ansa.it' is listed twice"),
    ("bad regex", FEED + "footers:\n  sites:\n    ansa.it:\n      - ok\n      - 'a(b'\n", {},
     "config.yaml:7: footers.sites.ansa.it[1]: not a valid regular expression: "),
    ("regex matching everything", FEED + "footers:\n  sites:\n    ansa.it: ['.*']\n", {},
     "config.yaml:5: footers.sites.ansa.it[0]: '.*' matches an empty line"),
    ("interval below min", FEED + "schedule:\n  min_interval: 5m\n  interval: 1m\n", {},
     "config.yaml:5: schedule.interval: 1m is below schedule.min_interval (5m)"),
    ("interval above max", FEED + "schedule:\n  interval: 12h\n", {},
     "config.yaml:4: schedule.interval: 12h is above schedule.max_interval (6h)"),
    ("min above default interval", FEED + "schedule:\n  min_interval: 1h\n", {},
     "config.yaml:4: schedule.min_interval: 1h is above schedule.interval (15m)"),
    ("min above max", FEED + "schedule:\n  min_interval: 2h\n  max_interval: 1h\n", {},
     "config.yaml:5: schedule.max_interval: 1h is below schedule.min_interval (2h)"),
    ("bad env value", FEED, {"INGEST_HTTP_TIMEOUT": "soon"},
     "env INGEST_HTTP_TIMEOUT: http.timeout: not a duration: 'soon'"),
    ("env value not a scalar", FEED, {"INGEST_HTTP_TIMEOUT": "[1, 2]"},
     "env INGEST_HTTP_TIMEOUT: http.timeout: expected a single value, got '[1, 2]'"),
    ("env bool", FEED, {"INGEST_FOOTERS_LEARN": "yes"},
     "env INGEST_FOOTERS_LEARN: footers.learn: expected true or false, got text 'yes'"),
    ("env breaks schedule order", FEED, {"INGEST_SCHEDULE_INTERVAL": "30s"},
     "env INGEST_SCHEDULE_INTERVAL: schedule.interval: 30s is below schedule.min_interval"),
    ("env for file-only key", FEED, {"INGEST_FOOTERS_SITES": "x"},
     "env INGEST_FOOTERS_SITES: footers.sites can only be set in the config file"),
    ("env for the feeds", FEED, {"INGEST_FEEDS": "[]"},
     "env INGEST_FEEDS: feeds can only be set in the config file"),
]

# Each of these raised a library error (OverflowError, ValueError, KeyError, RecursionError,
# AttributeError) out of load_config, or loaded a value no setting can use.
DIGITS_400, DIGITS_5000 = "9" * 400, "9" * 5000
NESTED = "[" * 1000 + "]" * 1000
HOSTILE = [
    ("400-digit size", FEED + f"http:\n  max_feed_bytes: {DIGITS_400}\n", {},
     "config.yaml:4: http.max_feed_bytes: a number of about 401 digits is more than 1GiB, "
     "the most this setting accepts"),
    ("400-digit duration", FEED + f"http:\n  timeout: {DIGITS_400}\n", {},
     "config.yaml:4: http.timeout: a number of about 401 digits is longer than 1h, "
     "the most this setting accepts"),
    ("400-digit duration text", FEED + f"http:\n  timeout: '{DIGITS_400}s'\n", {},
     f"config.yaml:4: http.timeout: '{'9' * 59}... (401 characters) is longer than 1h"),
    ("400-digit size text", FEED + f"http:\n  max_page_bytes: {DIGITS_400}GB\n", {},
     f"config.yaml:4: http.max_page_bytes: '{'9' * 59}... (402 characters) is more than 1GiB"),
    ("400-digit feed interval", FEED + f"    interval: {DIGITS_400}\n", {},
     "config.yaml:3: feeds[0].interval: a number of about 401 digits is longer than 365d"),
    ("5000-digit integer", FEED + f"extract:\n  workers: {DIGITS_5000}\n", {},
     f"config.yaml:4: extract.workers: expected an integer, got '{'9' * 59}... (5,000 "
     "characters), which cannot be read as !!int (5000 digits is far more than any setting"),
    ("5000-digit port", FEED + f"server:\n  port: {DIGITS_5000}\n", {},
     "config.yaml:4: server.port: expected a port 1-65535, or 0 or null for no server; got '9"),
    ("huge hex integer", FEED + "http:\n  max_redirects: 0x" + "f" * 5000 + "\n", {},
     "config.yaml:4: http.max_redirects: must be 50 or less, got a number of about 6021 digits"),
    ("!!int abc", FEED + "extract:\n  workers: !!int abc\n", {},
     "config.yaml:4: extract.workers: expected an integer, got 'abc', which cannot be read "
     "as !!int"),
    ("!!bool abc", FEED + "footers:\n  learn: !!bool abc\n", {},
     "config.yaml:4: footers.learn: expected true or false, got 'abc', which cannot be read "
     "as !!bool"),
    ("alias to !!float abc", FEED + "http:\n  timeout: &t !!float abc\n  per_host_delay: *t\n",
     {}, "config.yaml:4: http.timeout: expected a duration, got 'abc', which cannot be read "
         "as !!float"),
    ("mapping merged into itself", "a: &a\n  <<: *a\n" + FEED, {},
     "config.yaml:1: YAML syntax error: cannot build this !!map value; check the aliases"),
    ("1000 nested brackets", FEED + f"http:\n  timeout: {NESTED}\n", {},
     "config.yaml:4: values nested more than 20 levels deep; a config needs at most 5"),
    ("1000 nested mappings", FEED + "http:\n  timeout: " + "{a: " * 1000 + "}" * 1000 + "\n",
     {}, "config.yaml:4: values nested more than 20 levels deep"),
    ("1000 nested block lists", FEED + "http:\n  timeout:\n    " + "- " * 1000 + "x\n", {},
     "config.yaml:5: values nested more than 20 levels deep"),
    ("regex repeat count past 2**32", FEED + "footers:\n  sites:\n    ansa.it: ['a{4294967296}']\n",
     {}, "config.yaml:5: footers.sites.ansa.it[0]: the counted repeats ({n}, {n,m}) of "
         "'a{4294967296}' multiply to more than 100,000"),
    ("regex repeats compiled out in full",
     FEED + "footers:\n  sites:\n    ansa.it: ['(?:(?:a{100}){100}){100}']\n", {},
     "config.yaml:5: footers.sites.ansa.it[0]: the counted repeats"),
    ("regex groups nested 450 deep",
     FEED + "footers:\n  sites:\n    ansa.it: ['" + "(" * 450 + "a" + ")" * 450 + "']\n", {},
     "config.yaml:5: footers.sites.ansa.it[0]: not a valid regular expression: its groups are "
     "nested too deeply"),
    ("regex longer than a line", FEED + "footers:\n  sites:\n    ansa.it: ['" + "a" * 1001 + "']\n",
     {}, "config.yaml:5: footers.sites.ansa.it[0]: 'aaaa"),
    ("regex recursion", FEED + "footers:\n  sites:\n    ansa.it: ['a|(?R)']\n", {},
     "config.yaml:5: footers.sites.ansa.it[0]: 'a|(?R)' recurses ((?R), (?1), (?&name)...), "
     "which footer patterns, written as for Python's re, cannot"),
    ("regex recursion by group", FEED + "footers:\n  sites:\n    ansa.it: ['(a|(?1))']\n", {},
     "config.yaml:5: footers.sites.ansa.it[0]: '(a|(?1))' recurses"),
    ("regex flags the footer stage cannot take", FEED + "footers:\n  sites:\n    ansa.it: ['(?V1)x']\n",
     {}, "config.yaml:5: footers.sites.ansa.it[0]: not a valid regular expression: VERSION0 "
         "and VERSION1 flags are mutually incompatible in '(?V1)x'"),
    ("IPv6 bracket left open", "feeds:\n  - url: 'http://[::1'\n", {},
     "config.yaml:2: feeds[0].url: not an http(s) URL: 'http://[::1'; write it like "),
    ("host given as a huge number", FEED + "footers:\n  sites:\n    ? 0x" + "f" * 5000 + "\n    : []\n",
     {}, "config.yaml:5: footers.sites: expected a host name such as 'ansa.it', got a number "
         "of about 6021 digits"),
    ("env 1000 nested brackets", FEED, {"INGEST_HTTP_TIMEOUT": NESTED},
     "env INGEST_HTTP_TIMEOUT: http.timeout: expected a single value, got '[[[[[[[[[["),
    ("env !!int abc", FEED, {"INGEST_EXTRACT_WORKERS": "!!int abc"},
     "env INGEST_EXTRACT_WORKERS: extract.workers: expected an integer, got 'abc', which "
     "cannot be read as !!int"),
    ("env 5000 digits", FEED, {"INGEST_EXTRACT_WORKERS": DIGITS_5000},
     "env INGEST_EXTRACT_WORKERS: extract.workers: expected an integer, got '9999"),
    ("env infinite duration", FEED, {"INGEST_HTTP_TIMEOUT": DIGITS_400 + "s"},
     "env INGEST_HTTP_TIMEOUT: http.timeout: '9999"),
]

# Every integer and duration setting has an upper bound; the message says it.
BOUNDS = [
    ("state.max_attempts", "101", "must be 100 or less, got 101"),
    ("http.per_host_concurrency", "101", "must be 100 or less, got 101"),
    ("http.max_redirects", "51", "must be 50 or less, got 51"),
    ("http.max_connections", "1001", "must be 1000 or less, got 1001"),
    ("extract.workers", "257", "must be 256 or less, got 257"),
    ("extract.min_feed_text", "1000001", "must be 1000000 or less, got 1000001"),
    ("footers.min_count", "1001", "must be 1000 or less, got 1001"),
    ("schedule.concurrency", "1001", "must be 1000 or less, got 1001"),
    ("schedule.failing_after", "1001", "must be 1000 or less, got 1001"),
    ("schedule.max_entries_per_poll", "100001", "must be 100000 or less, got 100001"),
    ("http.timeout", "61m", "'61m' is longer than 1h, the most this setting accepts"),
    ("extract.timeout", "2h", "'2h' is longer than 1h"),
    ("http.per_host_delay", "3601", "3601 is longer than 1h"),
    ("schedule.shutdown_grace", "2h", "'2h' is longer than 1h"),
    ("state.lock_timeout", "25h", "'25h' is longer than 1d"),
    ("state.retention", "3651d", "'3651d' is longer than 3650d"),
    ("schedule.max_interval", "366d", "'366d' is longer than 365d"),
    ("http.max_page_bytes", "2GiB", "'2GiB' is more than 1GiB"),
    ("output.max_file_bytes", "101GB", "'101GB' is more than 100GB"),
    ("dedup.window", "3651d", "'3651d' is longer than 3650d"),
    ("dedup.min_words", "100001", "must be 100000 or less, got 100001"),
    ("dedup.threshold", "1.01", "expected a number more than 0 and at most 1, got 1.01"),
    ("dedup.threshold", "0", "expected a number more than 0 and at most 1, got 0"),
]


def test_quick_loader_refuses_deep_nesting_before_libyaml_composes_it():
    # libyaml's composer recurses in C without a limit: 100,000 levels crash the process
    # (tests/cli/test_bad_config_cli.py runs that in a subprocess); 1,000 still load.
    text = "timeout:\n  " + "- " * 1000 + "x\n"
    with pytest.raises(ConfigError, match=r"^c\.yaml:2: values nested more than 20 levels deep"):
        parse_yaml(text, "c.yaml", lines=False)


@pytest.mark.parametrize(("key", "value", "expected"), BOUNDS, ids=[b[0] for b in BOUNDS])
def test_settings_have_upper_bounds(tmp_path, key, value, expected):
    section, name = key.split(".")
    path = write(tmp_path, FEED + f"{section}:\n  {name}: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert str(caught.value).startswith(f"{path}:4: {key}: {expected}"), str(caught.value)
    env = {f"INGEST_{section.upper()}_{name.upper()}": value}
    with pytest.raises(ConfigError, match=f"^env INGEST_.*: {key}: {re.escape(expected)}"):
        load_config(write(tmp_path, FEED), env=env)


@pytest.mark.parametrize(("text", "env", "expected"), [case[1:] for case in ERRORS + HOSTILE],
                         ids=[case[0] for case in ERRORS + HOSTILE])
def test_errors_name_file_line_and_key(tmp_path, monkeypatch, text, env, expected):
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("config.yaml", env=env)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


# What Kubernetes puts into every pod of a namespace with Services named ingest and
# ingest-feeds ("service links").
SERVICE_LINKS = {
    "INGEST_PORT": "tcp://10.0.0.7:8080", "INGEST_PORT_8080_TCP": "tcp://10.0.0.7:8080",
    "INGEST_PORT_8080_TCP_PROTO": "tcp", "INGEST_PORT_8080_TCP_PORT": "8080",
    "INGEST_PORT_8080_TCP_ADDR": "10.0.0.7", "INGEST_SERVICE_HOST": "10.0.0.7",
    "INGEST_SERVICE_PORT": "8080", "INGEST_SERVICE_PORT_HTTP": "8080",
    "INGEST_FEEDS_SERVICE_HOST": "10.0.0.8",
}


@pytest.fixture
def config_warnings(caplog, monkeypatch):
    """The messages logged by ingest.config.load at WARNING and above, so far."""
    monkeypatch.setattr(logging.getLogger("ingest"), "propagate", True)  # the CLI's set-up stops it
    caplog.set_level(logging.WARNING, logger="ingest.config")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "ingest.config"]


def test_unknown_env_names_are_one_warning_not_an_error(tmp_path, config_warnings):
    env = {**SERVICE_LINKS, "INGEST_HTTP_TIMOUT": "5", "INGEST_NOPE": "1",
           "INGEST_HTTP_TIMEOUT": "7", "INGEST_CONFIG": "elsewhere.yaml", "HOME": "/root"}
    # Flow style: the quick loader fails, so the file is read twice; the warning is once.
    cfg = load_config(write(tmp_path, "feeds: [{url: https://a.test/rss}]\n"), env=env)
    assert cfg.http.timeout == 7.0
    links = sorted(SERVICE_LINKS)
    assert config_warnings() == [
        "config: ignoring unknown environment variables INGEST_HTTP_TIMOUT (did you mean "
        "INGEST_HTTP_TIMEOUT?), INGEST_NOPE: a setting's variable is INGEST_<SECTION>_<KEY>; "
        f"ignoring {', '.join(links)}: Kubernetes service links of the Service ingest, "
        "ingest-feeds, which set nothing here (enableServiceLinks: false in the pod spec "
        "leaves them out)"]


def test_a_service_link_under_a_settings_name_is_ignored_with_the_others(tmp_path,
                                                                          config_warnings):
    """A Service named ingest-server injects INGEST_SERVER_PORT=tcp://...: a crash loop if it
    were read as server.port."""
    env = {"INGEST_SERVER_PORT": "tcp://10.0.0.7:8080", "INGEST_SERVER_SERVICE_HOST": "10.0.0.7"}
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert cfg.server.port == 8080  # the default: the link set nothing
    assert config_warnings() == [
        "config: ignoring INGEST_SERVER_PORT, INGEST_SERVER_SERVICE_HOST: Kubernetes service "
        "links of the Service ingest-server, which set nothing here (enableServiceLinks: false "
        "in the pod spec leaves them out)"]


def test_known_env_names_give_no_warning(tmp_path, config_warnings):
    env = {"INGEST_HTTP_TIMEOUT": "7", "INGEST_CONFIG": "x.yaml", "NOT_INGEST_X": "1"}
    assert load_config(write(tmp_path, MINIMAL), env=env).http.timeout == 7.0
    assert config_warnings() == []


def test_missing_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match=r"^.*nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml", env={})


@pytest.mark.parametrize(("value", "seconds"), [
    (90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0),
    ("2d", 172800.0), ("1h30m", 5400.0), ("1h 30m", 5400.0), ("1w", 604800.0),
    ("250ms", 0.25), ("1.5H", 5400.0), (0, 0.0),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "soon", "15 minutes", "1h-30m", "-5", -5, True,
                                   None, float("inf"), "m5", "9" * 400 + "s", 10**400,
                                   "1" * 1001])
def test_parse_duration_rejects(value):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "size"), [
    (1024, 1024), ("1024", 1024), ("10MB", 10_000_000), ("5 MiB", 5 * 2**20),
    ("500kB", 500_000), ("500KB", 500_000), ("2KiB", 2048), ("1.5GB", 1_500_000_000),
    ("7 B", 7), (1e6, 1_000_000),
])
def test_parse_size(value, size):
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "big", "5 parsecs", "MB", "-1MB", -1, 1.5, False,
                                   None, "9" * 400 + "GB", 10**400, float("nan")])
def test_parse_size_rejects(value):
    with pytest.raises(ValueError, match="size|bytes"):
        parse_size(value)


@pytest.mark.parametrize(("parse", "value", "most", "expected"), [
    (parse_duration, "1h", 3600.0, 3600.0),
    (parse_duration, "1h1s", 3600.0, "'1h1s' is longer than 1h, the most this setting accepts"),
    (parse_duration, 10**400, 3600.0, "a number of about 401 digits is longer than 1h"),
    (parse_size, "1GiB", 2**30, 2**30),
    (parse_size, 2**30 + 1, 2**30, "1073741825 is more than 1GiB, the most this setting accepts"),
    (parse_size, "1e3", None, "not a size: '1e3'"),
])
def test_most_a_setting_accepts(parse, value, most, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}"):
            parse(value, most=most)
    else:
        assert parse(value, most=most) == expected
