"""The settings of ingest as frozen dataclasses: what the stages and shells are handed.

No YAML here: pure code (the schedule, the fetch stage) imports the model without the
loader (ingest.config.load), which reads config.yaml and INGEST_* variables into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ingest import USER_AGENT
from ingest.config.masking import access_secrets, mask_secrets
from ingest.config.replica import host_replica
from ingest.models import Feed
from ingest.redact import conninfo_secrets, mask_conninfo


@dataclass(frozen=True)
class OutputConfig:
    dir: Path
    partition: str = "day"  # "day" | "none"
    compress: str = "none"  # "none" | "gzip": one gzip member per batch, files *.jsonl.gz
    max_file_bytes: int | None = None  # start the next part (.1, .2, ...) past this size
    sink: str = "files"  # "files" | "postgres": the table below, in the state.url database
    table: str = "articles"  # an SQL name, optionally schema.name


@dataclass(frozen=True)
class StateConfig:
    path: Path
    lock_timeout: float = 30.0  # seconds to wait for another ingest process
    max_attempts: int = 5  # transient failures of one article before giving up
    retention: float = 180 * 86400.0  # seconds a seen mark is kept
    # A libpq connection string: the state lives in PostgreSQL, `path` is unused. It may
    # hold a password, so it stays out of the repr.
    url: str | None = field(default=None, repr=False)
    replica: str = field(default_factory=host_replica)  # this process's name among replicas
    connect_timeout: float = 120.0  # seconds the daemon waits for the database at start


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
    robots: bool = True  # article pages are checked against their site's robots.txt
    # http://, https:// or socks5:// with optional user:password@; None: no proxy
    proxy: str | None = field(default=None, repr=False)
    trust_env: bool = False  # HTTP(S)_PROXY, ALL_PROXY and NO_PROXY from the environment


@dataclass(frozen=True)
class ExtractConfig:
    workers: int = 0  # 0 = one per CPU
    timeout: float = 30.0  # seconds a worker job (parse a feed, extract a page) may take
    min_feed_text: int = 200  # characters of feed content that may stand in for a page
    # "auto": a feed's own content when it is the whole article (ingest.pipeline.feed_content),
    # "never": always the page, "always": the feed's content whenever it has some
    feed_content: str = "auto"


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
    max_entries_per_poll: int = 500  # new entries worked on per poll; the rest wait, newest first


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # the container image sets 0.0.0.0
    port: int | None = 8080
    token: str | None = None  # bearer token required by /status and /metrics when set
    # how a WebSub hub reaches this server (http(s)://host[:port][/prefix]); None: no WebSub
    public_url: str | None = None


@dataclass(frozen=True)
class SitemapConfig:
    window: float = 2 * 86400.0  # seconds: only URLs published or modified this recently
    max_depth: int = 2  # sitemap index levels followed below the configured URL
    max_sitemaps: int = 50  # sitemap files fetched per poll, the configured one included
    max_urls: int = 50_000  # <url> entries read per sitemap file (the protocol's own limit)
    max_bytes: int = 50_000_000  # per sitemap file after gunzip (the protocol's own limit)


@dataclass(frozen=True)
class WebSubConfig:
    lease: float = 7 * 86400.0  # seconds of subscription asked of a hub (it may grant other)
    max_delivery_bytes: int = 10_000_000  # a pushed body larger than this is refused (413)


@dataclass(frozen=True)
class DedupConfig:
    enabled: bool = True
    threshold: float = 0.3  # estimated resemblance at or above which two texts are one story
    window: float = 7 * 86400.0  # seconds a record stays in the near-duplicate index
    min_words: int = 50  # shorter texts are not clustered: too little text to tell
    action: str = "mark"  # "mark" | "drop": write only a story's first record


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
    dedup: DedupConfig = DedupConfig()
    sitemap: SitemapConfig = SitemapConfig()
    websub: WebSubConfig = WebSubConfig()


def effective_config(cfg: Config) -> dict:
    """Every effective value as plain data (paths as text, durations in seconds); the
    passwords of ``state.url``, and the secrets of feeds and proxies, as ``***``."""
    plain = mask_secrets(_plain(cfg))
    if cfg.state.url is not None:
        plain["state"]["url"] = mask_conninfo(cfg.state.url)
    return plain


def log_secrets(cfg: Config, feeds: Iterable[Feed] | None = None) -> tuple[str | None, ...]:
    """What a log filter must never show of ``cfg``: the ops server's token, the passwords
    of ``state.url``, and the secrets of ``feeds``' request settings (the config's own
    feeds unless given) and of ``http.proxy``."""
    return (cfg.server.token, *conninfo_secrets(cfg.state.url or ""),
            *access_secrets(cfg.feeds if feeds is None else feeds, cfg.http.proxy))


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
