"""Where a setting came from, and how a problem with it is worded.

A config is read with ruamel's safe loader first: libyaml when ruamel.yaml.clib is
installed, ~10× quicker than the round-trip loader for a long feed list, but its
plain dicts and lists know no lines. Only when that reading fails (a problem in the
file, or syntax that libyaml, which keeps YAML 1.1's, does not take) is the file
read again with the round-trip loader, whose mappings and lists know the line of
each key and item (see `config.load_config`). An environment override carries
its variable's name instead of a line. Every problem becomes one ConfigError:
``config.yaml:14: feeds[3].url: problem`` or ``env INGEST_HTTP_TIMEOUT: http.timeout: problem``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ingest.errors import ConfigError


class BadValue(ValueError):
    """A bad value. ``sub`` extends the key path; ``line`` (0-based) moves the blame."""

    def __init__(self, problem: str, sub: str = "", line: int | None = None) -> None:
        super().__init__(problem)
        self.sub, self.line = sub, line


def describe_value(value: Any) -> str:
    """How a YAML value reads in a message: ``null``, ``a list``, ``text 'yes'``."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        kind = "mapping" if isinstance(value, dict) else "list"
        return f"a {kind}" if value else f"an empty {kind}"
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "text"}
    name = next((v for t, v in kind.items() if isinstance(value, t)), type(value).__name__)
    return f"{name} {str(value).lower() if isinstance(value, bool) else repr(value)}"


def key_line(node: dict, key: Any) -> int | None:
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
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{label}: config file not found (looked for {file})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read the config file: {exc}") from exc


def parse_yaml(text: str, label: str, *, lines: bool) -> dict:
    """The top-level mapping of ``text``. ``lines=True``: the round-trip loader, whose
    mappings and lists know their lines; ``lines=False``: the quick safe loader."""
    try:
        top = YAML(typ="rt" if lines else "safe").load(text)
    except MarkedYAMLError as exc:
        raise ConfigError(f"{label}{_yaml_problem(exc)}") from exc
    except YAMLError as exc:
        raise ConfigError(f"{label}: YAML syntax error: {' '.join(str(exc).split())}") from exc
    if top is None:
        raise ConfigError(f"{label}:1: the config file is empty; it needs at least 'feeds:'")
    if not isinstance(top, dict):
        raise ConfigError(f"{label}:1: expected a mapping of settings at the top, "
                          f"got {describe_value(top)}")
    return top


def _yaml_problem(exc: MarkedYAMLError) -> str:
    """``:LINE: YAML syntax error: problem (context on line N)`` on one line."""
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    text = exc.problem or exc.context or "unreadable YAML"
    if exc.problem and exc.context and context and mark and context.line != mark.line:
        text += f" ({exc.context} on line {context.line + 1})"
    return f"{f':{mark.line + 1}' if mark else ''}: YAML syntax error: {' '.join(text.split())}"


def reject_unknown_keys(node: dict, allowed: Any, label: str, path: str) -> None:
    """Raise ConfigError on the first key of ``node`` not in ``allowed``, with a hint."""
    for key in node:
        line = key_line(node, key)
        if not isinstance(key, str):
            raise config_error(label, line, path or "top level",
                               f"keys must be text, got {describe_value(key)}")
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = (f"did you mean {near[0]!r}?" if near
                    else f"expected one of: {', '.join(allowed)}")
            raise config_error(label, line, f"{path}.{key}" if path else key,
                               f"unknown key; {hint}")
