"""The YAML library (ruamel.yaml), bounded: a config's text read without any input
crashing the process, stalling it or raising anything but the library's own errors.

Values are nested at most _MAX_DEPTH deep (a config needs 5: ``footers.sites.<host>[i]``),
checked before libyaml's composer, which recurses in C without a limit and crashes the
process on a deep enough text, and as the round-trip scanner and composer read. A scalar
its tag cannot build (``!!int abc``, a 5,000-digit number) loads as an UnreadableValue,
which its setting's check refuses naming the key (`round_trip_reader`; ``strict``: a
YAML error at its line); a mapping that cannot be built (merged into itself) is an error
at its line.

`ingest.config.source` reads the file with these and turns every error into a ConfigError.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scanner import RoundTripScanner

from ingest.units import short_repr

_MAX_DEPTH = 20
TOO_DEEP = (f"values nested more than {_MAX_DEPTH} levels deep; a config needs at most 5. "
            "Check the brackets and the indentation")
_YAML_TAGS = "tag:yaml.org,2002:"


def yaml_problem(exc: Exception) -> tuple[int | None, str]:
    """The 0-based line (None if unknown) and one line of text for an error of the YAML
    library: ``problem (context on line N)``."""
    if not isinstance(exc, MarkedYAMLError):
        text = " ".join(str(exc).split())
        return None, text if isinstance(exc, YAMLError) else f"{type(exc).__name__}: {text}"
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    text = exc.problem or exc.context or "unreadable YAML"
    if exc.problem and exc.context and context and mark and context.line != mark.line:
        text += f" ({exc.context} on line {context.line + 1})"
    return (mark.line if mark else None), " ".join(text.split())


def safe_load(text: str) -> Any:
    """``text`` read with the quick safe loader (libyaml), its nesting checked first."""
    _refuse_deep_nesting(text)
    return YAML(typ="safe").load(text)


def _refuse_deep_nesting(text: str) -> None:
    """TooDeep at the first collection nested past _MAX_DEPTH, as libyaml's parser
    (iterative, unlike its composer) reads the text."""
    depth = 0
    for event in _events_until_an_error(text):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                raise TooDeep(None, None, TOO_DEEP, event.start_mark)
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


class TooDeep(MarkedYAMLError):
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
            raise TooDeep(None, None, TOO_DEEP, self.reader.get_mark())


class _BoundedComposer(Composer):
    """Refuses a node nested past _MAX_DEPTH before it composes it: composing recurses."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._nesting = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nesting += 1
        try:
            if self._nesting > _MAX_DEPTH:
                raise TooDeep(None, None, TOO_DEEP, self.parser.peek_event().start_mark)
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
            problem = (f"cannot build this {tag_name(node.tag)} value; check the aliases (*name) "
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


def tag_name(tag: Any) -> str:
    """A tag as written in a file: ``!!int`` for ``tag:yaml.org,2002:int``."""
    return str(tag).replace(_YAML_TAGS, "!!")


def _unreadable(node: Any, exc: Exception) -> UnreadableValue:
    text = str(node.value)
    if text.lstrip("+-").replace("_", "").isdigit() and len(text) > 100:
        reason = f"{len(text)} digits is far more than any setting accepts"
    else:
        reason = " ".join(str(exc).split()) if isinstance(exc, ValueError) else ""
    return UnreadableValue(text, tag_name(node.tag), reason)
