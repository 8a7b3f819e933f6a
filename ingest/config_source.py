"""Where a setting came from, and how a problem with it is worded.

A config is read with ruamel's safe loader first: libyaml when ruamel.yaml.clib is
installed, ~10× quicker than the round-trip loader for a long feed list, but its
plain dicts and lists know no lines. Only when that reading fails (a problem in the
file, or syntax that libyaml, which keeps YAML 1.1's, does not take) is the file
read again with the round-trip loader, whose mappings and lists know the line of
each key and item (see `config.load_config`). An environment override carries
its variable's name instead of a line. Every problem becomes one ConfigError:
``config.yaml:14: feeds[3].url: problem`` or ``env INGEST_HTTP_TIMEOUT: http.timeout: problem``.

Reading is bounded, whatever the text: at most _MAX_CHARS characters, and values
nested at most _MAX_DEPTH deep (a config needs 5: ``footers.sites.<host>[i]``),
checked before libyaml's composer, which recurses in C without a limit and crashes
the process on a deep enough text. A scalar its tag cannot build (``!!int abc``, a
5,000-digit number) loads as an UnreadableValue, which its setting's check refuses
naming the key; a mapping that cannot be built (merged into itself) is an error at
its line. Whatever else the YAML library raises on the text is a ConfigError.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scanner import RoundTripScanner

from ingest.errors import ConfigError
from ingest.units import short_repr

_MAX_CHARS = 10_000_000  # a config with 100,000 feeds is under 8 million
_MAX_DEPTH = 20
_TOO_DEEP = (f"values nested more than {_MAX_DEPTH} levels deep; a config needs at most 5. "
             "Check the brackets and the indentation")
_YAML_TAGS = "tag:yaml.org,2002:"


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
        return f"a value tagged {str(value.tag).replace(_YAML_TAGS, '!!')} " \
               f"({short_repr(value.value)})"
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
        if lines:
            top = round_trip_reader().load(text)
        else:
            _refuse_deep_nesting(text)
            top = YAML(typ="safe").load(text)
    except _TooDeep as exc:
        mark = exc.problem_mark
        raise ConfigError(f"{label}{f':{mark.line + 1}' if mark else ''}: {_TOO_DEEP}") from exc
    except Exception as exc:  # a YAMLError, or the library's own failure
        line, problem = yaml_problem(exc)
        raise ConfigError(f"{label}{'' if line is None else f':{line}'}: "
                          f"YAML syntax error: {problem}") from exc
    if top is None:
        raise ConfigError(f"{label}:1: the config file is empty; it needs at least 'feeds:'")
    if not isinstance(top, dict):
        raise ConfigError(f"{label}:1: expected a mapping of settings at the top, "
                          f"got {describe_value(top)}")
    return top


def yaml_problem(exc: Exception) -> tuple[int | None, str]:
    """The 1-based line (None if unknown) and one line of text for an error of the YAML
    library: ``problem (context on line N)``."""
    if not isinstance(exc, MarkedYAMLError):
        text = " ".join(str(exc).split())
        return None, text if isinstance(exc, YAMLError) else f"{type(exc).__name__}: {text}"
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    text = exc.problem or exc.context or "unreadable YAML"
    if exc.problem and exc.context and context and mark and context.line != mark.line:
        text += f" ({exc.context} on line {context.line + 1})"
    return (mark.line + 1 if mark else None), " ".join(text.split())


def _refuse_deep_nesting(text: str) -> None:
    """_TooDeep at the first collection nested past _MAX_DEPTH, as libyaml's parser
    (iterative, unlike its composer) reads the text."""
    depth = 0
    for event in _events_until_an_error(text):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                raise _TooDeep(None, None, _TOO_DEEP, event.start_mark)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _events_until_an_error(text: str) -> Iterator[Any]:
    """libyaml's parse events of ``text``, up to a syntax error if there is one: the loader
    stops at the same place."""
    with contextlib.suppress(YAMLError):
        yield from YAML(typ="safe").parse(text)


def round_trip_reader(*, strict: bool = False) -> YAML:
    """ruamel's round-trip loader, bounded as the module docstring says. A scalar that its
    tag cannot build loads as an UnreadableValue, which the check of its setting refuses
    naming the key; ``strict``: it is a YAML error at its line instead."""
    yaml = _QuietYAML(typ="rt")
    yaml.Scanner, yaml.Composer = _BoundedScanner, _BoundedComposer
    yaml.Constructor = _StrictConstructor if strict else _LenientConstructor
    return yaml


class _QuietYAML(YAML):
    """Without ruamel's warning on an anchor defined twice (YAML allows it; the later one
    counts): printed on stderr, its lines would come before the one-line error."""

    def load(self, stream: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            return super().load(stream)


@dataclass(frozen=True)
class UnreadableValue:
    """A scalar that its tag's constructor failed on: ``!!int abc``, 5,000 digits."""

    text: str
    tag: str  # "!!int"
    reason: str  # why, or ""

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"{short_repr(self.text)}, which cannot be read as {self.tag}{reason}"


