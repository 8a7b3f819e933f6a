"""The state store's outages as the dispatcher sees them: one log line when the store
stops answering and one when it answers again, not one per dispatch tick.

While it is down the dispatcher claims nothing; polls that were running fail as transient
(their marks wait in the pipeline's queue, their feeds come back when their leases end),
/readyz answers 503 with the store's reason, and work resumes by itself once a claim
succeeds again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("ingest.daemon")


class StoreOutage:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._since: float | None = None  # when the store last stopped answering

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: Exception) -> None:
        if self._since is None:
            self._since = self._monotonic()
            log.error("daemon: the state store does not answer; no feed is claimed until it "
                      "does: %s", exc)

    def answered(self) -> None:
        if self._since is not None:
            log.warning("daemon: the state store answers again after %.0fs; polling resumes",
                        self._monotonic() - self._since)
            self._since = None
