"""The settings of a state in PostgreSQL: state.url, state.replica, state.connect_timeout,
output.sink and output.table; their defaults, environment variables and errors. No error,
repr or effective config shows the password of state.url."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest

from ingest.config import replica as replica_name
from ingest.config.load import load_config
from ingest.config.model import effective_config
from ingest.errors import ConfigError

FEED = "feeds:\n  - url: https://example.com/rss.xml\n"  # lines 1-2
PASSWORD = "Hunter-2-secret"
URL = f"postgresql://ingest:{PASSWORD}@db.internal:5433/news?sslmode=require"


def write(folder: Path, text: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_defaults_keep_the_state_in_sqlite_and_the_output_in_files(tmp_path):
    cfg = load_config(write(tmp_path, FEED), env={})
    assert (cfg.state.url, cfg.state.connect_timeout) == (None, 120.0)
    assert (cfg.output.sink, cfg.output.table) == ("files", "articles")
    assert cfg.state.replica == socket.gethostname()  # this test machine's name is usable


def test_the_file_sets_them(tmp_path):
    path = write(tmp_path, FEED + f"state:\n  url: '{URL}'\n  replica: node-a\n"
                 "  connect_timeout: 30s\noutput:\n  sink: postgres\n  table: corpus.articles\n")
    cfg = load_config(path, env={})
    assert (cfg.state.url, cfg.state.replica, cfg.state.connect_timeout) == (URL, "node-a", 30.0)
    assert (cfg.output.sink, cfg.output.table) == ("postgres", "corpus.articles")


@pytest.mark.parametrize(("name", "value", "key", "expected"), [
    ("INGEST_STATE_URL", URL, "state.url", URL),
    # taken as written, not read as YAML (a '#', a ': ' and quotes survive)
    ("INGEST_STATE_URL", "host=/run/pg dbname=news password='a #b: c'", "state.url",
     "host=/run/pg dbname=news password='a #b: c'"),
    ("INGEST_STATE_REPLICA", "web-2.eu_west", "state.replica", "web-2.eu_west"),
    ("INGEST_STATE_CONNECT_TIMEOUT", "0", "state.connect_timeout", 0.0),
    ("INGEST_STATE_CONNECT_TIMEOUT", "5m", "state.connect_timeout", 300.0),
    ("INGEST_OUTPUT_SINK", "postgres", "output.sink", "postgres"),
    ("INGEST_OUTPUT_TABLE", "news_2", "output.table", "news_2"),
])
def test_the_environment_sets_them(tmp_path, name, value, key, expected):
    env = {name: value, "INGEST_STATE_URL": URL} if name != "INGEST_STATE_URL" else {name: value}
    cfg = load_config(write(tmp_path, FEED), env=env)
    section, field = key.split(".")
    assert getattr(getattr(cfg, section), field) == expected


ERRORS = [
    # (id, state/output settings as YAML lines, or env, expected message after "where: ")
    ("sink without url", "output:\n  sink: postgres\n", {},
     "config.yaml:4: output.sink: postgres writes into the database of state.url, which is "
     "not set; set state.url (or INGEST_STATE_URL), or use sink: files"),
    ("sink without url, env", "", {"INGEST_OUTPUT_SINK": "postgres"},
     "env INGEST_OUTPUT_SINK: output.sink: postgres writes into the database of state.url"),
    ("unknown sink", "output:\n  sink: kafka\n", {},
     "config.yaml:4: output.sink: expected one of files, postgres; got text 'kafka'"),
    ("not postgres", "", {"INGEST_STATE_URL": f"mysql://root:{PASSWORD}@db/news"},
     "env INGEST_STATE_URL: state.url: a mysql:// URL is not PostgreSQL's; write it as "
     "postgresql://user:password@host:5432/dbname"),
    ("libpq cannot read it", "", {"INGEST_STATE_URL": f"host=db password={PASSWORD} x"},
     "env INGEST_STATE_URL: state.url: libpq cannot read it: missing \"=\" after \"…\" in "
     "connection info string (the text is not shown: it may hold a password)"),
    ("bad URL", f"state:\n  url: 'postgresql://u:{PASSWORD}@[::1/news'\n", {},
     "config.yaml:4: state.url: libpq cannot read it: end of string reached when looking "
     "for matching \"]\" in IPv6 host address in URI: \"…\""),
    ("unknown option", "", {"INGEST_STATE_URL": f"postgresql://db/news?{PASSWORD}=1"},
     "env INGEST_STATE_URL: state.url: libpq cannot read it: invalid URI query parameter: \"…\""),
    ("bad port", "state:\n  url: postgresql://db:54x/news\n", {},
     "config.yaml:4: state.url: the port must be a number, got '54x'"),
    ("not text", "state:\n  url: 5432\n", {},
     "config.yaml:4: state.url: expected a PostgreSQL connection string, got an integer 5432"),
    ("empty", "", {"INGEST_STATE_URL": ""},
     "env INGEST_STATE_URL: state.url: expected a PostgreSQL connection string, got empty text"),
    ("two lines", "", {"INGEST_STATE_URL": f"host=db\npassword={PASSWORD}"},
     "env INGEST_STATE_URL: state.url: must be one line of printable text (not shown"),
    ("replica with a slash", "state:\n  replica: a/b\n", {},
     "config.yaml:4: state.replica: expected 1 to 63 letters, digits, '.', '_' or '-' (it goes "
     "into file names), got text 'a/b'"),
    ("replica too long", "", {"INGEST_STATE_REPLICA": "r" * 64},
     "env INGEST_STATE_REPLICA: state.replica: expected 1 to 63 letters"),
    ("replica like a part", "state:\n  replica: node.1\n", {},
     "config.yaml:4: state.replica: 'node.1' ends in a number after a '.' (or is one), which "
     "would read as a file's part number; add a letter, as in node-1"),
    ("replica a number", "", {"INGEST_STATE_REPLICA": "7"},
     "env INGEST_STATE_REPLICA: state.replica: '7' ends in a number"),
    ("table with upper case", "output:\n  table: Articles\n", {},
     "config.yaml:4: output.table: expected a table name such as articles or corpus.articles"),
    ("table quoted", "", {"INGEST_OUTPUT_TABLE": 'a"; DROP TABLE seen; --'},
     "env INGEST_OUTPUT_TABLE: output.table: expected a table name"),
    ("table too deep", "", {"INGEST_OUTPUT_TABLE": "a.b.c"},
     "env INGEST_OUTPUT_TABLE: output.table: expected a table name"),
    ("timeout too long", "state:\n  connect_timeout: 2d\n", {},
     "config.yaml:4: state.connect_timeout: '2d' is longer than 1d"),
]


@pytest.mark.parametrize(("text", "env", "expected"), [case[1:] for case in ERRORS],
                         ids=[case[0] for case in ERRORS])
def test_errors_name_the_key_and_where_it_was_set_and_never_the_password(
        tmp_path, monkeypatch, text, env, expected):
    write(tmp_path, FEED + text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("config.yaml", env=env)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert PASSWORD not in message and "\n" not in message


@pytest.mark.parametrize(("url", "shown"), [
    (URL, "postgresql://ingest:***@db.internal:5433/news?sslmode=require"),
    (f"postgres://ingest:{PASSWORD}@/news?host=/run/pg&password={PASSWORD}",
     "postgres://ingest:***@/news?host=/run/pg&password=***"),
    (f"host=db dbname=news password='{PASSWORD} x'", "password=*** dbname=news host=db"),
    ("postgresql://ingest@db/news", "postgresql://ingest@db/news"),
])
def test_effective_config_and_repr_hide_the_password(tmp_path, url, shown):
    cfg = load_config(write(tmp_path, FEED), env={"INGEST_STATE_URL": url})
    assert cfg.state.url == url
    assert effective_config(cfg)["state"]["url"] == shown
    assert PASSWORD not in repr(cfg) and PASSWORD not in str(cfg.state)


@pytest.mark.parametrize(("host", "replica"), [
    ("web-1", "web-1"),
    ("web-1.eu.example.org", "web-1.eu.example.org"),
    ("node.17", "node"),  # the whole name would read as a part number
    ("x" * 40 + "." + "y" * 40, "x" * 40),  # too long: the first label
    ("12345678", "host-12345678"),  # a container id of digits
    ("büro!", "b-ro-"),
    ("", "ingest"),
])
def test_the_default_replica_is_a_usable_form_of_the_host_name(monkeypatch, host, replica):
    monkeypatch.setattr(socket, "gethostname", lambda: host)
    assert replica_name.host_replica() == replica
    assert replica_name.usable_replica(replica)

