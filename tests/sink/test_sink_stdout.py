"""`ingest fetch -o -`: the stdout sink writes whole lines, flushed, and keeps no checkpoint."""

import io

import pytest

from ingest.errors import SinkError
from ingest.sink.jsonl import JsonlSink
from ingest.sink.stdout import StdoutSink


class Flushes(io.BytesIO):
    """Remembers what had been flushed when write() returned (nothing) and after flush()."""

    def __init__(self):
        super().__init__()
        self.flushed = b""

    def flush(self):
        self.flushed = self.getvalue()


class Closed(io.BytesIO):
    def write(self, data):
        raise BrokenPipeError(32, "Broken pipe")


def test_lines_are_flushed_and_no_checkpoint_is_kept():
    """(Whole lines, UTF-8, empty batches: test_sink_contract.py.)"""
    stream = Flushes()
    sink = StdoutSink(stream)
    assert sink.write([{"id": "a", "text": "città"}, {"id": "b"}]) == {}
    assert stream.flushed == stream.getvalue() != b""
    assert sink.repair() == [] and list(sink.unreconciled({})) == []  # no output folder


def test_a_closed_pipe_is_a_sink_error_so_nothing_is_marked():
    sink = StdoutSink(Closed())
    with pytest.raises(SinkError, match="standard output failed: Broken pipe"):
        sink.write([{"id": "a"}])
    assert sink.broken
    with pytest.raises(SinkError, match="standard output is closed"):
        sink.write([{"id": "b"}])


def test_start_up_recovery_uses_the_output_folder(tmp_path):
    files = JsonlSink(tmp_path / "out", partition="none")
    files.write([{"id": "a"}])
    (tmp_path / "out" / "articles.jsonl").open("ab").write(b'{"id": "torn')
    sink = StdoutSink(io.BytesIO(), files)
    assert sink.repair() == ["articles.jsonl"]
    assert [[r["id"] for r in recs] for _, _, recs in sink.unreconciled({})] == [["a"]]


def test_a_regular_file_is_synced(tmp_path):
    with (tmp_path / "records.jsonl").open("wb") as fh:
        StdoutSink(fh).write([{"id": "a"}])
    assert (tmp_path / "records.jsonl").read_bytes() == b'{"id":"a"}\n'
