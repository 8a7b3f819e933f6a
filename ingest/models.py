"""Frozen values the stages exchange. No stage hands another a library object."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields
from typing import NamedTuple

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Access:
    """How one feed's requests are made: sent with the feed's request and with its page
    requests on the same site. Values may be secrets, so none of them is in the repr."""

    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cookies: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    user_agent: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    proxy: str | None = field(default=None, repr=False)  # None: http.proxy

    @property
    def basic_credential(self) -> str | None:
        """``user:password`` base64-encoded, as an ``Authorization: Basic`` header carries
        it (and as a log would show it); None without a user name."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class Feed:
    """One configured feed."""

    name: str
    url: str
    interval: float | None = None  # seconds; None = schedule.interval
    tags: tuple[str, ...] = ()
    access: Access = Access()
    fetch_pages: bool = True  # False: the feed's own text, its pages never requested
    type: str = "feed"  # "feed" (RSS, Atom, JSON Feed; a sitemap answer is detected) | "sitemap"
    feed_content: str | None = None  # "auto" | "never" | "always"; None: extract.feed_content


@dataclass(frozen=True)
class FetchResult:
    """A successful (2xx) HTTP exchange, body read whole and within its cap."""

    url: str  # what we asked for
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    content: bytes
    elapsed: float = 0.0

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class HostTurn:
    """A host's politeness turn as a shared store hands it out (`take_host_turn`)."""

    slot: int | None  # the slot held until `end_host_turn`; None: none free, or it rests
    wait: float  # seconds: until the request may start (slot given), else before asking again
    resting: tuple[float, str] | None = None  # (wall-clock until, why) while the host rests


@dataclass(frozen=True)
class RobotsCopy:
    """A site's robots.txt as last fetched (`ingest.fetch.robots`), kept per origin."""

    origin: str  # scheme://host[:port]: robots.txt is per origin
    kind: str  # "rules" (2xx: body), "allow_all" (4xx), "unreachable" (5xx, timeout, ...)
    body: str = field(default="", repr=False)  # the first 512 KiB of a "rules" answer
    fetched_at: float = 0.0  # wall clock: when this answer was had
    expires_at: float = 0.0  # wall clock: when to ask for it again


@dataclass(frozen=True)
class Entry:
    """One item of a feed, as the feed gives it (links already absolute)."""

    link: str | None
    guid: str | None
    title: str = ""
    published: str | None = None  # ISO 8601 UTC
    authors: tuple[str, ...] = ()
    summary: str = ""  # plain text
    content: str = ""  # plain text of content:encoded / atom content
    tags: tuple[str, ...] = ()
    image: str | None = None
    repaired: int = 0  # texts (title, summary, content, authors) whose mojibake was repaired
    language: str | None = None  # the source's own tag for this item (a news sitemap's)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its entries plus the feed-level facts the pipeline uses."""

    entries: tuple[Entry, ...]
    title: str = ""
    language: str | None = None
    rights: str | None = None
    ttl: float | None = None  # seconds, from <ttl>
    update_period: float | None = None  # seconds, from sy:updatePeriod/Frequency
    warning: str | None = None  # recoverable parse problem (bozo with entries)
    repaired: int = 0  # feed-level texts (title, rights) whose mojibake was repaired
    hub: str | None = None  # a WebSub hub the feed names (<link rel="hub">)
    topic: str | None = None  # its own URL as the feed names it (<link rel="self">)


@dataclass(frozen=True)
class Subscription:
    """A WebSub subscription of one feed (`ingest.websub`), as the store keeps it. The
    secret signs the hub's deliveries, so it is never in the repr."""

    callback_id: str  # the random last segment of the callback URL: names the subscription
    feed_url: str  # the configured feed it delivers for
    topic: str  # the URL subscribed to (the feed's rel="self", else its URL)
    hub: str
    secret: str = field(repr=False)
    state: str = "pending"  # "pending" (asked) | "active" (verified) | "unsubscribing"
    lease_seconds: float | None = None  # as the hub granted it in its verification
    expires_at: float | None = None  # wall clock: the lease ends; renewed before
    requested_at: float = 0.0  # wall clock: last subscription request sent


@dataclass(frozen=True)
class Article:
    """What the extractor found on a page."""

    text: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    language: str | None = None  # the page's own <html lang>
    detected_language: str | None = None  # guessed from the text
    site_name: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    repaired: int = 0  # texts (body, title, description, byline) whose mojibake was repaired


@dataclass(frozen=True)
class Cleaned:
    """The footer stage's result for one text."""

    text: str
    removed: tuple[str, ...] = ()
    rights: str | None = None


@dataclass(frozen=True)
class Record:
    """One output line. Field order is the order of keys in the JSON object."""

    id: str
    url: str
    feed: str
    feed_url: str
    guid: str | None
    title: str
    published: str | None
    fetched_at: str
    text: str
    body_source: str  # "page" | "feed"
    schema_version: int = SCHEMA_VERSION
    canonical_url: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    language_source: str | None = None  # "text" | "page" | "feed": where `language` came from
    site_name: str | None = None
    summary: str | None = None
    tags: tuple[str, ...] = ()
    image: str | None = None
    footers_removed: tuple[str, ...] = ()
    rights: str | None = None
    final_url: str | None = None  # the page's URL after redirects, when it differs
    story_id: str | None = None  # the id of its story's first record (its own when it starts one)
    near_duplicate_of: str | None = None  # the id of the most similar earlier record
    similarity: float | None = None  # estimated resemblance to that record, 0-1

    def to_dict(self) -> dict:
        # Every field is a str, a number, None or a tuple of str: a shallow dict is the same
        # value as dataclasses.asdict's deep copy, without the copying paid on every record.
        return {name: getattr(self, name) for name in _RECORD_FIELDS}


_RECORD_FIELDS = tuple(f.name for f in fields(Record))


@dataclass(frozen=True)
class StoryEntry:
    """One record in the near-duplicate index: its MinHash signature and band keys, and
    the story (cluster) it belongs to."""

    record_id: str
    story_id: str
    signature: bytes  # the MinHash values, packed (ingest.dedup)
    bands: tuple[int, ...] = ()  # LSH band keys, signed 64-bit: what a lookup queries
    site: str = ""
    title: str | None = None
    published: str | None = None  # ISO 8601, as in the record
    indexed_at: float = 0.0  # Unix time it was added: the window prunes by it


@dataclass(frozen=True)
class Story:
    """A cluster of near-duplicate records, as `ingest stories` shows it."""

    story_id: str
    size: int
    first_published: str | None  # the earliest `published` of its records
    first_seen: float  # when its first record was indexed
    sites: tuple[str, ...]
    titles: tuple[str, ...]


class Checkpoint(NamedTuple):
    """How far an output file's records are known to the store, and what the file was.

    ``fingerprint`` identifies the bytes before ``offset`` (they never change in an
    append-only file): a file that was truncated or replaced under the same name does
    not match, and is reconciled from its start. None: not known (a store that
    recorded only the offset).
    """

    offset: int
    fingerprint: str | None = None


@dataclass
class FeedState:
    """What the store remembers of one feed between polls (mutable on purpose)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_poll_at: float | None = None
    last_success_at: float | None = None
    last_new_at: float | None = None
    last_unconditional_at: float | None = None
    next_poll_at: float | None = None
    interval: float | None = None  # the adaptive interval last chosen
    failures: int = 0
    last_error: str | None = None
    articles_written: int = 0
    extra: dict = field(default_factory=dict)
