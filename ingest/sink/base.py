"""The Sink Protocol: what the pipeline needs of wherever records go.

A sink takes whole batches: ``write`` returns only once every line of the batch is durable
(or raises SinkError with nothing of the batch left behind), so the pipeline marks records
seen only after it returns. The checkpoints it returns, stored with the seen marks, let
``unreconciled`` find the records a crash left written but unmarked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from ingest.models import Checkpoint


class Sink(Protocol):
    def repair(self) -> list[str]:
        """Cut what a crash left half-written; return the names of the files repaired."""
        ...

    def unreconciled(self, checkpoints: Mapping[str, Checkpoint]
                     ) -> Iterator[tuple[str, Checkpoint, list[dict]]]:
        """Per output, the records written after its checkpoint: (name, new checkpoint, records)."""
        ...

    def write(self, records: Sequence[Mapping]) -> dict[str, Checkpoint]:
        """Append a batch durably; return ``{output name: its new checkpoint}``."""
        ...

    def close(self) -> None:
        """Let go of what the sink holds open (a database connection); files are closed
        after each batch."""
        ...
