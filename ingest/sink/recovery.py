"""Recovery of the JSON-lines files after a crash: torn tails cut, unmarked records found.

A crash during a write can leave a file's last line (or gzip member) half-written:
`cut_torn_tail` cuts it back to the last whole one. A crash between writing a batch and
marking it seen leaves records the store does not know: `records_after` reads them from
the file's checkpoint on. A checkpoint is a byte offset in the file as stored, with a
fingerprint of the bytes before it, so a file truncated or replaced under the same name
is read from its start rather than from a stale offset.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson

from ingest.models import Checkpoint
from ingest.sink import gzip_members

log = logging.getLogger("ingest.sink")
GZIP = ".jsonl.gz"
FINGERPRINTED = 4096  # bytes at the start of a file that identify it


def fingerprint(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()[:16]


def cut_torn_tail(path: Path) -> bool:
    """Cut ``path`` back to its last whole line (or gzip member); True if it was cut."""
    size = path.stat().st_size
    end = gzip_members.whole_end(path) if path.name.endswith(GZIP) else _last_line_end(path, size)
    if end == size:
        return False
    with path.open("rb+") as fh:
        fh.truncate(end)
    return True


def records_after(path: Path, checkpoint: Checkpoint | None
                  ) -> tuple[Checkpoint, list[dict]] | None:
    """The checkpoint at the end of ``path`` and the records written after ``checkpoint``;
    None when there are none. Raises OSError."""
    size = path.stat().st_size
    start = _resume_at(path, size, checkpoint)
    if size <= start:
        return None
    lines = list(_lines(path, start))
    records = [_load(line) for line in lines if line.strip()]
    end = Checkpoint(size, _fingerprint_of(path, size))
    return end, [r for r in records if r is not None]


def _lines(path: Path, start: int) -> Iterator[bytes]:
    if path.name.endswith(GZIP):
        yield from gzip_members.iter_lines(path, start)
        return
    with path.open("rb") as fh:
        fh.seek(start)
        yield from fh


def _fingerprint_of(path: Path, offset: int) -> str:
    """The fingerprint of ``path``'s bytes before ``offset`` (its first few KB at most)."""
    with path.open("rb") as fh:
        return fingerprint(fh.read(min(offset, FINGERPRINTED)))


def _resume_at(path: Path, size: int, checkpoint: Checkpoint | None) -> int:
    """Where reconciliation of ``path`` starts: its checkpoint while the file is the
    one the checkpoint was taken of, else 0 (every record is checked again; those the
    store knows are not counted twice)."""
    if checkpoint is None:
        return 0
    offset, known = checkpoint
    if offset <= size and (known is None or known == _fingerprint_of(path, offset)):
        return offset
    log.warning("sink: %s changed since its checkpoint at byte %d (truncated or replaced); "
                "checking all its records", path, offset)
    return 0


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
