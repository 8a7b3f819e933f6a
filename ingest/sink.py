"""JSON-lines output: whole lines only, fsynced before anything is marked seen.

Files live under ``output.dir``: ``articles-YYYY-MM-DD.jsonl`` (partition
``day``, by UTC write date) or ``articles.jsonl`` (``none``). A batch is
appended with one write per file; if the write fails (disk full, file-size
limit), the file is cut back to its previous length so no torn line remains.
A torn tail left by a crash is cut off by `repair` at start.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import orjson

from ingest.errors import SinkError

log = logging.getLogger("ingest.sink")


class JsonlSink:
    def __init__(self, directory: Path, *, partition: str = "day", clock=time.time) -> None:
        self.dir = Path(directory)
        self.partition = partition
        self._clock = clock
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"sink: cannot create output folder {self.dir}: {exc.strerror}") from exc

    def files(self) -> list[Path]:
        return sorted(self.dir.rglob("*.jsonl"))

    def name(self, path: Path) -> str:
        """A file's name relative to the output folder (the checkpoint key)."""
        return path.relative_to(self.dir).as_posix()

    def current_file(self) -> Path:
        if self.partition == "none":
            return self.dir / "articles.jsonl"
        day = datetime.fromtimestamp(self._clock(), timezone.utc).strftime("%Y-%m-%d")
        return self.dir / f"articles-{day}.jsonl"

    def repair(self) -> list[str]:
        """Cut torn (unterminated) last lines; return the names of files repaired."""
        repaired = []
        for path in self.files():
            if _cut_torn_tail(path):
                repaired.append(self.name(path))
                log.warning("sink: cut a torn last line from %s (left by a crash)", path)
        return repaired

    def unreconciled(self, checkpoints: Mapping[str, int]) -> Iterator[tuple[str, int, list[dict]]]:
        """Per file, the records written after its checkpoint: (name, end offset, records)."""
        for path in self.files():
            name = self.name(path)
            start = checkpoints.get(name, 0)
            size = path.stat().st_size
            if size <= start:
                continue
            with path.open("rb") as fh:
                fh.seek(start)
                records = [_load(line) for line in fh if line.strip()]
            yield name, size, [r for r in records if r is not None]

    def write(self, records: Sequence[Mapping]) -> dict[str, int]:
        """Append records as whole lines and fsync; return ``{file name: new size}``."""
        if not records:
            return {}
        path = self.current_file()
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SinkError(f"sink: cannot open {path}: {exc.strerror}") from exc
        try:
            start = os.fstat(fd).st_size
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                _truncate(fd, start)
                raise SinkError(f"sink: writing {path} failed: {exc.strerror or exc}; "
                                f"{len(records)} records not written, will retry") from exc
            return {self.name(path): start + len(data)}
        finally:
            os.close(fd)


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


def _cut_torn_tail(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return False
        # Find the last newline, reading backwards in blocks.
        pos = size
        while pos > 0:
            step = min(65536, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            idx = block.rfind(b"\n")
            if idx != -1:
                fh.truncate(pos - step + idx + 1)
                return True
            pos -= step
        fh.truncate(0)
        return True


def _load(line: bytes) -> dict | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        log.error("sink: skipping an unreadable line during reconciliation")
        return None
    return value if isinstance(value, dict) else None
