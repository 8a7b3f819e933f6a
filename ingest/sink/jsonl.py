"""JSON-lines output: whole lines only, fsynced before anything is marked seen.

Files live under ``output.dir``: ``articles-YYYY-MM-DD.jsonl`` (partition
``day``, by UTC write date) or ``articles.jsonl`` (``none``); with ``compress:
gzip`` the same names end in ``.jsonl.gz`` and each batch is appended as one
whole gzip member (see sink_gzip). With ``max_file_bytes``, a batch that would
take the current file past the limit starts the next part,
``articles-YYYY-MM-DD.1.jsonl``, ``.2``, ...; a batch is never split, so a
file is larger than the limit only when one batch alone is.

A batch is appended with one write; if the write fails (disk full, file-size
limit), the file is cut back to its previous length so no torn line remains.
A torn tail left by a crash is cut off by `repair` at start. Checkpoints are
byte offsets in the file as stored (compressed offsets for ``.gz``), each with a
fingerprint of the bytes before it, so a file truncated or replaced under the same
name is reconciled from its start rather than from a stale offset. A folder deleted
under a running process is made again by the next write.
`StdoutSink` (sink_stdout.py) is the same interface for ``ingest fetch -o -``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import orjson

from ingest.sink import gzip_members as sink_gzip
from ingest.errors import SinkError
from ingest.models import Checkpoint

log = logging.getLogger("ingest.sink")
PLAIN, GZIP = ".jsonl", ".jsonl.gz"
_FINGERPRINTED = 4096  # bytes at the start of a file that identify it


class JsonlSink:
    def __init__(self, directory: Path, *, partition: str = "day", compress: str = "none",
                 max_file_bytes: int | None = None, clock=time.time) -> None:
        self.dir = Path(directory)
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
    def from_config(cls, output) -> JsonlSink:
        """The sink ``output`` (an OutputConfig) describes."""
        return cls(output.dir, partition=output.partition, compress=output.compress,
                   max_file_bytes=output.max_file_bytes)

    def files(self) -> list[Path]:
        """Output files under the folder; a folder or broken link named *.jsonl is not one."""
        found = [*self.dir.rglob("*" + PLAIN), *self.dir.rglob("*" + GZIP)]
        return sorted(p for p in found if p.is_file())

    def name(self, path: Path) -> str:
        """A file's name relative to the output folder (the checkpoint key)."""
        return path.relative_to(self.dir).as_posix()

    def current_file(self, incoming: int = 0) -> Path:
        """The file the next batch of ``incoming`` bytes (as stored) goes to."""
        stem = "articles"
        if self.partition != "none":
            day = datetime.fromtimestamp(self._clock(), timezone.utc).strftime("%Y-%m-%d")
            stem = f"articles-{day}"
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
            if _guarded(path, _cut_torn_tail):
                repaired.append(self.name(path))
                log.warning("sink: cut a torn end from %s (left by a crash)", path)
        return repaired

    def unreconciled(self, checkpoints: Mapping[str, Checkpoint]
                     ) -> Iterator[tuple[str, Checkpoint, list[dict]]]:
        """Per file, the records written after its checkpoint: (name, new checkpoint, records)."""
        for path in self.files():
            name = self.name(path)
            size = _guarded(path, lambda p: p.stat().st_size)
            start = _guarded(path, lambda p: _resume_at(p, size, checkpoints.get(name)))
            if size <= start:
                continue
            lines = _guarded(path, lambda p: list(_lines(p, start)))
            records = [_load(line) for line in lines if line.strip()]
            end = Checkpoint(size, _guarded(path, lambda p: _fingerprint_of(p, size)))
            yield name, end, [r for r in records if r is not None]

    def write(self, records: Sequence[Mapping]) -> dict[str, Checkpoint]:
        """Append records as whole lines and fsync; return ``{file name: its new checkpoint}``."""
        if not records:
            return {}
        data = encode(records)
        if self.suffix == GZIP:
            data = sink_gzip.member(data)
        path = self.current_file(len(data))
        fd = self._open(path)
        try:
            start = os.fstat(fd).st_size
            try:
                _write_all(fd, data)
                os.fsync(fd)
                end = start + len(data)
                fingerprint = _fingerprint(os.pread(fd, min(end, _FINGERPRINTED), 0))
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


def _lines(path: Path, start: int) -> Iterator[bytes]:
    if path.name.endswith(GZIP):
        yield from sink_gzip.iter_lines(path, start)
        return
    with path.open("rb") as fh:
        fh.seek(start)
        yield from fh


def _fingerprint(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()[:16]


def _fingerprint_of(path: Path, offset: int) -> str:
    """The fingerprint of ``path``'s bytes before ``offset`` (its first few KB at most)."""
    with path.open("rb") as fh:
        return _fingerprint(fh.read(min(offset, _FINGERPRINTED)))


def _resume_at(path: Path, size: int, checkpoint: Checkpoint | None) -> int:
    """Where reconciliation of ``path`` starts: its checkpoint while the file is the
    one the checkpoint was taken of, else 0 (every record is checked again; those the
    store knows are not counted twice)."""
    if checkpoint is None:
        return 0
    offset, fingerprint = checkpoint
    if offset <= size and (fingerprint is None or fingerprint == _fingerprint_of(path, offset)):
        return offset
    log.warning("sink: %s changed since its checkpoint at byte %d (truncated or replaced); "
                "checking all its records", path, offset)
    return 0


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


def _guarded(path: Path, action):
    """Run ``action(path)``; an OSError becomes a SinkError naming the file."""
    try:
        return action(path)
    except OSError as exc:
        raise SinkError(f"sink: cannot read {path}: {exc.strerror or exc}") from exc


def _cut_torn_tail(path: Path) -> bool:
    """Cut ``path`` back to its last whole line (or gzip member); True if it was cut."""
    size = path.stat().st_size
    end = sink_gzip.whole_end(path) if path.name.endswith(GZIP) else _last_line_end(path, size)
    if end == size:
        return False
    with path.open("rb+") as fh:
        fh.truncate(end)
    return True


def _last_line_end(path: Path, size: int) -> int:
    """The offset just past the last newline of ``path`` (0 if it has none)."""
    with path.open("rb") as fh:
        fh.seek(max(0, size - 1))
        if fh.read(1) in (b"\n", b""):  # whole (or empty): the usual case, one byte read
            return size
        pos = size
        while pos > 0:  # read backwards in blocks
            step = min(65536, pos)
            fh.seek(pos - step)
            idx = fh.read(step).rfind(b"\n")
            if idx != -1:
                return pos - step + idx + 1
            pos -= step
    return 0


def _load(line: bytes) -> dict | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        log.error("sink: skipping an unreadable line during reconciliation")
        return None
    return value if isinstance(value, dict) else None
