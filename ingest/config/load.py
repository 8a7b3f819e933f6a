"""Load and validate config.yaml (+ INGEST_* environment overrides) into a frozen Config.

Every problem is a ConfigError whose message names the file, the line and the
key: ``config.yaml:14: feeds[3].url: not an http(s) URL``; a bad environment
variable is named instead of a line: ``env INGEST_HTTP_TIMEOUT: http.timeout: ...``.

Flow: read YAML (quick loader; again with line numbers if anything is wrong) -> reject
unknown keys -> collect each setting as a ``RawSetting`` (value + where it came
from) -> let ``INGEST_<SECTION>_<KEY>`` replace file values -> check and
convert each value with its ``Field`` -> build the frozen dataclasses.
Relative paths resolve against the config file's folder (env: the cwd).

The parts, each in its own module of ingest.config:
  model        the frozen dataclasses this builds (no YAML)
  source       reading the file, line numbers, RawSetting, error wording
  yaml_reader  the YAML library, bounded (nesting, unbuildable values)
  schema       the keys as data: section -> key -> Field (check, env, default)
  checks       the value checks the schema refers to
  database     those of the PostgreSQL settings (connection string, replica, table)
  env          INGEST_* overrides
  feeds        the feeds list -> Feed models
and ingest.units: durations and sizes (parse_duration, parse_size).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.config.env import apply_env_overrides, warn_unknown_env
from ingest.config.feeds import load_feeds
from ingest.config.model import (
    Config,
    DedupConfig,
    ExtractConfig,
    FootersConfig,
    HttpConfig,
    OutputConfig,
    ScheduleConfig,
    ServerConfig,
    SitemapConfig,
    StateConfig,
    WebSubConfig,
)
from ingest.config.schema import SECTION_FIELDS
from ingest.config.source import (
    RawSetting,
    config_error,
    describe_value,
    key_line,
    parse_yaml,
    read_text,
    reject_unknown_keys,
    resolve_path,
)
from ingest.redact import redact_url
from ingest.units import format_duration

# The dataclass each section of SECTION_FIELDS is built into.
_SECTION_TYPES: dict[str, type] = {
    "output": OutputConfig, "state": StateConfig, "http": HttpConfig,
    "extract": ExtractConfig, "footers": FootersConfig, "schedule": ScheduleConfig,
    "server": ServerConfig, "dedup": DedupConfig, "sitemap": SitemapConfig,
    "websub": WebSubConfig,
}


def load_config(path: str | os.PathLike, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path``, apply ``INGEST_*`` overrides from ``env`` and validate.

    Raises ConfigError (one message: ``file:line: key: problem``) on the first problem,
    and nothing else, whatever the file and the environment hold. ``INGEST_*``
    variables that set nothing are one warning (see ingest.config.env).
    """
    label = os.fspath(path)
    file = Path(os.path.abspath(label))
    env = os.environ if env is None else env
    warn_unknown_env(env)  # once, not once per reading of the file
    text = read_text(file, label)
    # The quick loader knows no line numbers. Whatever goes wrong with it (a bad
    # value, or YAML syntax libyaml does not take), the file is read again with
    # lines: that reading is the authority, and its error names the line.
    with contextlib.suppress(Exception):  # raised again, with its line, below
        return _config(parse_yaml(text, label, lines=False), label, file, env)
    return _config(parse_yaml(text, label, lines=True), label, file, env)


def _config(top: dict, label: str, file: Path, env: Mapping[str, str]) -> Config:
    reject_unknown_keys(top, ("feeds", *SECTION_FIELDS), label, "")
    feeds = load_feeds(top, label, env)
    raws = {name: _section_raws(top, name, label, file.parent) for name in SECTION_FIELDS}
    apply_env_overrides(raws, env)
    sections = {name: _build_section(name, raws[name], file.parent) for name in SECTION_FIELDS}
    _check_schedule(sections["schedule"], raws["schedule"])
    _check_sink(sections["output"], sections["state"], raws["output"])
    _check_public_url(sections["server"], raws["server"])
    return Config(path=file, feeds=feeds, **sections)


def _section_raws(top: dict, name: str, label: str, base: Path) -> dict[str, RawSetting]:
    node = top.get(name)
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise config_error(label, key_line(top, name), name,
                           f"expected a mapping, got {describe_value(node)}")
    reject_unknown_keys(node, SECTION_FIELDS[name], label, name)
    return {key: RawSetting(value, label, key_line(node, key), base)
            for key, value in node.items()}


def _build_section(name: str, raws: dict[str, RawSetting], base: Path) -> Any:
    schema = SECTION_FIELDS[name]
    values = {key: raw.convert(f"{name}.{key}", schema[key].check) for key, raw in raws.items()}
    for key, spec in schema.items():
        if key not in values and spec.default is not None:
            values[key] = resolve_path(Path(spec.default), base)
    return _SECTION_TYPES[name](**values)


def _check_sink(output: OutputConfig, state: StateConfig, raws: dict[str, RawSetting]) -> None:
    """The postgres sink writes into the state's database: it needs one."""
    if output.sink == "postgres" and state.url is None:
        raw = raws["sink"]
        raise config_error(raw.where, raw.line, "output.sink",
                           "postgres writes into the database of state.url, which is not set; "
                           "set state.url (or INGEST_STATE_URL), or use sink: files")


def _check_public_url(server: ServerConfig, raws: dict[str, RawSetting]) -> None:
    """WebSub hubs call back the ops server at server.public_url: it needs the server, and
    a plain URL the callback paths are appended to."""
    url = server.public_url
    if url is None:
        return
    parts = urlsplit(url)
    if "?" in url or "#" in url:
        problem = "has a query or fragment; give the server's base URL only"
    elif "@" in parts.netloc:
        problem = "has a user or password; hubs call back without credentials"
    elif not server.port:
        problem = ("needs the ops server, which is off (server.port is 0 or null); set "
                   "server.port")
    else:
        return
    raw = raws["public_url"]
    raise config_error(raw.where, raw.line, "server.public_url",
                       f"{redact_url(url)} {problem}")


def _check_schedule(schedule: ScheduleConfig, raws: dict[str, RawSetting]) -> None:
    """min_interval <= interval <= max_interval; blame a value that was set."""
    lo, mid, hi = schedule.min_interval, schedule.interval, schedule.max_interval
    if lo > hi:
        blame = (("max_interval", "below", "min_interval") if "max_interval" in raws
                 else ("min_interval", "above", "max_interval"))
    elif mid < lo:
        blame = (("interval", "below", "min_interval") if "interval" in raws
                 else ("min_interval", "above", "interval"))
    elif mid > hi:
        blame = (("interval", "above", "max_interval") if "interval" in raws
                 else ("max_interval", "below", "interval"))
    else:
        return
    key, relation, other = blame
    raw = raws[key]
    raise config_error(raw.where, raw.line, f"schedule.{key}",
                       f"{format_duration(getattr(schedule, key))} is {relation} "
                       f"schedule.{other} ({format_duration(getattr(schedule, other))}); "
                       "min_interval <= interval <= max_interval must hold")
