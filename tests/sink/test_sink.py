import json
import os
import shutil

import pytest

from ingest.errors import SinkError
from ingest.sink.jsonl import JsonlSink

DAY = 1_764_000_000.0  # 2025-11-24 UTC


def make_sink(tmp_path, **kw):
    return JsonlSink(tmp_path / "out", clock=lambda: DAY, **kw)


def test_write_appends_to_the_day_file_and_reports_offsets(tmp_path):
    """(Whole lines, UTF-8, failed writes: test_sink_contract.py.)"""
    sink = make_sink(tmp_path)
    first = sink.write([{"id": "a", "text": "città è bella"}])
    second = sink.write([{"id": "b"}, {"id": "c"}])
    path = sink.dir / "articles-2025-11-24.jsonl"
    data = path.read_bytes()
    assert [json.loads(line)["id"] for line in data.splitlines()] == ["a", "b", "c"]
    assert second["articles-2025-11-24.jsonl"].offset == len(data)
    assert first["articles-2025-11-24.jsonl"].offset < len(data)


def test_partition_none_uses_one_file(tmp_path):
    sink = make_sink(tmp_path, partition="none")
    sink.write([{"id": "a"}])
    assert [p.name for p in sink.files()] == ["articles.jsonl"]


@pytest.mark.parametrize("content, expected", [
    (b'{"id": "a"}\n{"id": "b"}\n{"id": "c", "te', b'{"id": "a"}\n{"id": "b"}\n'),
    (b'{"id": "a"}\n', b'{"id": "a"}\n'),
    (b'{"id": "torn', b""),
    (b"", b""),
])
def test_repair_cuts_torn_tail(tmp_path, content, expected):
    sink = make_sink(tmp_path)
    path = sink.dir / "sub" / "articles-2025-01-01.jsonl"
    path.parent.mkdir()
    path.write_bytes(content)
    repaired = sink.repair()
    assert path.read_bytes() == expected
    assert repaired == (["sub/articles-2025-01-01.jsonl"] if content != expected else [])


def test_repair_handles_long_torn_line(tmp_path):
    sink = make_sink(tmp_path)
    path = sink.dir / "articles.jsonl"
    good = b'{"id": "a"}\n'
    path.write_bytes(good + b"x" * 300_000)
    sink.repair()
    assert path.read_bytes() == good


def test_unreconciled_reads_after_checkpoint(tmp_path):
    sink = make_sink(tmp_path)
    offsets = sink.write([{"id": "a"}])
    sink.write([{"id": "b"}, {"id": "c"}])
    rows = list(sink.unreconciled(offsets))
    assert [(name, [r["id"] for r in recs]) for name, _, recs in rows] == [
        ("articles-2025-11-24.jsonl", ["b", "c"])]
    end = rows[0][1]
    assert list(sink.unreconciled({"articles-2025-11-24.jsonl": end})) == []


def test_unwritable_folder_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions; test_sink_contract.py covers a failing write")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    sink = JsonlSink(out)
    with pytest.raises(SinkError, match="cannot open"):
        sink.write([{"id": "a"}])


def test_a_checkpoint_of_a_file_truncated_or_replaced_since_is_not_trusted(tmp_path, caplog):
    """The records after a stale offset would be skipped: a file cut shorter than its
    checkpoint, or another file under the same name, is reconciled from its start."""
    sink = make_sink(tmp_path)
    path = sink.dir / "articles-2025-11-24.jsonl"
    stored = sink.write([{"id": "a"}, {"id": "b"}])
    ids = lambda rows: [[r["id"] for r in recs] for _, _, recs in rows]  # noqa: E731
    assert list(sink.unreconciled(stored)) == []  # the same file: nothing to do

    path.write_bytes(b'{"id": "x"}\n')  # cut shorter than its checkpoint (and rewritten)
    assert ids(sink.unreconciled(stored)) == [["x"]]

    path.write_bytes(b'{"id": "y"}\n{"id": "z"}\n{"id": "w"}\n')  # replaced, and longer
    assert ids(sink.unreconciled(stored)) == [["y", "z", "w"]]
    assert "changed since its checkpoint" in caplog.text

    restored = next(iter(sink.unreconciled(stored)))[1]  # the checkpoint reconciliation moves to
    sink.write([{"id": "v"}])
    assert ids(sink.unreconciled({path.name: restored})) == [["v"]]


def test_a_deleted_output_folder_is_made_again_by_the_next_write(tmp_path, caplog):
    sink = make_sink(tmp_path)
    sink.write([{"id": "a"}])
    shutil.rmtree(sink.dir)
    stored = sink.write([{"id": "b"}])
    assert (sink.dir / "articles-2025-11-24.jsonl").read_bytes() == b'{"id":"b"}\n'
    assert list(stored) == ["articles-2025-11-24.jsonl"]
    assert f"output folder {sink.dir} is gone; making it again" in caplog.text
