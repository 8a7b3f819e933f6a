"""The keys config.yaml may hold, as data: section -> key -> Field, and a feed's keys.

A Field says how the value is checked (ingest.config.checks, with the bounds chosen
here per setting), whether an ``INGEST_<SECTION>_<KEY>`` variable may set it,
and a default path. Other defaults live on the dataclasses of ingest.config.model,
one per section here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.config import access, database
from ingest.config import checks as check


@dataclass(frozen=True)
class Field:
    check: Callable[[Any], Any]
    env: str = "yaml"  # INGEST_* value: "yaml" scalar, "raw" text as is, "" not allowed
    default: str | None = None  # a default path, resolved against the config folder
    expand: bool = False  # ${ENV_VAR} references replaced (ingest.config.secrets)


_LONGEST_INTERVAL = "365d"  # between two polls of a feed

# Bounds: the most a setting accepts is far past any sane use, so a value beyond it
# is a slip (a unit left out, a digit too many), refused before it can stall a
# poll for a year or ask for a terabyte of memory.
SECTION_FIELDS: dict[str, dict[str, Field]] = {
    "output": {
        "dir": Field(check.path, "raw", default="data"),
        "partition": Field(check.choice("day", "none"), "raw"),
        "compress": Field(check.choice("none", "gzip"), "raw"),
        "max_file_bytes": Field(check.optional(check.size(most="100GB"))),
        "sink": Field(check.choice("files", "postgres"), "raw"),
        "table": Field(database.sql_table, "raw"),
    },
    "state": {
        "path": Field(check.path, "raw", default="data/state.sqlite"),
        "lock_timeout": Field(check.duration(most="1d", positive=False)),
        "max_attempts": Field(check.integer(1, 100)),
        "retention": Field(check.duration(most="3650d")),
        "url": Field(check.optional(database.conninfo), "raw"),
        "replica": Field(database.replica, "raw"),
        "connect_timeout": Field(check.duration(most="1d", positive=False)),
    },
    "http": {
        "timeout": Field(check.duration(most="1h")),
        "user_agent": Field(check.text, "raw"),
        "allow_private_networks": Field(check.boolean),
        "per_host_concurrency": Field(check.integer(1, 100)),
        "per_host_delay": Field(check.duration(most="1h", positive=False)),
        "max_feed_bytes": Field(check.size(most="1GiB")),
        "max_page_bytes": Field(check.size(most="1GiB")),
        "max_redirects": Field(check.integer(0, 50)),
        "max_connections": Field(check.integer(1, 1000)),
        "robots": Field(check.boolean),
        "proxy": Field(check.optional(access.proxy), "raw", expand=True),
        "trust_env": Field(check.boolean),
    },
    "extract": {
        "workers": Field(check.integer(0, 256)),
        "timeout": Field(check.duration(most="1h")),
        "min_feed_text": Field(check.integer(0, 1_000_000)),
        "feed_content": Field(check.choice("auto", "never", "always"), "raw"),
    },
    "footers": {
        "learn": Field(check.boolean),
        "min_count": Field(check.integer(1, 1000)),
        "sites": Field(check.footer_sites, ""),
    },
    "schedule": {
        "interval": Field(check.duration(most=_LONGEST_INTERVAL)),
        "min_interval": Field(check.duration(most=_LONGEST_INTERVAL)),
        "max_interval": Field(check.duration(most=_LONGEST_INTERVAL)),
        "concurrency": Field(check.integer(1, 1000)),
        "failing_after": Field(check.integer(1, 1000)),
        "shutdown_grace": Field(check.duration(most="1h", positive=False)),
        "max_entries_per_poll": Field(check.integer(1, 100_000)),
    },
    "server": {
        "host": Field(check.text, "raw"),
        "port": Field(check.port),
        "token": Field(check.optional(check.text), "raw"),
        "public_url": Field(check.optional(check.http_url), "raw"),
    },
    "dedup": {
        "enabled": Field(check.boolean),
        "threshold": Field(check.fraction),
        "window": Field(check.duration(most="3650d")),
        "min_words": Field(check.integer(1, 100_000)),
        "action": Field(check.choice("mark", "drop"), "raw"),
    },
    "sitemap": {
        "window": Field(check.duration(most="3650d")),
        "max_depth": Field(check.integer(0, 10)),
        "max_sitemaps": Field(check.integer(1, 10_000)),
        "max_urls": Field(check.integer(1, 1_000_000)),
        "max_bytes": Field(check.size(most="1GiB")),
    },
    "websub": {
        "lease": Field(check.duration(most="365d")),
        "max_delivery_bytes": Field(check.size(most="1GiB")),
    },
}

FEED_FIELDS: dict[str, Callable[[Any], Any]] = {
    "url": check.http_url,
    "name": check.optional(check.text),
    "interval": check.optional(check.duration(most=_LONGEST_INTERVAL)),
    "tags": check.tags,
    "headers": access.headers,
    "cookies": access.cookies,
    "user_agent": access.user_agent,
    "username": access.username,
    "password": access.password,
    "proxy": access.proxy,
    "fetch_pages": check.boolean,
    "type": check.choice("feed", "sitemap"),
    "feed_content": check.choice("auto", "never", "always"),
}
# The feed keys whose text may hold ${ENV_VAR} references (secrets kept out of the file).
FEED_EXPANDED = frozenset({"headers", "cookies", "user_agent", "username", "password", "proxy"})
