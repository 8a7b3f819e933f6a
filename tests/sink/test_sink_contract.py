"""The Sink contract: what every sink does, seen only through the Sink Protocol.

Each test runs against every output in OUTPUTS: JSON-lines files (plain and gzip) under
``tmp_path``, standard output (a stream in memory), and a table of a real PostgreSQL
(read back as JSON lines). A batch comes out as whole lines, one record each, or not at
all. Behaviour only one sink has (parts, fingerprints, EPIPE, columns, seen marks) is
tested in that sink's own module.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import orjson
import psycopg
import pytest

from ingest.errors import SinkError
from ingest.sink.base import Sink
from ingest.sink.jsonl import JsonlSink
from ingest.sink.postgres import PostgresSink
from ingest.sink.stdout import StdoutSink

# The state store's table of seen marks, which the PostgreSQL sink writes into.
SEEN_DDL = ("CREATE TABLE IF NOT EXISTS seen (key text PRIMARY KEY, status text NOT NULL, "
            "seen_at double precision NOT NULL)")

BATCH = [{"id": "a", "text": "città è bella", "tags": ["x", "y"]},
         {"id": "b", "text": "two\nlines, a \"quote\" and a tab\t", "n": 3},
         {"id": "c", "nested": {"k": None, "f": 1.5}}]


class FileOutput:
    """A JsonlSink writing one file (``partition: none``) under ``tmp_path``."""

    def __init__(self, tmp_path: Path, compress: str) -> None:
        self.dir, self.compress = tmp_path / "out", compress
        self.sink: Sink = JsonlSink(self.dir, partition="none", compress=compress)

    def output(self) -> bytes:
        """The bytes a reader of the output gets (decompressed)."""
        files = sorted(self.dir.rglob("articles.jsonl*"))
        return b"".join(gzip.decompress(p.read_bytes()) if p.suffix == ".gz"
                        else p.read_bytes() for p in files)

    def write_failing(self, before: list[dict], failing: list[dict]) -> str:
        """Write ``before``, then ``failing`` on a disk that fills up during the write
        (RLIMIT_FSIZE, in a child process); return the SinkError's message."""
        script = f"""
import resource, signal
from ingest.sink.jsonl import JsonlSink
from ingest.errors import SinkError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
sink = JsonlSink({str(self.dir)!r}, partition="none", compress={self.compress!r})
[path] = sink.write({before!r})
size = (sink.dir / path).stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY))
try:
    sink.write({failing!r})
except SinkError as exc:
    print(exc)
"""
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


class Failing(io.BytesIO):
    """A stream that takes bytes until ``full`` is set, then refuses every write."""

    full = False

    def write(self, data) -> int:
        if self.full:
            raise OSError(28, "No space left on device")
        return super().write(data)


class StreamOutput:
    """A StdoutSink writing to a stream in memory, with no output folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.stream = Failing()
        self.sink: Sink = StdoutSink(self.stream)

    def output(self) -> bytes:
        return self.stream.getvalue()

    def write_failing(self, before: list[dict], failing: list[dict]) -> str:
        self.sink.write(before)
        self.stream.full = True
        with pytest.raises(SinkError) as info:
            self.sink.write(failing)
        return str(info.value)


class TableOutput:
    """A PostgresSink writing the table ``articles`` of a fresh database."""

    def __init__(self, url: str) -> None:
        self.url = url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SEEN_DDL)
        self.sink: Sink = PostgresSink(url, "articles")

    def output(self) -> bytes:
        """The table's records as JSON lines, in the order of their ids."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT record FROM articles ORDER BY id").fetchall()
        return b"".join(orjson.dumps(record) + b"\n" for (record,) in rows)

    def write_failing(self, before: list[dict], failing: list[dict]) -> str:
        """Write ``before``, then ``failing``, whose last record the database refuses
        (a trigger) after the others were inserted."""
        self.sink.write(before)
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                         "BEGIN RAISE EXCEPTION 'disk full (a test)'; END $$")
            conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON articles FOR EACH ROW "
                         f"WHEN (NEW.id = {failing[-1]['id']!r}) EXECUTE FUNCTION refuse()")
        with pytest.raises(SinkError) as info:
            self.sink.write(failing)
        return str(info.value)

    def close(self) -> None:
        self.sink.close()  # type: ignore[attr-defined]


OUTPUTS = {
    "jsonl": lambda request, tmp_path: FileOutput(tmp_path, "none"),
    "jsonl-gzip": lambda request, tmp_path: FileOutput(tmp_path, "gzip"),
    "stdout": lambda request, tmp_path: StreamOutput(tmp_path),
    "postgres": lambda request, tmp_path: TableOutput(request.getfixturevalue("postgres_url")),
}


@pytest.fixture(params=sorted(OUTPUTS))
def out(request, tmp_path):
    output = OUTPUTS[request.param](request, tmp_path)
    yield output
    if hasattr(output, "close"):
        output.close()


def records_in(data: bytes) -> list[dict]:
    assert not data or data.endswith(b"\n"), data[-80:]  # whole lines only
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def test_a_batch_comes_back_as_the_same_records_one_whole_line_each(out) -> None:
    out.sink.write(BATCH[:1])
    out.sink.write(BATCH[1:])
    data = out.output()
    assert records_in(data) == BATCH
    assert "città è bella" in data.decode("utf-8")  # UTF-8, not \u escapes


def test_an_empty_batch_writes_nothing(out) -> None:
    assert out.sink.write([]) == {}
    assert out.output() == b""
    out.sink.write(BATCH)
    assert out.sink.write([]) == {}
    assert records_in(out.output()) == BATCH


def test_nothing_is_left_to_reconcile_or_repair_after_whole_batches(out) -> None:
    checkpoints = out.sink.write(BATCH[:2])
    checkpoints |= out.sink.write(BATCH[2:])
    assert list(out.sink.unreconciled(checkpoints)) == []
    assert out.sink.repair() == []


def test_a_failed_write_is_a_sink_error_and_leaves_no_part_of_the_batch(out) -> None:
    noise = random.Random(7)  # text gzip cannot shrink below the space left
    failing = [{"id": str(i), "text": noise.randbytes(1000).hex()} for i in range(20)]
    message = out.write_failing(BATCH, failing)
    assert message.startswith("sink: writing") and "records not" in message, message
    assert records_in(out.output()) == BATCH
