"""The ``feeds:`` list of config.yaml -> Feed models.

Each feed is checked against ingest.config.schema.FEED_FIELDS; URLs (normalized) and
names (case-folded) must be unique; a feed without a name gets one derived
from its URL, made unique with -2, -3...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.config.access import build_access
from ingest.config.schema import FEED_EXPANDED, FEED_FIELDS
from ingest.config.secrets import expand
from ingest.config.source import (
    RawSetting,
    config_error,
    describe_value,
    item_line,
    key_line,
    reject_unknown_keys,
)
from ingest.errors import ConfigError
from ingest.models import Access, Feed
from ingest.urls import normalize_url, without_www


@dataclass(frozen=True)
class _FeedDraft:
    path: str  # "feeds[3]"
    values: dict[str, Any]
    raws: dict[str, RawSetting]


def load_feeds(top: dict, label: str, env: Mapping[str, str]) -> tuple[Feed, ...]:
    """The checked feeds of the loaded top-level mapping ``top``; ``${NAME}`` references
    taken from ``env`` (the variables the whole config is loaded with)."""
    if "feeds" not in top:
        raise ConfigError(f"{label}:1: feeds: missing; add a list of feeds such as "
                          "'feeds: [{url: https://example.com/rss.xml}]'")
    node = top["feeds"]
    if not isinstance(node, list) or not node:
        raise config_error(label, key_line(top, "feeds"), "feeds",
                           f"expected a non-empty list of feeds, got {describe_value(node)}")
    drafts = [_feed_draft(node, i, label, env) for i in range(len(node))]
    _check_unique(drafts, "url", normalize_url, "is the same feed as")
    _check_unique(drafts, "name", str.casefold, "is already the name of")
    names = _feed_names(drafts)
    return tuple(Feed(name, d.values["url"], d.values.get("interval"), d.values.get("tags", ()),
                      _access(d), d.values.get("fetch_pages", True),
                      d.values.get("type", "feed"), d.values.get("feed_content"))
                 for name, d in zip(names, drafts, strict=True))


def _access(draft: _FeedDraft) -> Access:
    try:
        return build_access(draft.values)
    except ValueError as exc:
        given = "username" if "username" in draft.raws else "password"
        raw = draft.raws[given]
        raise config_error(raw.where, raw.line, f"{draft.path}.{given}", str(exc)) from None


def _feed_draft(seq: list, i: int, label: str, env: Mapping[str, str]) -> _FeedDraft:
    node, line, path = seq[i], item_line(seq, i), f"feeds[{i}]"
    if not isinstance(node, dict):
        raise config_error(label, line, path, "expected a mapping such as "
                           f"'{{url: https://example.com/rss.xml}}', got {describe_value(node)}")
    reject_unknown_keys(node, FEED_FIELDS, label, path)
    if "url" not in node:
        raise config_error(label, line, path, "missing url")
    raws = {key: RawSetting(value, label, key_line(node, key), None)
            for key, value in node.items()}
    values = {key: raw.convert(f"{path}.{key}", _check(key, env)) for key, raw in raws.items()}
    return _FeedDraft(path, values, raws)


def _check(key: str, env: Mapping[str, str]) -> Callable[[Any], Any]:
    check = FEED_FIELDS[key]
    return (lambda value: check(expand(value, env))) if key in FEED_EXPANDED else check


def _check_unique(drafts: list[_FeedDraft], key: str, norm: Callable[[str], str],
                  clash: str) -> None:
    first: dict[str, _FeedDraft] = {}
    for draft in drafts:
        value = draft.values.get(key)
        earlier = first.setdefault(norm(value), draft) if value is not None else draft
        if earlier is not draft:
            raw, first_line = draft.raws[key], earlier.raws[key].line
            at = "" if first_line is None else f" (line {first_line + 1})"
            raise config_error(raw.where, raw.line, f"{draft.path}.{key}",
                               f"{value!r} {clash} {earlier.path}{at}")


def _feed_names(drafts: list[_FeedDraft]) -> list[str]:
    """Given names, else one derived from the URL, made unique with -2, -3..."""
    names = FeedNames(d.values["name"] for d in drafts if d.values.get("name"))
    return [draft.values.get("name") or names.claim(_derive_name(draft.values["url"]))
            for draft in drafts]


class FeedNames:
    """The feed names in use, compared case-folded; `claim` returns a free one.

    The next suffix to try is kept per name, so that many feeds wanting the same name
    (an OPML file can hold thousands) are named in linear work, not quadratic.
    """

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = {name.casefold() for name in taken}
        self._next: dict[str, int] = {}  # case-folded name -> the suffix to try next

    def claim(self, name: str) -> str:
        """``name``, or ``name-2``, ``name-3``... the first not in use; it is then taken."""
        candidate, n = name, self._next.get(name.casefold(), 2)
        while candidate.casefold() in self._taken:
            candidate, n = f"{name}-{n}", n + 1
        self._next[name.casefold()] = n
        self._taken.add(candidate.casefold())
        return candidate


def _derive_name(url: str) -> str:
    """``https://www.ansa.it/sito/topnews_rss.xml`` -> ``ansa.it-sito-topnews_rss.xml``."""
    parts = urlsplit(url)
    host = without_www(parts.hostname or "")
    host += f"-{parts.port}" if parts.port else ""
    rest = re.sub(r"[^\w.]+", "-", f"{parts.path}?{parts.query}").strip("-.")
    return f"{host}-{rest}" if rest else host
