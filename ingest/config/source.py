"""Where a setting came from, and how a problem with it is worded.

A config is read with ruamel's safe loader first: libyaml when ruamel.yaml.clib is
installed, much quicker than the round-trip loader on a long feed list, but its
plain dicts and lists know no lines. Only when that reading fails (a problem in the
file, or syntax that libyaml, which keeps YAML 1.1's, does not take) is the file
read again with the round-trip loader, whose mappings and lists know the line of
each key and item (see `ingest.config.load.load_config`). An environment override carries
its variable's name instead of a line. Every problem becomes one ConfigError:
``config.yaml:14: feeds[3].url: problem`` or ``env INGEST_HTTP_TIMEOUT: http.timeout: problem``.
The file is read whole up to _MAX_CHARS characters, with the bounded readers of
`ingest.config.yaml_reader`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import TaggedScalar

from ingest.config.yaml_reader import (
    TOO_DEEP,
    TooDeep,
    UnreadableValue,
    round_trip_reader,
    safe_load,
    tag_name,
    yaml_problem,
)
from ingest.errors import ConfigError
from ingest.units import short_repr

_MAX_CHARS = 10_000_000  # far past a real config (a line or two per feed)


class BadValue(ValueError):
    """A bad value. ``sub`` extends the key path; ``line`` (0-based) moves the blame."""

    def __init__(self, problem: str, sub: str = "", line: int | None = None) -> None:
        super().__init__(problem)
        self.sub, self.line = sub, line


def describe_value(value: Any) -> str:
    """How a YAML value reads in a message: ``null``, ``a list``, ``text 'yes'``."""
    if value is None:
        return "null"
    if isinstance(value, UnreadableValue):
        return str(value)
    if isinstance(value, TaggedScalar):  # an explicit tag the loader keeps as written
        return f"a value tagged {tag_name(value.tag)} ({short_repr(value.value)})"
    collection = _collection_kind(value)
    if collection:
        return f"a {collection}" if value else f"an empty {collection}"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, date):  # a timestamp or date, unquoted
        return f"a date {value}"
    kind = {int: "an integer", float: "a number", str: "text", bytes: "binary data"}
    name = next((v for t, v in kind.items() if isinstance(value, t)), None)
    if name is None:
        return f"a value of type {type(value).__name__}"
    shown = short_repr(value)
    return shown if shown.startswith("a number of") else f"{name} {shown}"


def _collection_kind(value: Any) -> str:
    """'mapping', 'list' or 'set' (``!!set``); '' for a scalar. A list used as a key
    loads as a tuple."""
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return "set" if isinstance(value, AbstractSet) else ""


def key_line(node: Mapping, key: Any) -> int | None:
    """0-based line of ``key`` in a loaded mapping; None if it was read without lines.
    A key merged in with ``<<:`` has no line of its own: the mapping's is given."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        return lc.key(key)[0]
    except KeyError:
        return lc.line


def item_line(seq: list, index: int) -> int | None:
    """0-based line of item ``index`` of a loaded list; None if it was read without lines."""
    lc = getattr(seq, "lc", None)
    return None if lc is None else lc.item(index)[0]


def config_error(where: str, line: int | None, key: str, problem: str) -> ConfigError:
    """``where:line: key: problem`` (``line`` 0-based; None leaves it out)."""
    prefix = where if line is None else f"{where}:{line + 1}"
    return ConfigError(f"{prefix}: {key}: {problem}" if key else f"{prefix}: {problem}")


@dataclass(frozen=True)
class RawSetting:
    """One setting as written: the value, its file (or ``env NAME``) and line."""

    value: Any
    where: str
    line: int | None  # 0-based; None for environment variables
    base: Path | None  # folder for relative paths; None = current directory

    def convert(self, key: str, check: Callable[[Any], Any]) -> Any:
        """The value checked by ``check``; a bad one raises ConfigError naming ``key``."""
        try:
            value = check(self.value)
        except ValueError as exc:
            sub, line = (exc.sub, exc.line) if isinstance(exc, BadValue) else ("", None)
            line = self.line if line is None or self.line is None else line
            raise config_error(self.where, line, key + sub, str(exc)) from None
        return resolve_path(value, self.base) if isinstance(value, Path) else value


def resolve_path(path: Path, base: Path | None) -> Path:
    return Path(os.path.abspath(path if base is None else base / path))


def read_text(file: Path, label: str) -> str:
    """The text of ``file``; ``label`` is how messages name the file."""
    try:
        with open(file, encoding="utf-8-sig") as fh:
            text = fh.read(_MAX_CHARS + 1)  # a device or a wrong file is not read whole
    except FileNotFoundError:
        raise ConfigError(f"{label}: config file not found (looked for {file})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read the config file: {exc}") from exc
    if len(text) > _MAX_CHARS:
        raise ConfigError(f"{label}: the config file is longer than {_MAX_CHARS:,} characters; "
                          "is it the right file?")
    return text


def parse_yaml(text: str, label: str, *, lines: bool) -> dict:
    """The top-level mapping of ``text``. ``lines=True``: the round-trip loader, whose
    mappings and lists know their lines; ``lines=False``: the quick safe loader."""
    try:
        top = round_trip_reader().load(text) if lines else safe_load(text)
    except TooDeep as exc:
        mark = exc.problem_mark
        raise config_error(label, mark.line if mark else None, "", TOO_DEEP) from exc
    except Exception as exc:  # a YAMLError, or the library's own failure
        line, problem = yaml_problem(exc)
        raise config_error(label, line, "", f"YAML syntax error: {problem}") from exc
    if top is None:
        raise ConfigError(f"{label}:1: the config file is empty; it needs at least 'feeds:'")
    if not isinstance(top, dict):
        raise ConfigError(f"{label}:1: expected a mapping of settings at the top, "
                          f"got {describe_value(top)}")
    return top


def reject_unknown_keys(node: dict, allowed: Any, label: str, path: str) -> None:
    """Raise ConfigError on the first key of ``node`` not in ``allowed``, with a hint."""
    for key in node:
        line = key_line(node, key)
        if not isinstance(key, str):
            raise config_error(label, line, path or "top level",
                               f"keys must be text, got {describe_value(key)}")
        if key not in allowed:
            near = closest_match(key, allowed) if len(key) < 100 else None
            hint = f"did you mean {near!r}?" if near else f"expected one of: {', '.join(allowed)}"
            shown = key if len(key) <= 60 and key.isprintable() else short_repr(key)
            raise config_error(label, line, f"{path}.{shown}" if path else shown,
                               f"unknown key; {hint}")


def closest_match(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` is most likely a misspelling of, for a "did you mean" hint;
    None if none is close. Callers bound the length of ``word`` (the work grows with it)."""
    near = difflib.get_close_matches(word, list(options), n=1)
    return near[0] if near else None
