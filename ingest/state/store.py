"""The state store's interface: seen entries, feed validators and schedule, footer statistics.

`Store` is the small interface the pipeline and the daemon use. `ingest.state.sqlite`
holds the single-node implementation, `SqliteStore` (one file, WAL, one writer
process at a time, enforced with a lock file). A PostgreSQL implementation can
replace it: every method is a short, self-contained transaction, and nothing
outside those modules writes SQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

from ingest.models import Checkpoint, FeedState


class Store(ABC):
    """What the pipeline needs from a state store."""

    def __init__(self) -> None:
        # Articles in flight in this process. One SQLite store has one process
        # (the lock); a shared store would keep claims as leased rows instead.
        self._claims: set[str] = set()

    # -- seen entries -------------------------------------------------------
    @abstractmethod
    def unseen(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that were never marked seen."""

    @abstractmethod
    def mark_seen(self, keys: Mapping[str, str],
                  checkpoints: Mapping[str, Checkpoint] | None = None) -> None:
        """Mark ``{key: status}`` seen and move sink checkpoints, atomically."""

    @abstractmethod
    def record_attempt(self, key: str, error: str) -> int:
        """Count one more transient failure of ``key``; return the new count."""

    def claim(self, key: str) -> bool:
        """Claim an article for this worker while it is in flight."""
        if key in self._claims:
            return False
        self._claims.add(key)
        return True

    def release(self, key: str) -> None:
        self._claims.discard(key)

    # -- feeds ---------------------------------------------------------------
    @abstractmethod
    def get_feed(self, url: str) -> FeedState: ...

    @abstractmethod
    def put_feed(self, state: FeedState) -> None: ...

    @abstractmethod
    def all_feeds(self) -> list[FeedState]: ...

    @abstractmethod
    def claim_due_feeds(self, now: float, limit: int, lease_seconds: float) -> list[str]:
        """Lease up to ``limit`` due feeds until ``now + lease_seconds`` in one
        transaction, so no other dispatcher takes them; `put_feed` ends a lease.
        Feeds without a ``next_poll_at`` are not scheduled and never claimed."""

    @abstractmethod
    def shift_schedule(self, seconds: float) -> int:
        """Move every scheduled poll and lease by ``seconds`` (the wall clock was stepped);
        return how many feeds moved."""

    @abstractmethod
    def forget_seen_before(self, cutoff: float) -> int:
        """Compaction: drop seen marks older than ``cutoff``; return how many."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StateError unless the store is open and answers."""

    # -- footer statistics ------------------------------------------------
    @abstractmethod
    def footer_counts(self, site: str, keys: Iterable[str] | None = None) -> dict[str, int]:
        """``{normalised line: number of articles it was seen in}`` for a site,
        only for ``keys`` when given (the table grows with every article)."""

    @abstractmethod
    def add_footer_counts(self, site: str, counts: Mapping[str, tuple[int, str]]) -> None:
        """Add ``{key: (articles, sample line)}`` to a site's statistics."""

    @abstractmethod
    def forget_footer_lines(self, before: float, below: int) -> int:
        """Compaction: drop lines counted fewer than ``below`` times and not seen since
        ``before`` (a footer recurs on most of a site's articles); return how many."""

    @abstractmethod
    def footer_lines(self, site: str | None = None) -> list[tuple[str, str, str, int]]:
        """``(site, key, sample, count)`` rows, most frequent first."""

    # -- sink checkpoints -----------------------------------------------------
    @abstractmethod
    def checkpoints(self) -> dict[str, Checkpoint]:
        """``{output file: how far its records are known, and what the file was}``."""

    @abstractmethod
    def close(self) -> None: ...
