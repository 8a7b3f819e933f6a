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
        self._held: set[str] = set()  # claims whose polls ended while their marks waited
        # claims the store failed to release: a shared store keeps a live replica's claims,
        # so they are released again with the next ones
        self._unreleased: set[str] = set()

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
            done = self._held.intersection(marks)
            self._held -= done
            self._release(done)

    def release(self, *keys: str | None) -> None:
        """Release a poll's claims, except those whose records wait for their marks (held
        until the store takes the marks)."""
        waiting = {key for marks, _ in self._waiting for key in marks}
        present = {key for key in keys if key}
        self._held |= present & waiting
        self._release(present - waiting)

    def _release(self, keys: set[str]) -> None:
        keys = keys | self._unreleased
        if not keys:
            return
        try:
            self._store.release_many(keys)
        except StateError:
            self._unreleased = keys
            raise
        self._unreleased = set()

    def settle_at_exit(self) -> None:
        try:
            self.settle()
        except StateError as exc:
            waiting = sum(len(marks) for marks, _ in self._waiting)
            log.error("state: %d written articles are not marked seen (%s); the next start "
                      "finds them in the output files (records sent to stdout may be sent "
                      "again)", waiting, exc)
