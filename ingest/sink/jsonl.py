"""JSON-lines output: whole lines only, fsynced before anything is marked seen.

Files live under ``output.dir``: ``articles-YYYY-MM-DD.jsonl`` (partition
``day``, by UTC write date) or ``articles.jsonl`` (``none``); with ``compress:
gzip`` the same names end in ``.jsonl.gz`` and each batch is appended as one
whole gzip member (see gzip_members.py). With ``max_file_bytes``, a batch that would
take the current file past the limit starts the next part,
``articles-YYYY-MM-DD.1.jsonl``, ``.2``, ...; a batch is never split, so a
file is larger than the limit only when one batch alone is. Replicas sharing a
PostgreSQL state each write their own files, the replica's name before the part:
``articles-YYYY-MM-DD.<replica>.jsonl``, ``.<replica>.1.jsonl``; such a sink sees only
its own replica's files (`files`, `repair`, `unreconciled`), whoever else writes in the folder.

A batch is appended with one write; if the write fails (disk full, file-size
limit), the file is cut back to its previous length so no torn line remains.
A torn tail left by a crash is cut off by `repair` at start, and the records a crash
left written but unmarked are found by `unreconciled` (recovery.py). Checkpoints are
byte offsets in the file as stored (compressed offsets for ``.gz``), each with a
fingerprint of the bytes before it. A folder deleted under a running process is made
again by the next write. `StdoutSink` (stdout.py) is the same interface for
``ingest fetch -o -``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import orjson

from ingest.errors import SinkError
from ingest.models import Checkpoint
from ingest.sink import gzip_members, recovery
from ingest.sink.recovery import GZIP

log = logging.getLogger("ingest.sink")
T = TypeVar("T")
PLAIN = ".jsonl"


class JsonlSink:
    def __init__(self, directory: Path, *, partition: str = "day", compress: str = "none",
                 max_file_bytes: int | None = None, replica: str | None = None,
                 clock=time.time) -> None:
        self.dir = Path(directory)
        self.replica = replica  # a name without a last label of digits (ingest.config checks)
        # this replica's file names: a shared folder holds the other replicas' files too
        self._own = None if replica is None else re.compile(
            r"articles(?:-\d{4}-\d{2}-\d{2})?\." + re.escape(replica) + r"(?:\.\d+)?\.jsonl(?:\.gz)?")
        self.partition = partition
        self.suffix = GZIP if compress == "gzip" else PLAIN
        self.max_file_bytes = max_file_bytes
        self._clock = clock
        self._parts: dict[str, int] = {}  # file stem -> current part number
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"sink: cannot create output folder {self.dir}: "
                            f"{exc.strerror}") from exc

    @classmethod
    def from_config(cls, output, replica: str | None = None) -> JsonlSink:
        """The sink ``output`` (an OutputConfig) describes, for ``replica`` if given."""
        return cls(output.dir, partition=output.partition, compress=output.compress,
                   max_file_bytes=output.max_file_bytes, replica=replica)

    def files(self) -> list[Path]:
        """Output files under the folder (only this replica's, with a replica); a folder or
        broken link named *.jsonl is not one."""
        found = [*self.dir.rglob("*" + PLAIN), *self.dir.rglob("*" + GZIP)]
        if self._own is not None:
            found = [p for p in found if self._own.fullmatch(p.name)]
        return sorted(p for p in found if p.is_file())

    def name(self, path: Path) -> str:
        """A file's name relative to the output folder (the checkpoint key)."""
        return path.relative_to(self.dir).as_posix()

    def current_file(self, incoming: int = 0) -> Path:
        """The file the next batch of ``incoming`` bytes (as stored) goes to."""
        stem = "articles"
        if self.partition != "none":
            day = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%d")
            stem = f"articles-{day}"
        if self.replica is not None:
            stem += f".{self.replica}"
        if not self.max_file_bytes:
            return self.dir / (stem + self.suffix)
        part = self._parts.get(stem)
        if part is None:
            part = self._last_part(stem)
        while True:
            path = self.dir / (stem + (f".{part}" if part else "") + self.suffix)
            size = path.stat().st_size if path.exists() else 0
            if size == 0 or size + incoming <= self.max_file_bytes:
                break
            part += 1
        self._parts[stem] = part
        return path

    def _last_part(self, stem: str) -> int:
        pattern = re.compile(re.escape(stem) + r"(?:\.(\d+))?" + re.escape(self.suffix) + "$")
        found = [pattern.match(p.name) for p in self.dir.glob(stem + "*" + self.suffix)]
        return max((int(m.group(1) or 0) for m in found if m), default=0)

    def repair(self) -> list[str]:
        """Cut torn last lines (or gzip members); return the names of files repaired."""
        repaired = []
        for path in self.files():
            if _guarded(path, recovery.cut_torn_tail):
                repaired.append(self.name(path))
                log.warning("sink: cut a torn end from %s (left by a crash)", path)
        return repaired

    def unreconciled(self, checkpoints: Mapping[str, Checkpoint]
                     ) -> Iterator[tuple[str, Checkpoint, list[dict]]]:
        """Per file, the records written after its checkpoint: (name, new checkpoint, records)."""
        for path in self.files():
            name = self.name(path)
            found = _guarded(path, recovery.records_after, checkpoints.get(name))
            if found is not None:
                end, records = found
                yield name, end, records

    def close(self) -> None:
        """Nothing to let go: each batch opens and closes its file."""

    def write(self, records: Sequence[Mapping]) -> dict[str, Checkpoint]:
        """Append records as whole lines and fsync; return ``{file name: its new checkpoint}``."""
        if not records:
            return {}
        data = encode(records)
        if self.suffix == GZIP:
            data = gzip_members.member(data)
        path = self.current_file(len(data))
        fd = self._open(path)
        try:
            start = os.fstat(fd).st_size
            try:
                _write_all(fd, data)
                os.fsync(fd)
                end = start + len(data)
                fingerprint = recovery.fingerprint(os.pread(fd, min(end, recovery.FINGERPRINTED), 0))
            except OSError as exc:
                _truncate(fd, start)
                raise SinkError(f"sink: writing {path} failed: {exc.strerror or exc}; "
                                f"{len(records)} records not written, will retry") from exc
            return {self.name(path): Checkpoint(end, fingerprint)}
        finally:
            os.close(fd)

    def _open(self, path: Path) -> int:
        """``path`` opened for appending; a folder deleted under us is made again."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT  # read: the fingerprint
        try:
            try:
                return os.open(path, flags, 0o644)
            except FileNotFoundError:
                log.warning("sink: output folder %s is gone; making it again", path.parent)
                path.parent.mkdir(parents=True, exist_ok=True)
                return os.open(path, flags, 0o644)
        except OSError as exc:
            raise SinkError(f"sink: cannot open {path}: {exc.strerror}") from exc


def encode(records: Sequence[Mapping]) -> bytes:
    """Records as JSON lines: UTF-8, one object per line, each ending in a newline."""
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _truncate(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        log.error("sink: could not cut a partly written batch back to %d bytes", size)


def _guarded(path: Path, action: Callable[..., T], *args) -> T:
    """``action(path, *args)``; an OSError becomes a SinkError naming the file."""
    try:
        return action(path, *args)
    except OSError as exc:
        raise SinkError(f"sink: cannot read {path}: {exc.strerror or exc}") from exc