class _TooDeep(MarkedYAMLError):
    """A value nested past _MAX_DEPTH."""


class _BoundedScanner(RoundTripScanner):
    """Refuses a bracket nested past _MAX_DEPTH as it is read: at every open bracket the
    scanner looks ahead for a key, work that grows with the square of the depth."""

    def fetch_flow_sequence_start(self) -> None:
        self._refuse_deeper_brackets()
        super().fetch_flow_sequence_start()

    def fetch_flow_mapping_start(self) -> None:
        self._refuse_deeper_brackets()
        super().fetch_flow_mapping_start()

    def _refuse_deeper_brackets(self) -> None:
        if self.flow_level >= _MAX_DEPTH:
            raise _TooDeep(None, None, _TOO_DEEP, self.reader.get_mark())


class _BoundedComposer(Composer):
    """Refuses a node nested past _MAX_DEPTH before it composes it: composing recurses."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._nesting = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nesting += 1
        try:
            if self._nesting > _MAX_DEPTH:
                raise _TooDeep(None, None, _TOO_DEEP, self.parser.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1


class _StrictConstructor(RoundTripConstructor):
    """A value that its constructor cannot build is a YAML error at its line."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - any constructor's; the innermost node is blamed
            return self.unbuildable(node, exc)

    def construct_document(self, node: Any) -> Any:
        try:
            return super().construct_document(node)
        except YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - the top mapping is finished here
            return _StrictConstructor.unbuildable(self, node, exc)

    def unbuildable(self, node: Any, exc: Exception) -> Any:
        if isinstance(node, ScalarNode):
            value = _unreadable(node, exc)
            problem = f"cannot read {short_repr(value.text)} as {value.tag}" + (
                f" ({value.reason})" if value.reason else "")
        else:
            problem = (f"cannot build this {_tag(node)} value; check the aliases (*name) "
                       "and merge keys (<<) in it")
        raise ConstructorError(None, None, problem, node.start_mark) from exc


class _LenientConstructor(_StrictConstructor):
    """A scalar that its constructor cannot build loads as an UnreadableValue."""

    def unbuildable(self, node: Any, exc: Exception) -> Any:
        if not isinstance(node, ScalarNode):
            return super().unbuildable(node, exc)
        self.recursive_objects.pop(node, None)  # left by the failed construction; an alias
        value = self.constructed_objects[node] = _unreadable(node, exc)  # to it reads the same
        return value


def _tag(node: Any) -> str:
    return str(node.tag).replace(_YAML_TAGS, "!!")


def _unreadable(node: Any, exc: Exception) -> UnreadableValue:
    text = str(node.value)
    if text.lstrip("+-").replace("_", "").isdigit() and len(text) > 100:
        reason = f"{len(text)} digits is far more than any setting accepts"
    else:
        reason = " ".join(str(exc).split()) if isinstance(exc, ValueError) else ""
    return UnreadableValue(text, _tag(node), reason)


def reject_unknown_keys(node: dict, allowed: Any, label: str, path: str) -> None:
    """Raise ConfigError on the first key of ``node`` not in ``allowed``, with a hint."""
    for key in node:
        line = key_line(node, key)
        if not isinstance(key, str):
            raise config_error(label, line, path or "top level",
                               f"keys must be text, got {describe_value(key)}")
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1) if len(key) < 100 else []
            hint = (f"did you mean {near[0]!r}?" if near
                    else f"expected one of: {', '.join(allowed)}")
            shown = key if len(key) <= 60 and key.isprintable() else short_repr(key)
            raise config_error(label, line, f"{path}.{shown}" if path else shown,
                               f"unknown key; {hint}")
