"""Load and validate config.yaml (+ INGEST_* environment overrides) into a frozen Config.

Every problem is a ConfigError whose message names the file, the line and the
key: ``config.yaml:14: feeds[3].url: not an http(s) URL``; a bad environment
variable is named instead of a line: ``env INGEST_HTTP_TIMEOUT: http.timeout: ...``.

Flow: read YAML (ruamel round-trip, so nodes know their lines) -> reject
unknown keys -> collect each setting as a ``_Raw`` (value + where it came
from) -> let ``INGEST_<SECTION>_<KEY>`` replace file values -> check and
convert each value with its ``_Field`` -> build the frozen dataclasses.
Relative paths resolve against the config file's folder (env: the cwd).
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ingest import USER_AGENT
from ingest.errors import ConfigError
from ingest.models import Feed
from ingest.units import format_duration, parse_duration, parse_size
from ingest.urls import normalize_url

__all__ = [
    "Config", "OutputConfig", "StateConfig", "HttpConfig", "ExtractConfig", "FootersConfig",
    "ScheduleConfig", "ServerConfig", "load_config", "effective_config", "parse_duration",
    "parse_size",
]


@dataclass(frozen=True)
class OutputConfig:
    dir: Path
    partition: str = "day"  # "day" | "none"


@dataclass(frozen=True)
class StateConfig:
    path: Path
    lock_timeout: float = 30.0  # seconds to wait for another ingest process
    max_attempts: int = 5  # transient failures of one article before giving up
    retention: float = 180 * 86400.0  # seconds a seen mark is kept


@dataclass(frozen=True)
class HttpConfig:
    timeout: float = 20.0
    user_agent: str = USER_AGENT
    allow_private_networks: bool = False
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    max_feed_bytes: int = 10_000_000
    max_page_bytes: int = 5_000_000
    max_redirects: int = 5
    max_connections: int = 20


@dataclass(frozen=True)
class ExtractConfig:
    workers: int = 0  # 0 = one per CPU
    min_feed_text: int = 200  # characters of feed content that may stand in for a page


@dataclass(frozen=True)
class FootersConfig:
    learn: bool = True
    min_count: int = 3  # K: articles of one site a line must recur in
    sites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # host -> regexes


@dataclass(frozen=True)
class ScheduleConfig:
    interval: float = 900.0
    min_interval: float = 120.0
    max_interval: float = 21600.0
    concurrency: int = 16  # feeds polled at once
    failing_after: int = 5  # consecutive failures before a feed is flagged failing
    shutdown_grace: float = 20.0


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int | None = 8080


@dataclass(frozen=True)
class Config:
    path: Path
    feeds: tuple[Feed, ...]
    output: OutputConfig
    state: StateConfig
    http: HttpConfig = HttpConfig()
    extract: ExtractConfig = ExtractConfig()
    footers: FootersConfig = FootersConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    server: ServerConfig = ServerConfig()


# --- value checks: a raw YAML value in, a typed value out, or _Bad ----------


class _Bad(ValueError):
    """A bad value. ``sub`` extends the key path; ``line`` (0-based) moves the blame."""

    def __init__(self, problem: str, sub: str = "", line: int | None = None) -> None:
        super().__init__(problem)
        self.sub, self.line = sub, line


def _got(value: Any) -> str:
    """How a YAML value reads in a message: ``null``, ``a list``, ``text 'yes'``."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        kind = "mapping" if isinstance(value, dict) else "list"
        return f"a {kind}" if value else f"an empty {kind}"
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "text"}
    name = next((v for t, v in kind.items() if isinstance(value, t)), type(value).__name__)
    return f"{name} {str(value).lower() if isinstance(value, bool) else repr(value)}"


def _scalar(value: Any, expected: str) -> Any:
    if value is None or isinstance(value, (bool, dict, list)):
        raise _Bad(f"expected {expected}, got {_got(value)}")
    return value


