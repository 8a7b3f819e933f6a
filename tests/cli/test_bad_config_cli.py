"""Bad configuration through the CLI: the contract a user sees, not the loader's internals
(tests/config/test_config.py covers those). For every broken config, `ingest fetch` exits 2 with
exactly ONE line on stderr that names the file, the line and the key
(`config.yaml:14: feeds[3].url: not an http(s) URL`), prints no traceback, contacts no
server and creates neither the state store nor the output folder.
"""

from __future__ import annotations

import re

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer

pytestmark = pytest.mark.timeout(30)

FEEDS = """\
feeds:
  - name: one
    url: {u}/a.xml
  - name: two
    url: {u}/b.xml
"""  # five lines: a setting added below starts on line 6

CASES = [
    # id, config text ({u}: the local server), the one line expected after "ingest: "
    ("unknown-top-level-key", FEEDS + "outptu:\n  dir: out\n",
     r"config\.yaml:6: outptu: unknown key; did you mean 'output'\?"),
    ("unknown-section-key", FEEDS + "http:\n  timout: 5\n",
     r"config\.yaml:7: http\.timout: unknown key; did you mean 'timeout'\?"),
    ("unknown-feed-key", "feeds:\n  - name: one\n    urll: {u}/a.xml\n",
     r"config\.yaml:3: feeds\[0\]\.urll: unknown key; did you mean 'url'\?"),
    ("duration-not-a-duration", FEEDS + "http:\n  timeout: soon\n",
     r"config\.yaml:7: http\.timeout: not a duration: 'soon'"),
    ("duration-negative", FEEDS + "http:\n  timeout: -5\n", r"config\.yaml:7: http\.timeout: "),
    ("duration-zero-timeout", FEEDS + "http:\n  timeout: 0\n",
     r"config\.yaml:7: http\.timeout: must be more than 0"),
    ("duration-unknown-unit", "feeds:\n  - url: {u}/a.xml\n    interval: 5 minutes\n",
     r"config\.yaml:3: feeds\[0\]\.interval: unknown unit 'minutes'"),
    ("size-not-a-size", FEEDS + "http:\n  max_feed_bytes: lots\n",
     r"config\.yaml:7: http\.max_feed_bytes: not a size: 'lots'"),
    ("bool-yes-is-text", FEEDS + "http:\n  allow_private_networks: yes\n",
     r"config\.yaml:7: http\.allow_private_networks: expected true or false, got text 'yes'"),
    ("int-as-text", FEEDS + "http:\n  max_redirects: five\n",
     r"config\.yaml:7: http\.max_redirects: expected an integer, got text 'five'"),
    ("int-out-of-range", FEEDS + "http:\n  per_host_concurrency: 0\n",
     r"config\.yaml:7: http\.per_host_concurrency: must be 1 or more, got 0"),
    ("port-out-of-range", FEEDS + "server:\n  port: 99999\n",
     r"config\.yaml:7: server\.port: "),
    ("choice-not-allowed", FEEDS + "output:\n  partition: week\n",
     r"config\.yaml:7: output\.partition: expected one of day, none"),
    ("section-not-a-mapping", FEEDS + "http: 5\n",
     r"config\.yaml:6: http: expected a mapping, got an integer 5"),
    ("feeds-not-a-list", "feeds:\n  url: {u}/a.xml\n",
     r"config\.yaml:1: feeds: expected a non-empty list of feeds, got a mapping"),
    ("feeds-empty", "feeds: []\n", r"config\.yaml:1: feeds: expected a non-empty list"),
    ("feeds-missing", "output:\n  dir: out\n", r"config\.yaml:1: feeds: missing"),
    ("feed-not-a-mapping", "feeds:\n  - {u}/a.xml\n",
     r"config\.yaml:2: feeds\[0\]: expected a mapping"),
    ("tags-not-a-list", "feeds:\n  - url: {u}/a.xml\n    tags: news\n",
     r"config\.yaml:3: feeds\[0\]\.tags: expected a list"),
    ("url-not-http", FEEDS.replace("{u}/b.xml", "ftp://127.0.0.1/b.xml"),
     r"config\.yaml:5: feeds\[1\]\.url: not an http\(s\) URL"),
    ("url-without-host", FEEDS.replace("{u}/b.xml", "'http://'"),
     r"config\.yaml:5: feeds\[1\]\.url: not an http\(s\) URL"),
    ("url-duplicate-after-normalising", FEEDS.replace("{u}/b.xml", "{u}/a.xml#top"),
     r"config\.yaml:5: feeds\[1\]\.url: .* is the same feed as feeds\[0\] \(line 3\)"),
    ("name-duplicate-any-case", FEEDS.replace("name: two", "name: ONE"),
     r"config\.yaml:4: feeds\[1\]\.name: 'ONE' is already the name of feeds\[0\] \(line 2\)"),
    ("name-not-one-line", 'feeds:\n  - name: "a\\nb"\n    url: {u}/a.xml\n',
     r"config\.yaml:2: feeds\[0\]\.name: must be one line of printable text"),
    ("regex-invalid", FEEDS + "footers:\n  sites:\n    ansa.it: ['(unclosed']\n",
     r"config\.yaml:8: footers\.sites\.ansa\.it\[0\]: not a valid regular expression"),
    ("schedule-inconsistent", FEEDS + "schedule:\n  min_interval: 1h\n  max_interval: 10m\n",
     r"config\.yaml:8: schedule\.max_interval: 10m is below schedule\.min_interval"),
    ("yaml-unclosed-bracket", "feeds:\n  - name: one\n    url: [{u}/a.xml\n",
     r"config\.yaml:4: YAML syntax error: .*\(while parsing a flow sequence on line 3\)"),
    ("yaml-tab-indent", "feeds:\n  - name: one\n\turl: {u}/a.xml\n",
     r"config\.yaml:3: YAML syntax error: found character '\\t'"),
    ("yaml-duplicate-key", "feeds:\n  - name: one\n    url: {u}/a.xml\n    name: two\n",
     r"config\.yaml:4: YAML syntax error: found duplicate key \"name\""),
    ("yaml-duplicate-section", FEEDS + "http:\n  timeout: 5\nhttp:\n  timeout: 6\n",
     r"config\.yaml:8: YAML syntax error: found duplicate key \"http\""),
    ("yaml-top-level-list", "- a\n- b\n", r"config\.yaml:1: expected a mapping of settings"),
    ("empty-file", "", r"config\.yaml:1: the config file is empty"),
    ("not-utf8", b"\xff\xfe feeds", r"config\.yaml: cannot read the config file: .*utf-8"),
    # Found by fuzzing: each was a traceback (exit 1) or a crash of the interpreter
    # (tests/config/test_config.py has the rest of them).
    ("5000-digit-integer", FEEDS + "extract:\n  workers: " + "9" * 5000 + "\n",
     r"config\.yaml:7: extract\.workers: expected an integer, got '9+\.\.\. \(5,000 characters\)"),
    ("tag-cannot-build", FEEDS + "extract:\n  workers: !!int abc\n",
     r"config\.yaml:7: extract\.workers: expected an integer, got 'abc', which cannot be read "
     r"as !!int"),
    # libyaml's composer recursed in C until the process died (SIGSEGV).
    ("100000-nested-lists", FEEDS + "http:\n  timeout:\n    " + "- " * 100_000 + "x\n",
     r"config\.yaml:8: values nested more than 20 levels deep"),
    # ruamel warned, on lines of its own, of an anchor defined twice (YAML allows it).
    ("anchor-defined-twice", FEEDS + "http:\n  timeout: &a 5\n  max_redirects: &a five\n",
     r"config\.yaml:8: http\.max_redirects: expected an integer, got text 'five'"),
    ("regex-repeat-past-2**32", FEEDS + "footers:\n  sites:\n    ansa.it: ['a{4294967296}']\n",
     r"config\.yaml:8: footers\.sites\.ansa\.it\[0\]: the counted repeats"),
]


