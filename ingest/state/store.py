"""The state store's interface: seen entries, feed validators and schedule, footer statistics,
the near-duplicate index, host rests, robots.txt copies, WebSub subscriptions.

`Store` is the small interface the pipeline and the daemon use, as a Protocol: a backend
conforms by having these methods, and is chosen once, in the shell (`ingest.state.open`).
`ingest.state.sqlite` holds the single-node implementation, `SqliteStore` (one file, WAL,
one writer process at a time, enforced with a lock file); `ingest.state.postgres` the
shared one, `PostgresStore`, which several replicas use at once. Every method is a short,
self-contained transaction, and nothing outside the backends' modules writes SQL;
tests/state/test_store_contract.py runs against every implementation.

Claims (articles in flight) and leases (feeds being polled) belong to this process's
replica: they last while it lives, and at most `lease_seconds` after it died.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ingest.models import Checkpoint, FeedState, RobotsCopy, Story, StoryEntry, Subscription


class Store(Protocol):
    """What the pipeline needs from a state store."""

    #: this process's replica identity (``state.replica``): the owner of its leases
    replica: str
    #: seconds a lease or claim of a replica that died (kill -9) still holds
    lease_seconds: float

    # -- seen entries -------------------------------------------------------
    def unseen(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that were never marked seen."""
        ...

    def mark_seen(self, keys: Mapping[str, str],
                  checkpoints: Mapping[str, Checkpoint] | None = None) -> None:
        """Mark ``{key: status}`` seen and move sink checkpoints, atomically; a key marked
        seen has its transient failures forgotten."""
        ...

    def record_attempt(self, key: str, error: str) -> int:
        """Count one more transient failure of ``key``; return the new count."""
        ...

    def claim(self, key: str) -> bool:
        """Claim an article while it is in flight; False if it is claimed already (by any
        replica) or already marked seen."""
        ...

    def release(self, key: str) -> None:
        """End a claim: the article may be claimed again."""
        ...

    def claim_many(self, keys: Iterable[str]) -> set[str]:
        """`claim` for each of ``keys`` at once: the keys now claimed by this replica."""
        ...

    def release_many(self, keys: Iterable[str]) -> None:
        """`release` for each of ``keys`` at once."""
        ...

    def forget_seen_before(self, cutoff: float) -> int:
        """Compaction: drop seen marks older than ``cutoff``; return how many."""
        ...

    # -- feeds ---------------------------------------------------------------
    def get_feed(self, url: str) -> FeedState:
        """The saved state of a feed; a fresh FeedState for one never saved."""
        ...

    def put_feed(self, state: FeedState) -> None:
        """Save a feed's state; this ends any lease on it (its poll is over)."""
        ...

    def all_feeds(self) -> list[FeedState]:
        """Every saved feed, by URL."""
        ...

    def claim_due_feeds(self, now: float, limit: int) -> list[FeedState]:
        """Lease due feeds (``next_poll_at <= now``, not leased) to this replica in one
        transaction, so no other dispatcher takes them: at most ``limit``, and at most
        this replica's share of what is due (due feeds / live replicas, rounded up).
        Their states, earliest due first: a poll needs no second read. `put_feed` ends a
        lease. Feeds without a ``next_poll_at`` are never claimed."""
        ...

    def leases(self) -> dict[str, str]:
        """``{feed URL: replica}`` for every feed leased now (being polled)."""
        ...

    def shift_schedule(self, seconds: float) -> int:
        """Move every scheduled poll and lease by ``seconds`` (the wall clock was stepped);
        return how many feeds moved."""
        ...

    def ping(self) -> None:
        """Raise StateError unless the store is open and answers."""
        ...

    # -- footer statistics ------------------------------------------------
    def footer_counts(self, site: str, keys: Iterable[str] | None = None) -> dict[str, int]:
        """``{normalised line: number of articles it was seen in}`` for a site,
        only for ``keys`` when given (the table grows with every article)."""
        ...

    def add_footer_counts(self, site: str, counts: Mapping[str, tuple[int, str]]) -> None:
        """Add ``{key: (articles, sample line)}`` to a site's statistics."""
        ...

    def forget_footer_lines(self, before: float, below: int) -> int:
        """Compaction: drop lines counted fewer than ``below`` times and not seen since
        ``before`` (a footer recurs on most of a site's articles); return how many."""
        ...

    def footer_lines(self, site: str | None = None) -> list[tuple[str, str, str, int]]:
        """``(site, key, sample, count)`` rows, most frequent first."""
        ...

    # -- near-duplicate index ----------------------------------------------
    def story_candidates(self, bands: Sequence[int], since: float) -> list[StoryEntry]:
        """Index entries indexed at or after ``since`` that share at least one band key
        with ``bands``, each once, earliest indexed first (then by record id); their
        ``bands`` are left empty."""
        ...

    def add_stories(self, entries: Sequence[StoryEntry]) -> None:
        """Index these records, each as of its ``indexed_at``, in one transaction; a
        record_id already indexed is left as it is."""
        ...

    def forget_stories_before(self, cutoff: float) -> int:
        """Compaction: drop index entries indexed before ``cutoff`` (the window) and their
        band keys; return how many records."""
        ...

    def story_size(self, story_id: str) -> int:
        """How many records of the story are in the index (0 for one it never held)."""
        ...

    def stories(self, since: float, min_size: int) -> list[Story]:
        """Clusters with a record indexed at or after ``since`` and at least ``min_size``
        records still in the index, biggest first (then earliest first_seen, story id).
        Sites and titles are distinct, in the order their records were indexed."""
        ...

    # -- hosts: politeness shared by every process on the store -------------------
    def rest_host(self, host: str, until: float, why: str) -> None:
        """``host`` is left alone until the wall-clock time ``until`` (Retry-After, or
        timeouts in a row); a later ``until`` already stored is kept."""
        ...

    def resting_hosts(self, now: float) -> dict[str, tuple[float, str]]:
        """``{host: (until, why)}`` for hosts resting at wall-clock time ``now``."""
        ...

    # -- robots.txt: each site's copy, kept a day (ingest.fetch.robots) ------------------
    def robots_file(self, origin: str) -> RobotsCopy | None:
        """The copy last put for ``origin`` (``scheme://host[:port]``), expired or not;
        None if there is none."""
        ...

    def put_robots_file(self, copy: RobotsCopy) -> None:
        """Keep ``copy`` as its origin's, in place of the one before."""
        ...

    # -- WebSub subscriptions (ingest.websub), by callback id ---------------------------
    # A feed has one row, or several while a renewal waits for its hub's verification;
    # every replica reads and writes the same rows (any may be the one a hub calls back).
    def subscription(self, callback_id: str) -> Subscription | None:
        """The subscription whose callback URL ends in ``callback_id``; None if none."""
        ...

    def feed_subscription(self, feed_url: str) -> Subscription | None:
        """The feed's current subscription: its active one with the latest ``expires_at``,
        else its newest (by ``requested_at``) pending or unsubscribing one; None if none."""
        ...

    def feed_subscriptions(self, feed_url: str) -> list[Subscription]:
        """Every subscription of the feed ``feed_url``, by ``requested_at``."""
        ...

    def subscriptions(self) -> list[Subscription]:
        """Every subscription, by feed URL, then ``requested_at``."""
        ...

    def put_subscription(self, sub: Subscription) -> None:
        """Insert ``sub``, or replace the subscription with its callback id."""
        ...

    def claim_renewal(self, callback_id: str, not_before: float, now: float) -> bool:
        """Set the subscription's ``requested_at`` to ``now`` if it is before
        ``not_before``, atomically: True when it was (this replica renews it; of several
        asking at once, one gets True), False when it was not or there is no such row."""
        ...

    def delete_subscription(self, callback_id: str) -> None:
        """Forget a subscription (unsubscribed, replaced by its renewal, or its feed left
        the config); nothing happens when there is none."""
        ...

    # -- sink checkpoints -----------------------------------------------------
    def checkpoints(self) -> dict[str, Checkpoint]:
        """``{output file: how far its records are known, and what the file was}``."""
        ...

    def close(self) -> None:
        """Let the store go (and, for a single-writer store, its lock)."""
        ...
