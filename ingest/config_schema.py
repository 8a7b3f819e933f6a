"""The keys config.yaml may hold, as data: section -> key -> Field, and a feed's keys.

A Field says how the value is checked (config_checks.py), whether an
``INGEST_<SECTION>_<KEY>`` variable may set it, and a default path. Other
defaults live on the dataclasses in config.py, which has one per section here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest import config_checks as check


@dataclass(frozen=True)
class Field:
    check: Callable[[Any], Any]
    env: str = "yaml"  # INGEST_* value: "yaml" scalar, "raw" text as is, "" not allowed
    default: str | None = None  # a default path, resolved against the config folder


SECTION_FIELDS: dict[str, dict[str, Field]] = {
    "output": {
        "dir": Field(check.path, "raw", default="data"),
        "partition": Field(check.choice("day", "none"), "raw"),
        "compress": Field(check.choice("none", "gzip"), "raw"),
        "max_file_bytes": Field(check.optional(check.size)),
    },
    "state": {
        "path": Field(check.path, "raw", default="data/state.sqlite"),
        "lock_timeout": Field(check.duration(positive=False)),
        "max_attempts": Field(check.integer(1)),
        "retention": Field(check.duration()),
    },
    "http": {
        "timeout": Field(check.duration()),
        "user_agent": Field(check.text, "raw"),
        "allow_private_networks": Field(check.boolean),
        "per_host_concurrency": Field(check.integer(1)),
        "per_host_delay": Field(check.duration(positive=False)),
        "max_feed_bytes": Field(check.size),
        "max_page_bytes": Field(check.size),
        "max_redirects": Field(check.integer(0)),
        "max_connections": Field(check.integer(1)),
    },
    "extract": {
        "workers": Field(check.integer(0)),
        "timeout": Field(check.duration()),
        "min_feed_text": Field(check.integer(0)),
    },
    "footers": {
        "learn": Field(check.boolean),
        "min_count": Field(check.integer(1)),
        "sites": Field(check.footer_sites, ""),
    },
    "schedule": {
        "interval": Field(check.duration()),
        "min_interval": Field(check.duration()),
        "max_interval": Field(check.duration()),
        "concurrency": Field(check.integer(1)),
        "failing_after": Field(check.integer(1)),
        "shutdown_grace": Field(check.duration(positive=False)),
        "max_entries_per_poll": Field(check.integer(1)),
    },
    "server": {
        "host": Field(check.text, "raw"),
        "port": Field(check.port),
        "token": Field(check.optional(check.text), "raw"),
    },
}

FEED_FIELDS: dict[str, Callable[[Any], Any]] = {
    "url": check.http_url,
    "name": check.optional(check.text),
    "interval": check.optional(check.duration()),
    "tags": check.tags,
}