def _duration(positive: bool = True) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        seconds = parse_duration(_scalar(value, "a duration"))
        if positive and seconds <= 0:
            raise _Bad(f"must be more than 0 seconds, got {value!r}")
        return seconds
    return check


def _integer(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected an integer, got {_got(value)}")
        if value < minimum:
            raise _Bad(f"must be {minimum} or more, got {value}")
        return int(value)
    return check


def _size(value: Any) -> int:
    size = parse_size(_scalar(value, "a size"))
    if size <= 0:
        raise _Bad(f"must be more than 0 bytes, got {value!r}")
    return size


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_got(value)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected non-empty text, got {_got(value)}")
    if not value.isprintable():
        raise _Bad(f"must be one line of printable text, got {value!r}")
    return str(value).strip()


def _path(value: Any) -> Path:
    return Path(_text(value)).expanduser()  # made absolute by _Raw.convert


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise _Bad(f"expected one of {', '.join(options)}; got {_got(value)}")
        return str(value)
    return check


def _port(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not 0 <= value <= 65535):
        raise _Bad(f"expected a port 1-65535, or 0 or null for no server; got {_got(value)}")
    return int(value) if value else None  # 0 and null both mean "no server"


def _sites(value: Any) -> dict[str, tuple[str, ...]]:
    """``footers.sites``: host -> regexes, hosts lower-cased and without ``www.``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"expected a mapping of host name to list of patterns, got {_got(value)}")
    sites: dict[str, tuple[str, ...]] = {}
    for host, patterns in value.items():
        line = _key_line(value, host)
        site = str(host).strip().lower().removeprefix("www.")
        if not isinstance(host, str) or not site or re.search(r"[/:\s]", site):
            raise _Bad(f"expected a host name such as 'ansa.it', got {_got(host)}",
                       f".{host}", line)
        if site in sites:
            raise _Bad(f"site {site!r} is listed twice", f".{host}", line)
        sites[site] = _patterns(patterns, f".{host}", line)
    return sites


def _patterns(value: Any, sub: str, line: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad(f"expected a list of regular expressions, got {_got(value)}", sub, line)
    for i, pattern in enumerate(value):
        where = (f"{sub}[{i}]", value.lc.item(i)[0])
        if not isinstance(pattern, str):
            raise _Bad(f"expected a regular expression, got {_got(pattern)}", *where)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise _Bad(f"not a valid regular expression: {exc}", *where) from None
        if compiled.fullmatch(""):
            raise _Bad(f"{pattern!r} matches an empty line, so it would match every line",
                       *where)
    return tuple(str(p) for p in value)


def _url(value: Any) -> str:
    url = _text(value)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        raise _Bad(f"not an http(s) URL: {url!r}; write it like https://example.com/rss.xml")
    return url


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad(f"expected a list of tags, got {_got(value)}")
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip() or not tag.isprintable():
            raise _Bad(f"expected a tag (one line of text), got {_got(tag)}",
                       f"[{i}]", value.lc.item(i)[0])
    return tuple(str(tag).strip() for tag in value)


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


# --- the schema: section -> (dataclass, key -> _Field) -------------------------


@dataclass(frozen=True)
class _Field:
    check: Callable[[Any], Any]
    env: str = "yaml"  # INGEST_* value: "yaml" scalar, "raw" text as is, "" not allowed
    default: str | None = None  # a default path, resolved against the config folder


_SECTIONS: dict[str, tuple[type, dict[str, _Field]]] = {
    "output": (OutputConfig, {
        "dir": _Field(_path, "raw", default="data"),
        "partition": _Field(_choice("day", "none"), "raw"),
    }),
    "state": (StateConfig, {
        "path": _Field(_path, "raw", default="data/state.sqlite"),
        "lock_timeout": _Field(_duration(positive=False)),
        "max_attempts": _Field(_integer(1)),
        "retention": _Field(_duration()),
    }),
    "http": (HttpConfig, {
        "timeout": _Field(_duration()),
        "user_agent": _Field(_text, "raw"),
        "allow_private_networks": _Field(_boolean),
        "per_host_concurrency": _Field(_integer(1)),
        "per_host_delay": _Field(_duration(positive=False)),
        "max_feed_bytes": _Field(_size),
        "max_page_bytes": _Field(_size),
        "max_redirects": _Field(_integer(0)),
        "max_connections": _Field(_integer(1)),
    }),
    "extract": (ExtractConfig, {
        "workers": _Field(_integer(0)),
        "min_feed_text": _Field(_integer(0)),
    }),
    "footers": (FootersConfig, {
        "learn": _Field(_boolean),
        "min_count": _Field(_integer(1)),
        "sites": _Field(_sites, ""),
    }),
    "schedule": (ScheduleConfig, {
        "interval": _Field(_duration()),
        "min_interval": _Field(_duration()),
        "max_interval": _Field(_duration()),
        "concurrency": _Field(_integer(1)),
        "failing_after": _Field(_integer(1)),
        "shutdown_grace": _Field(_duration(positive=False)),
    }),
    "server": (ServerConfig, {
        "host": _Field(_text, "raw"),
        "port": _Field(_port),
    }),
}
_FEED_FIELDS = {
    "url": _url, "name": _optional(_text), "interval": _optional(_duration()), "tags": _tags,
}
_ENV_PREFIX = "INGEST_"
_ENV_RESERVED = frozenset({"INGEST_CONFIG"})  # read by the CLI, not a setting


# --- where a value came from ---------------------------------------------------


def _key_line(node: dict, key: Any) -> int:
    """0-based line of ``key`` in a loaded mapping (keys merged with ``<<:`` lack one)."""
    try:
        return node.lc.key(key)[0]
    except KeyError:
        return node.lc.line


def _error(where: str, line: int | None, key: str, problem: str) -> ConfigError:
    prefix = where if line is None else f"{where}:{line + 1}"
    return ConfigError(f"{prefix}: {key}: {problem}" if key else f"{prefix}: {problem}")


@dataclass(frozen=True)
class _Raw:
    """One setting as written: the value, its file (or ``env NAME``) and line."""

    value: Any
    where: str
    line: int | None  # 0-based; None for environment variables
    base: Path | None  # folder for relative paths; None = current directory

    def convert(self, key: str, check: Callable[[Any], Any]) -> Any:
        try:
            value = check(self.value)
        except ValueError as exc:
            sub, line = (exc.sub, exc.line) if isinstance(exc, _Bad) else ("", None)
            line = self.line if line is None or self.line is None else line
            raise _error(self.where, line, key + sub, str(exc)) from None
        return _resolve(value, self.base) if isinstance(value, Path) else value


def _resolve(path: Path, base: Path | None) -> Path:
    return Path(os.path.abspath(path if base is None else base / path))


# --- loading -------------------------------------------------------------------


def load_config(path: str | os.PathLike, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path``, apply ``INGEST_*`` overrides from ``env`` and validate.

    Raises ConfigError (one message: ``file:line: key: problem``) on the first problem.
    """
    label = os.fspath(path)
    file = Path(os.path.abspath(label))
    top = _read_yaml(file, label)
    _check_keys(top, ("feeds", *_SECTIONS), label, "")
    feeds = _load_feeds(top, label)
    raws = {name: _section_raws(top, name, label, file.parent) for name in _SECTIONS}
    _apply_env(raws, os.environ if env is None else env)
    sections = {name: _build_section(name, raws[name], file.parent) for name in _SECTIONS}
    _check_schedule(sections["schedule"], raws["schedule"])
    return Config(path=file, feeds=feeds, **sections)


def _read_yaml(file: Path, label: str) -> dict:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{label}: config file not found (looked for {file})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read the config file: {exc}") from exc
    try:
        top = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise ConfigError(f"{label}{_yaml_problem(exc)}") from exc
    except YAMLError as exc:
        raise ConfigError(f"{label}: YAML syntax error: {' '.join(str(exc).split())}") from exc
    if top is None:
        raise ConfigError(f"{label}:1: the config file is empty; it needs at least 'feeds:'")
    if not isinstance(top, dict):
        raise ConfigError(f"{label}:1: expected a mapping of settings at the top, "
                          f"got {_got(top)}")
    return top


def _yaml_problem(exc: MarkedYAMLError) -> str:
    """``:LINE: YAML syntax error: problem (context on line N)`` on one line."""
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    text = exc.problem or exc.context or "unreadable YAML"
    if exc.problem and exc.context and context and mark and context.line != mark.line:
        text += f" ({exc.context} on line {context.line + 1})"
    return f"{f':{mark.line + 1}' if mark else ''}: YAML syntax error: {' '.join(text.split())}"


def _check_keys(node: dict, allowed: Any, label: str, path: str) -> None:
    for key in node:
        line = _key_line(node, key)
        if not isinstance(key, str):
            raise _error(label, line, path or "top level", f"keys must be text, got {_got(key)}")
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = (f"did you mean {near[0]!r}?" if near
                    else f"expected one of: {', '.join(allowed)}")
            raise _error(label, line, f"{path}.{key}" if path else key, f"unknown key; {hint}")


def _section_raws(top: dict, name: str, label: str, base: Path) -> dict[str, _Raw]:
    node = top.get(name)
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise _error(label, _key_line(top, name), name, f"expected a mapping, got {_got(node)}")
    _check_keys(node, _SECTIONS[name][1], label, name)
    return {key: _Raw(value, label, _key_line(node, key), base) for key, value in node.items()}


def _build_section(name: str, raws: dict[str, _Raw], base: Path) -> Any:
    cls, schema = _SECTIONS[name]
    values = {key: raw.convert(f"{name}.{key}", schema[key].check) for key, raw in raws.items()}
    for key, spec in schema.items():
        if key not in values and spec.default is not None:
            values[key] = _resolve(Path(spec.default), base)
    return cls(**values)


def _check_schedule(schedule: ScheduleConfig, raws: dict[str, _Raw]) -> None:
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
    raise _error(raw.where, raw.line, f"schedule.{key}",
                 f"{format_duration(getattr(schedule, key))} is {relation} schedule.{other} "
                 f"({format_duration(getattr(schedule, other))}); "
                 "min_interval <= interval <= max_interval must hold")


# --- feeds ---------------------------------------------------------------------


@dataclass(frozen=True)
class _FeedDraft:
    path: str  # "feeds[3]"
    values: dict[str, Any]
    raws: dict[str, _Raw]


def _load_feeds(top: dict, label: str) -> tuple[Feed, ...]:
    if "feeds" not in top:
        raise ConfigError(f"{label}:1: feeds: missing; add a list of feeds such as "
                          "'feeds: [{url: https://example.com/rss.xml}]'")
    node = top["feeds"]
    if not isinstance(node, list) or not node:
        raise _error(label, _key_line(top, "feeds"), "feeds",
                     f"expected a non-empty list of feeds, got {_got(node)}")
    drafts = [_feed_draft(node, i, label) for i in range(len(node))]
    _check_unique(drafts, "url", normalize_url, "is the same feed as")
    _check_unique(drafts, "name", str.casefold, "is already the name of")
    names = _feed_names(drafts)
    return tuple(Feed(name, d.values["url"], d.values.get("interval"), d.values.get("tags", ()))
                 for name, d in zip(names, drafts))


def _feed_draft(seq: list, i: int, label: str) -> _FeedDraft:
    node, line, path = seq[i], seq.lc.item(i)[0], f"feeds[{i}]"
    if not isinstance(node, dict):
        raise _error(label, line, path, "expected a mapping such as "
                     f"'{{url: https://example.com/rss.xml}}', got {_got(node)}")
    _check_keys(node, _FEED_FIELDS, label, path)
    if "url" not in node:
        raise _error(label, line, path, "missing url")
    raws = {key: _Raw(value, label, _key_line(node, key), None) for key, value in node.items()}
    values = {key: raw.convert(f"{path}.{key}", _FEED_FIELDS[key]) for key, raw in raws.items()}
    return _FeedDraft(path, values, raws)


def _check_unique(drafts: list[_FeedDraft], key: str, norm: Callable[[str], str],
                  clash: str) -> None:
    first: dict[str, _FeedDraft] = {}
    for draft in drafts:
        value = draft.values.get(key)
        earlier = first.setdefault(norm(value), draft) if value is not None else draft
        if earlier is not draft:
            raw = draft.raws[key]
            raise _error(raw.where, raw.line, f"{draft.path}.{key}",
                         f"{value!r} {clash} {earlier.path} (line {earlier.raws[key].line + 1})")


def _feed_names(drafts: list[_FeedDraft]) -> list[str]:
    """Given names, else one derived from the URL, made unique with -2, -3..."""
    taken = {d.values["name"].casefold() for d in drafts if d.values.get("name")}
    names = []
    for draft in drafts:
        name = draft.values.get("name")
        if name is None:
            stem = name = _derive_name(draft.values["url"])
            for n in itertools.count(2):
                if name.casefold() not in taken:
                    break
                name = f"{stem}-{n}"
            taken.add(name.casefold())
        names.append(name)
    return names


def _derive_name(url: str) -> str:
    """``https://www.ansa.it/sito/topnews_rss.xml`` -> ``ansa.it-sito-topnews_rss.xml``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    host += f"-{parts.port}" if parts.port else ""
    rest = re.sub(r"[^\w.]+", "-", f"{parts.path}?{parts.query}").strip("-.")
    return f"{host}-{rest}" if rest else host


# --- environment ---------------------------------------------------------------

_ENV_NAMES = {f"{_ENV_PREFIX}{section.upper()}_{key.upper()}": (section, key)
              for section, (_, schema) in _SECTIONS.items()
              for key, spec in schema.items() if spec.env}


def _apply_env(raws: dict[str, dict[str, _Raw]], env: Mapping[str, str]) -> None:
    """Let ``INGEST_<SECTION>_<KEY>`` replace the file's ``section.key``."""
    for name in sorted(env):
        if name.startswith(_ENV_PREFIX) and name not in _ENV_RESERVED:
            section, key = _env_target(name)
            value = _env_value(name, env[name], section, key)
            raws[section][key] = _Raw(value, f"env {name}", None, None)


def _env_target(name: str) -> tuple[str, str]:
    if name.upper() in _ENV_NAMES:
        return _ENV_NAMES[name.upper()]
    section, _, key = name[len(_ENV_PREFIX):].lower().partition("_")
    if section == "feeds" or key in _SECTIONS.get(section, (None, {}))[1]:
        what = f"{section}.{key}" if key else section
        raise ConfigError(f"env {name}: {what} can only be set in the config file")
    suffixes = [known[len(_ENV_PREFIX):] for known in _ENV_NAMES]
    near = difflib.get_close_matches(name[len(_ENV_PREFIX):].upper(), suffixes, n=1)
    hint = (f"did you mean {_ENV_PREFIX}{near[0]}?" if near else
            "names are INGEST_<SECTION>_<KEY> for a setting of the config file")
    raise ConfigError(f"env {name}: unknown setting; {hint}")


def _env_value(name: str, text: str, section: str, key: str) -> Any:
    """Text settings are taken as is; others are read as one YAML scalar."""
    if _SECTIONS[section][1][key].env == "raw":
        return text
    try:
        value = YAML(typ="rt").load(text)
    except YAMLError:
        value = [text]  # not one scalar either
    if isinstance(value, (dict, list)):
        raise ConfigError(f"env {name}: {section}.{key}: expected a single value, got {text!r}")
    return value


# --- reporting -----------------------------------------------------------------


def effective_config(cfg: Config) -> dict:
    """Every effective value as plain data (paths as text, durations in seconds)."""
    return _plain(cfg)


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
