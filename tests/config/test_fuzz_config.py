"""Fuzzing the config loader: whatever config.yaml and the INGEST_* environment hold,
load_config returns a Config or raises ConfigError with a one-line message, and
nothing else, within the hypothesis profile's deadline (conftest.py).

The structured texts use the real sections and keys with arbitrary values: numbers
of hundreds of digits, durations and sizes, YAML tags, anchors and aliases, flow
collections, nesting thousands of levels deep, and footer patterns made of regex
syntax. The raw texts are arbitrary characters, most of them YAML's own.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.config.load import load_config
from ingest.config.model import Config
from ingest.config.schema import FEED_FIELDS, SECTION_FIELDS
from ingest.errors import ConfigError

pytestmark = pytest.mark.fuzz

FEED = "feeds:\n  - url: https://example.com/rss.xml\n"
TAGS = ["!!int", "!!bool", "!!float", "!!str", "!!null", "!!binary", "!!timestamp", "!!set",
        "!!omap", "!!pairs", "!!seq", "!!map", "!local", "!!python/object:os.system",
        "!<tag:yaml.org,2002:int>"]
WORDS = ["true", "false", "yes", "on", "null", "~", "''", "0", "-1", "1.5", "-0.0", ".inf",
         "-.inf", ".nan", "0x1F", "0o17", "0b101", "1_000", "1:30", "1e400", "2001-12-14",
         "2001-12-14t21:59:43.10-05:00", "15m", "1h30m", "250ms", "90s", "2w", "5 MiB", "10MB",
         "1.5GB", "day", "none", "gzip", "::", "https://a.test/rss", "ftp://a.test/",
         "'http://[::1'", "tcp://10.0.0.7:8080", "<<", "*a", "*undefined", "'a\\nb'",
         '"\\u0000"', '"\\ud800"']

digits = st.integers(1, 600).map(lambda n: "9" * n)
numbers = st.one_of(st.integers().map(str), st.floats().map(repr), digits,
                    st.tuples(digits, st.sampled_from(["", "s", "m", "h", "d", "GB", "KiB", ".5"]))
                    .map("".join))
quoted = st.text(max_size=20).map(lambda s: json.dumps(s, ensure_ascii=False))
plain = st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=12)
scalars = st.one_of(st.sampled_from(WORDS), numbers, quoted, plain)
patterns = st.text("()[]{}*+?|\\^$.a0,:<>=!#&-RPVLi12", max_size=40).map(json.dumps)


def _flow_collections(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keys = st.sampled_from([*SECTION_FIELDS, "url", "timeout", "<<", "? [a]", "1"]) | plain
    return st.one_of(
        st.lists(children, max_size=4).map(lambda items: f"[{', '.join(items)}]"),
        st.lists(st.tuples(keys, children), max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"),
        st.tuples(st.sampled_from(TAGS), children).map(" ".join),
        st.tuples(st.sampled_from(["&a", "&b"]), children).map(" ".join),
    )


nested = st.one_of(
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: "{a: " * n + "1" + "}" * n),
    st.integers(1, 3000).map(lambda n: "\n    " + "- " * n + "x"),
)
values = st.one_of(
    st.recursive(scalars | st.tuples(st.sampled_from(TAGS), scalars).map(" ".join),
                 _flow_collections, max_leaves=8),
    nested,
)


@st.composite
def config_texts(draw) -> str:
    """A config of real sections and keys (and a few wrong ones) with arbitrary values."""
    feed_keys = draw(st.lists(st.sampled_from([*FEED_FIELDS, "bogus"]), unique=True, max_size=3))
    text = FEED + "".join(f"    {key}: {draw(values)}\n" for key in feed_keys if key != "url")
    for section in draw(st.lists(st.sampled_from([*SECTION_FIELDS, "bogus"]), unique=True,
                                 max_size=4)):
        text += f"{section}:\n"
        if section == "footers" and draw(st.booleans()):
            host = draw(st.sampled_from(["ansa.it", "www.ANSA.it", "a b", "x/y", "1", "''"]))
            text += f"  sites:\n    {host}: [{', '.join(draw(st.lists(patterns, max_size=3)))}]\n"
            continue
        names = list(SECTION_FIELDS.get(section, {})) + ["bogus"]
        for key in draw(st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=4)):
            text += f"  {key}: {draw(values)}\n"
    return text


env_names = st.one_of(
    st.sampled_from([f"INGEST_{s.upper()}_{k.upper()}" for s, keys in SECTION_FIELDS.items()
                     for k in keys]),
    st.sampled_from(["INGEST_CONFIG", "INGEST_FEEDS", "INGEST_PORT", "INGEST_PORT_8080_TCP",
                     "INGEST_SERVICE_HOST", "INGEST_SERVER_SERVICE_PORT_HTTP", "INGEST_",
                     "ingest_http_timeout", "INGEST_http_timeout"]),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ_019", max_size=30).map(lambda s: "INGEST_" + s),
)
environments = st.dictionaries(env_names, st.one_of(values, st.text(max_size=30)), max_size=4)


def assert_config_or_config_error(text: str | bytes, env: dict[str, str]) -> None:
    # hypothesis runs many examples in one test call: a folder of its own for each.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "config.yaml")
        path.write_bytes(text if isinstance(text, bytes)
                         else text.encode("utf-8", "surrogatepass"))
        try:
            cfg = load_config(path, env=env)
        except ConfigError as exc:
            assert "\n" not in str(exc), str(exc)
        else:
            assert isinstance(cfg, Config)


@given(config_texts())
def test_structured_config_texts(text):
    assert_config_or_config_error(text, {})


@given(st.one_of(st.text("[]{}:-?,&*!|>'\"%@`# \n\t abc019._\\", max_size=200),
                 st.text(max_size=200), st.binary(max_size=100)))
def test_raw_config_texts(text):
    assert_config_or_config_error(text, {})


@given(environments)
def test_environments(env):
    assert_config_or_config_error(FEED, env)


@given(config_texts(), environments)
def test_config_texts_with_environments(text, env):
    assert_config_or_config_error(text, env)
