"""`ingest import-opml`: add an OPML file's feeds to config.yaml, keeping the file as written.

New feeds are appended to ``feeds:`` as ``{name, url, tags}``. The rest of the
file is kept byte for byte: the new lines go right after the last line of the
``feeds`` block (blank lines and column-0 comments after it belong to the next
key and stay there), indented like the existing items. A JSON file (JSON is
YAML) is rewritten as JSON; a flow-style or empty ``feeds`` list goes through
ruamel's round-trip dumper, which keeps comments and key order too.

A feed whose URL (normalised as the config compares them) is already
configured or came earlier in the OPML is skipped, and so is one that is not
http(s); a name already taken gets ``-2``, ``-3``, ... The result is loaded
with the config loader before it atomically replaces the file, so a config
that would not load is never written. A missing config file is created.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from ingest.config.checks import http_url
from ingest.config.feeds import FeedNames
from ingest.config.load import load_config
from ingest.config.opml import MAX_OPML_BYTES, OpmlFeed, parse_opml
from ingest.config.source import BadValue, config_error, read_text
from ingest.config.yaml_reader import round_trip_reader, yaml_problem
from ingest.errors import ConfigError
from ingest.urls import normalize_url


@dataclass
class ImportReport:
    added: list[OpmlFeed] = field(default_factory=list)
    skipped: list[tuple[OpmlFeed, str]] = field(default_factory=list)  # (feed, reason)


def import_opml(config_path: str, opml_path: str, *, dry_run: bool = False) -> ImportReport:
    """Add the feeds of ``opml_path`` to ``config_path``; write nothing if ``dry_run``."""
    try:
        with open(opml_path, "rb") as fh:
            data = fh.read(MAX_OPML_BYTES + 1)  # parse_opml refuses more
        target = Path(config_path).resolve()
        text = read_text(target, config_path) if target.exists() else ""
    except OSError as exc:
        raise ConfigError(f"import-opml: cannot read {exc.filename}: {exc.strerror}") from None
    doc = _load(text, config_path)
    existing = doc.get("feeds") or []
    report = merge(existing if isinstance(existing, list) else [], parse_opml(data, opml_path))
    if report.added and not dry_run:
        _save(_with_feeds(text, doc, _entries(report.added)), target, config_path)
    return report


def merge(existing: list, incoming: list[OpmlFeed]) -> ImportReport:
    """Which OPML feeds are new, with names made unique; the rest with a reason."""
    urls = {normalize_url(url) for url in _texts(existing, "url")}
    names = FeedNames(_texts(existing, "name"))
    report = ImportReport()
    for feed in incoming:
        try:
            url = normalize_url(http_url(feed.url))
        except BadValue as exc:
            report.skipped.append((feed, str(exc)))
            continue
        if url in urls:
            report.skipped.append((feed, "already configured"))
            continue
        urls.add(url)
        name = feed.name and names.claim(feed.name)
        report.added.append(OpmlFeed(feed.url.strip(), name, feed.tags, feed.line))
    return report


def _texts(existing: list, key: str) -> list[str]:
    """The ``key`` values of the configured feeds that are text (the config may be broken:
    the loader checks it when the new feeds are added)."""
    return [f[key] for f in existing if isinstance(f, dict) and isinstance(f.get(key), str)]


def _entries(feeds: list[OpmlFeed]) -> list[CommentedMap]:
    entries = []
    for feed in feeds:
        entry = CommentedMap([("name", feed.name)] if feed.name else [])
        entry["url"] = feed.url
        if feed.tags:
            entry["tags"] = tags = CommentedSeq(feed.tags)
            tags.fa.set_flow_style()
        entries.append(entry)
    return entries


def _load(text: str, where: str) -> CommentedMap:
    yaml = round_trip_reader(strict=True)  # bounded; a value it cannot build is an error
    yaml.preserve_quotes = True
    try:
        doc = yaml.load(text) if text.strip() else CommentedMap()
    except Exception as exc:  # a YAMLError, or the library's own failure
        line, problem = yaml_problem(exc)
        raise config_error(where, line, "", f"not valid YAML ({problem}); fix it before "
                           "importing") from exc
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{where}: expected a mapping with a 'feeds' list at the top")
    if "feeds" in doc and doc["feeds"] is not None and not isinstance(doc["feeds"], list):
        raise ConfigError(f"{where}:{doc.lc.key('feeds')[0] + 1}: feeds: expected a list")
    return doc


def _with_feeds(text: str, doc: CommentedMap, entries: list[CommentedMap]) -> str:
    """``text`` with ``entries`` appended to its ``feeds`` list."""
    feeds = doc.get("feeds")
    yaml = _dumper(text)
    if "feeds" not in doc:
        return text + ("" if text.endswith("\n") or not text else "\n") + _dump(yaml, entries)
    if _is_json(text):  # a JSON file (JSON is YAML) stays JSON
        data = json.loads(text)
        data["feeds"] = (data.get("feeds") or []) + [dict(e) for e in entries]
        return json.dumps(data, indent=2 if "\n" in text.strip() else None,
                          ensure_ascii=False) + "\n"
    if not feeds or feeds.fa.flow_style():
        if feeds is None:
            doc["feeds"] = feeds = CommentedSeq()
        feeds.extend(entries)
        out = io.StringIO()
        yaml.dump(doc, out)
        return out.getvalue()
    lines = text.splitlines(keepends=True)
    end = _block_end(lines, feeds.lc.data[len(feeds) - 1][0])
    lines[end - 1] += "" if lines[end - 1].endswith("\n") else "\n"
    new = _dump(yaml, entries).split("\n", 1)[1]  # without the "feeds:" line
    return "".join(lines[:end]) + new + "".join(lines[end:])


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _block_end(lines: list[str], last_item: int) -> int:
    """The line index after the top-level block holding ``last_item``: its last indented
    (or ``-``) line; blank lines and column-0 comments after it go with the next key."""
    end = last_item + 1
    for i in range(last_item + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            break  # the next top-level key
        end = i + 1
    return end


def _dumper(text: str) -> YAML:
    """A round-trip dumper that indents like ``text`` does."""
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    _, seq, offset = load_yaml_guess_indent(text) if text.strip() else (None, None, None)
    nested = re.search(r"^[^\s#-][^#]*:[ \t]*(?:#.*)?\n(?:[ \t]*(?:#.*)?\n)*( +)[^\s-]",
                       text, re.MULTILINE)
    mapping = len(nested.group(1)) if nested else 2
    yaml.indent(mapping=mapping, sequence=seq or mapping, offset=offset or 0)
    return yaml


def _dump(yaml: YAML, entries: list[CommentedMap]) -> str:
    out = io.StringIO()
    yaml.dump({"feeds": entries}, out)
    return out.getvalue()


def _save(text: str, target: Path, where: str) -> None:
    """Check that ``text`` loads as a config, then replace ``target`` with it atomically."""
    tmp = target.with_name(f".{target.name}.import-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        try:
            load_config(tmp, env={})
        except ConfigError as exc:
            problem = str(exc).replace(str(tmp), where)
            raise ConfigError(f"import-opml: {where} was left unchanged, because with the new "
                              f"feeds it would not load: {problem}") from None
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"import-opml: cannot write {target}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
