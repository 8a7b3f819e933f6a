"""`ingest fetch -o -`: records go to standard output (for pipes) instead of files.

The same Sink Protocol (base.py) as JsonlSink. A batch is written and flushed (and fsynced
when stdout is a regular file) before `write` returns, so the pipeline still
marks records seen only after their lines are out. There are no checkpoints:
what a pipe's reader did with a line cannot be known. Start-up repair and
reconciliation are done on the configured output folder, when it exists, so a
crash of an earlier file-writing run is settled before anything is printed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from typing import BinaryIO

from ingest.errors import SinkError
from ingest.models import Checkpoint
from ingest.sink.jsonl import JsonlSink, encode


class StdoutSink:
    def __init__(self, stream: BinaryIO, files: JsonlSink | None = None) -> None:
        self.stream = stream
        self.files = files  # the output folder, for start-up recovery only
        self.broken = False  # the reader went away (EPIPE)

    def repair(self) -> list[str]:
        return self.files.repair() if self.files else []

    def unreconciled(self, checkpoints: Mapping[str, Checkpoint]
                     ) -> Iterator[tuple[str, Checkpoint, list[dict]]]:
        if self.files:
            yield from self.files.unreconciled(checkpoints)

    def close(self) -> None:
        """The stream is the caller's (standard output)."""

    def write(self, records: Sequence[Mapping]) -> dict[str, Checkpoint]:
        """Write and flush whole lines; no checkpoint (``{}``)."""
        if not records:
            return {}
        if self.broken:
            raise SinkError(f"sink: standard output is closed; {len(records)} records not "
                            "written, will retry on a later run")
        try:
            self.stream.write(encode(records))
            self.stream.flush()
            _sync_if_file(self.stream)
        except OSError as exc:
            self.broken = self.broken or exc.errno == errno.EPIPE
            raise SinkError(f"sink: writing to standard output failed: {exc.strerror or exc}; "
                            f"{len(records)} records not marked seen, will retry") from exc
        return {}


def _sync_if_file(stream: BinaryIO) -> None:
    """fsync when stdout was redirected to a file; pipes and terminals cannot be synced."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.fsync(fd)
