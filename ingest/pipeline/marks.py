"""Seen marks handed to the store in the order their records were written.

A batch's records are written (and fsynced) first, then marked seen together with the
sink's checkpoints. When the store refuses the marks (disk full, database gone), the
batch waits here: its articles stay claimed, so no poll works on them again, and the
next poll hands the waiting marks over again before it claims anything. A record is
never written twice. Marks go to the store strictly in write order, so a checkpoint
never passes a record whose mark still waits: after a crash meanwhile, the next start
finds those records by reconciling the output files from their checkpoints.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping

from ingest.errors import StateError
from ingest.models import Checkpoint
from ingest.state.store import Store

log = logging.getLogger("ingest.pipeline")


class MarkQueue:
    def __init__(self, store: Store) -> None:
        self._store = store
        # written batches whose marks the store has not taken yet: their claims are kept
        self._waiting: deque[tuple[Mapping[str, str], Mapping[str, Checkpoint]]] = deque()

    def add(self, marks: Mapping[str, str], checkpoints: Mapping[str, Checkpoint]) -> None:
        """Mark a written batch seen; StateError if the store refuses (the batch waits)."""
        if marks or checkpoints:
            self._waiting.append((marks, checkpoints))
        self.settle()

    def settle(self) -> None:
        """Hand the waiting marks to the store, oldest first; StateError while it refuses."""
        while self._waiting:
            marks, checkpoints = self._waiting[0]
            self._store.mark_seen(marks, checkpoints)
            self._waiting.popleft()
            for key in marks:
                self._store.release(key)

    def release(self, *keys: str | None) -> None:
        """Release a poll's claims, except those whose records wait for their marks."""
        for key in keys:
            if key and not any(key in marks for marks, _ in self._waiting):
                self._store.release(key)

    def settle_at_exit(self) -> None:
        try:
            self.settle()
        except StateError as exc:
            waiting = sum(len(marks) for marks, _ in self._waiting)
            log.error("state: %d written articles are not marked seen (%s); the next start "
                      "finds them in the output files (records sent to stdout may be sent "
                      "again)", waiting, exc)
