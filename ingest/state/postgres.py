"""`PostgresStore`: the state store (`ingest.state.store.Store`) in a PostgreSQL database
that several replicas share.

Opening it waits for the database (``connect_timeout``), migrates its schema
(postgres_schema), takes this replica's identity (postgres_identity) and starts the keeper
that renews leases and brings the store back after the database went away
(postgres_link). Every method is one statement in autocommit: one round trip, one
transaction. The tables' methods are in postgres_seen, postgres_feeds, postgres_footers,
postgres_stories, postgres_hosts, postgres_robots and postgres_subscriptions, which the
read-only view shares.

    PostgresStore(url, replica=...)           the writer: one per process
    PostgresStore.open_readonly(url)          `ingest status`, `footers`, `stories`: reads
                                              only, no identity, no migration
"""

from __future__ import annotations

import time

from ingest.errors import StateError
from ingest.redact import describe_conninfo as describe
from ingest.state.postgres_feeds import FeedRows
from ingest.state.postgres_footers import FooterStats
from ingest.state.postgres_hosts import HostRows
from ingest.state.postgres_link import Link
from ingest.state.postgres_robots import RobotsRows
from ingest.state.postgres_seen import SeenMarks
from ingest.state.postgres_stories import StoryRows
from ingest.state.postgres_subscriptions import SubscriptionRows


class PostgresStore(SeenMarks, FeedRows, FooterStats, StoryRows, HostRows, RobotsRows,
                    SubscriptionRows):
    """The shared store; one live process per ``replica`` name on a database."""

    lease_seconds = 10.0

    def __init__(self, url: str, *, replica: str, connect_timeout: float = 0.0,
                 clock=time.time) -> None:
        if not replica.strip():
            raise StateError("state: state.replica is empty; name this replica "
                             "(the host name is the default)")
        super().__init__(Link(url, describe(url), f"ingest {replica}"), clock)
        self.replica = replica
        self._link.open_writer(replica, self.lease_seconds, connect_timeout)

    @classmethod
    def open_readonly(cls, url: str) -> ReadOnlyPostgresStore:
        """A reader beside the replicas: no identity, no migration; writes are refused."""
        return ReadOnlyPostgresStore(url)

    def close(self) -> None:
        """Hand back every lease and claim of this replica (its feeds are claimable at
        once), stop the keeper, let the identity go."""
        self._link.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.where}, replica={self.replica!r})"


class ReadOnlyPostgresStore(SeenMarks, FeedRows, FooterStats, StoryRows, HostRows, RobotsRows,
                            SubscriptionRows):
    """A read-only view: a database of another schema version, or none, is refused."""

    def __init__(self, url: str, *, clock=time.time) -> None:
        super().__init__(Link(url, describe(url), "ingest (read-only)"), clock)
        try:
            self._link.open_reader()
        except StateError:
            self._link.close()
            raise

    def _writing(self, what: str) -> None:
        raise StateError(f"state: {self.where} is open read-only; nothing was changed")

    def close(self) -> None:
        self._link.close()

    def __repr__(self) -> str:
        return f"ReadOnlyPostgresStore({self.where})"
