"""`output.max_file_bytes`: the next part starts before a file would pass the limit;
a line, and a batch, is never split."""

import gzip
import json

import pytest

from ingest.sink.jsonl import JsonlSink

DAY = 1_764_000_000.0  # 2025-11-24 UTC


def rec(i, size=100):
    return {"id": f"r{i:03d}", "text": "x" * size}


def line_len(size=100):
    return len(json.dumps(rec(0, size), separators=(",", ":"))) + 1


def read_parts(sink):
    """(file name, ids) in part order: base file, then .1, .2, ..."""
    def order(path):
        part = path.name.split(".")[1]
        return (path.name.split(".")[0], int(part) if part.isdigit() else 0)

    parts = []
    for path in sorted(sink.files(), key=order):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.name.endswith(".gz") else data
        assert not data or data.endswith(b"\n")
        parts.append((path.name, [json.loads(line)["id"] for line in data.splitlines()]))
    return parts


@pytest.mark.parametrize("partition, stem", [("day", "articles-2025-11-24"), ("none", "articles")])
def test_batches_roll_over_to_numbered_parts(tmp_path, partition, stem):
    limit = 3 * line_len()
    sink = JsonlSink(tmp_path / "out", partition=partition, max_file_bytes=limit,
                     clock=lambda: DAY)
    offsets = [sink.write([rec(2 * b), rec(2 * b + 1)]) for b in range(4)]
    assert read_parts(sink) == [
        (f"{stem}.jsonl", ["r000", "r001"]), (f"{stem}.1.jsonl", ["r002", "r003"]),
        (f"{stem}.2.jsonl", ["r004", "r005"]), (f"{stem}.3.jsonl", ["r006", "r007"])]
    assert {name: c.offset for name, c in offsets[1].items()} == {f"{stem}.1.jsonl": 2 * line_len()}
    assert all(p.stat().st_size <= limit for p in sink.files())


def test_a_batch_fills_a_part_up_to_the_limit_exactly(tmp_path):
    sink = JsonlSink(tmp_path / "out", max_file_bytes=2 * line_len(), clock=lambda: DAY)
    for i in range(5):
        sink.write([rec(i)])
    assert [len(ids) for _, ids in read_parts(sink)] == [2, 2, 1]


def test_a_batch_larger_than_the_limit_goes_whole_into_a_fresh_part(tmp_path):
    sink = JsonlSink(tmp_path / "out", max_file_bytes=line_len(), clock=lambda: DAY)
    sink.write([rec(0)])
    sink.write([rec(1, 5000), rec(2)])
    sink.write([rec(3)])
    assert [ids for _, ids in read_parts(sink)] == [["r000"], ["r001", "r002"], ["r003"]]


def test_a_restart_continues_in_the_last_part(tmp_path):
    kw = dict(max_file_bytes=2 * line_len(), clock=lambda: DAY)
    first = JsonlSink(tmp_path / "out", **kw)
    for i in range(3):
        first.write([rec(i)])
    again = JsonlSink(tmp_path / "out", **kw)
    assert {n: c.offset for n, c in again.write([rec(3)]).items()} == {
        "articles-2025-11-24.1.jsonl": 2 * line_len()}
    assert again.current_file().name == "articles-2025-11-24.1.jsonl"


def test_a_new_day_starts_without_a_number(tmp_path):
    now = [DAY]
    sink = JsonlSink(tmp_path / "out", max_file_bytes=line_len(), clock=lambda: now[0])
    sink.write([rec(0)])
    sink.write([rec(1)])
    now[0] += 86400
    assert list(sink.write([rec(2)])) == ["articles-2025-11-25.jsonl"]


def test_gzip_parts_are_measured_compressed(tmp_path):
    sink = JsonlSink(tmp_path / "out", compress="gzip", max_file_bytes=400, clock=lambda: DAY)
    for b in range(12):
        sink.write([rec(3 * b + i, 300) for i in range(3)])
    parts = read_parts(sink)
    assert 1 < len(parts) < 12  # compressed: several batches fit in one part
    assert [name for name, _ in parts][:2] == ["articles-2025-11-24.jsonl.gz",
                                              "articles-2025-11-24.1.jsonl.gz"]
    assert [i for _, ids in parts for i in ids] == [f"r{i:03d}" for i in range(36)]
    assert all(p.stat().st_size <= 400 for p in sink.files())
