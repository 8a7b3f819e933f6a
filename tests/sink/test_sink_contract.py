"""The Sink contract: what every sink does, seen only through the Sink Protocol.

Each test runs against every output in OUTPUTS: JSON-lines files (plain and gzip) under
``tmp_path``, and standard output (a stream in memory). A batch comes out as whole lines,
one record each, or not at all. Behaviour only one sink has (parts, fingerprints, EPIPE)
is tested in that sink's own module.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.errors import SinkError
from ingest.sink.base import Sink
from ingest.sink.jsonl import JsonlSink
from ingest.sink.stdout import StdoutSink

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


OUTPUTS = {
    "jsonl": lambda tmp_path: FileOutput(tmp_path, "none"),
    "jsonl-gzip": lambda tmp_path: FileOutput(tmp_path, "gzip"),
    "stdout": StreamOutput,
}


@pytest.fixture(params=sorted(OUTPUTS))
def out(request, tmp_path):
    return OUTPUTS[request.param](tmp_path)


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