@pytest.fixture(scope="module")
def server():
    with FaultServer() as server:
        yield server


def assert_one_line_usage_error(proc, pattern: str, tmp_path) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(rf"ingest: {pattern}.*", lines[0]), lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / "data").exists() and not (tmp_path / "out").exists(), \
        "a config error created the output or state folder"
    return lines[0]


@pytest.mark.parametrize("text, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_naming_the_key_and_line(server, tmp_path, text, pattern):
    before = len(server.requests)
    path = tmp_path / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text.replace("{u}", server.url("")))
    proc = run_cli("fetch", "--config", "config.yaml", cwd=tmp_path)
    assert_one_line_usage_error(proc, pattern, tmp_path)
    assert len(server.requests) == before, "a server was contacted despite the bad config"


@pytest.mark.parametrize("command", ["fetch", "run", "check"])
def test_every_command_reports_the_same_line(server, tmp_path, command):
    (tmp_path / "config.yaml").write_text(FEEDS.format(u=server.url("")) + "http:\n  timout: 5\n")
    proc = run_cli(command, "--config", "config.yaml", cwd=tmp_path, timeout=20)
    assert_one_line_usage_error(proc, r"config\.yaml:7: http\.timout: unknown key", tmp_path)


@pytest.mark.parametrize("how", ["--config", "INGEST_CONFIG"])
def test_missing_file(tmp_path, how):
    args, env = (["--config", "nope.yaml"], None) if how == "--config" else \
        ([], {"INGEST_CONFIG": "nope.yaml"})
    proc = run_cli("fetch", *args, cwd=tmp_path, env=env)
    line = assert_one_line_usage_error(proc, r"nope\.yaml: config file not found", tmp_path)
    assert str(tmp_path / "nope.yaml") in line


def test_config_path_is_a_folder(tmp_path):
    (tmp_path / "conf").mkdir()
    proc = run_cli("fetch", "--config", "conf", cwd=tmp_path)
    assert_one_line_usage_error(proc, r"conf: cannot read the config file", tmp_path)


@pytest.mark.parametrize("variable, value, pattern", [
    ("INGEST_HTTP_TIMEOUT", "soon", r"env INGEST_HTTP_TIMEOUT: http\.timeout: not a duration"),
    ("INGEST_HTTP_ALLOW_PRIVATE_NETWORKS", "yes",
     r"env INGEST_HTTP_ALLOW_PRIVATE_NETWORKS: http\.allow_private_networks: "),
    ("INGEST_HTTP_TIMEOUT", "[" * 1000, r"env INGEST_HTTP_TIMEOUT: http\.timeout: expected a "
                                        r"single value, got '\[\[\["),
], ids=["bad-value", "bool-yes", "1000-brackets"])
def test_bad_environment_override_names_the_variable(server, tmp_path, variable, value, pattern):
    (tmp_path / "config.yaml").write_text(FEEDS.format(u=server.url("")))
    proc = run_cli("fetch", "--config", "config.yaml", cwd=tmp_path, env={variable: value})
    assert_one_line_usage_error(proc, pattern, tmp_path)


def test_unknown_feed_name_is_a_usage_error(server, tmp_path):
    (tmp_path / "config.yaml").write_text(FEEDS.format(u=server.url("")))
    proc = run_cli("fetch", "--config", "config.yaml", "--feed", "three", cwd=tmp_path)
    assert_one_line_usage_error(proc, r"--feed: no feed named 'three'", tmp_path)
