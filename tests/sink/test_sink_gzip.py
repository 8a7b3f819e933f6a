"""`output.compress: gzip`: one whole gzip member per batch, torn tails cut back after a crash."""

import gzip
import json
import os

import pytest

from ingest.sink import gzip_members
from ingest.sink.jsonl import JsonlSink
from ingest.state.sqlite import SqliteStore

DAY = 1_764_000_000.0  # 2025-11-24 UTC
NAME = "articles-2025-11-24.jsonl.gz"


def make_sink(tmp_path, **kw):
    return JsonlSink(tmp_path / "out", clock=lambda: DAY, compress="gzip", **kw)


def batch(prefix, n=3):
    return [{"id": f"{prefix}{i}", "text": f"città {prefix} {i} " * 20} for i in range(n)]


def ids(lines):
    return [json.loads(line)["id"] for line in lines if line.strip()]


def test_each_batch_is_a_whole_member_and_offsets_are_compressed(tmp_path):
    sink = make_sink(tmp_path)
    first = sink.write(batch("a"))
    second = sink.write(batch("b"))
    path = sink.dir / NAME
    assert second[NAME].offset == path.stat().st_size and first[NAME].offset < second[NAME].offset
    assert ids(gzip.decompress(path.read_bytes()).splitlines()) == ["a0", "a1", "a2",
                                                                   "b0", "b1", "b2"]
    # A checkpoint is a member boundary: reading from it gives exactly the later batch.
    assert ids(gzip_members.iter_lines(path, first[NAME].offset)) == ["b0", "b1", "b2"]
    assert gzip_members.whole_end(path) == path.stat().st_size
    assert [p.name for p in sink.files()] == [NAME]


def torn(member: bytes, how: str) -> bytes:
    return {"header": member[:5], "half": member[:len(member) // 2],
            "no-trailer": member[:-1], "zeros": b"\0" * 4096,
            "junk": b"\x1f\x8b\x08garbage"}[how]


@pytest.mark.parametrize("window", [None, 8], ids=["tail-check", "full-scan"])
@pytest.mark.parametrize("how", ["header", "half", "no-trailer", "zeros", "junk"])
def test_repair_cuts_a_torn_member_back_to_the_last_whole_one(tmp_path, monkeypatch, how, window):
    if window:  # a last member larger than the window read from the end: scan from the start
        monkeypatch.setattr(gzip_members, "_TAIL_WINDOWS", (window,))
    sink = make_sink(tmp_path)
    sink.write(batch("a"))
    good = sink.write(batch("b"))[NAME].offset
    path = sink.dir / NAME
    with path.open("ab") as fh:
        fh.write(torn(gzip_members.member(b'{"id": "c0"}\n' * 50), how))
    assert sink.repair() == [NAME]
    assert path.stat().st_size == good
    assert ids(gzip.decompress(path.read_bytes()).splitlines())[-1] == "b2"
    assert sink.repair() == []


def test_intact_file_is_left_alone(tmp_path):
    sink = make_sink(tmp_path)
    for n in range(20):
        sink.write(batch(f"x{n}-", 2))
    before = (sink.dir / NAME).read_bytes()
    assert sink.repair() == []
    assert (sink.dir / NAME).read_bytes() == before


def test_unreconciled_reads_the_members_after_a_compressed_checkpoint(tmp_path):
    sink = make_sink(tmp_path)
    store = SqliteStore(tmp_path / "state.sqlite")
    try:
        store.mark_seen({"a0": "written"}, sink.write(batch("a", 1)))
        end = sink.write(batch("b", 2))[NAME]  # written, then a crash before the mark
        rows = list(sink.unreconciled(store.checkpoints()))
    finally:
        store.close()
    assert [(name, e, [r["id"] for r in recs]) for name, e, recs in rows] == [
        (NAME, end, ["b0", "b1"])]


def test_plain_and_gzip_files_live_side_by_side(tmp_path):
    JsonlSink(tmp_path / "out", clock=lambda: DAY).write(batch("p", 1))
    sink = make_sink(tmp_path)
    sink.write(batch("g", 1))
    assert [p.name for p in sink.files()] == ["articles-2025-11-24.jsonl", NAME]
    assert [r["id"] for _, _, recs in sink.unreconciled({}) for r in recs] == ["p0", "g0"]


def test_a_last_member_larger_than_the_first_tail_window(tmp_path):
    sink = make_sink(tmp_path)
    sink.write(batch("a"))
    big = [{"id": "big", "text": os.urandom(150_000).hex()}]  # ~150 kB compressed
    end = sink.write(big)[NAME].offset
    path = sink.dir / NAME
    assert sink.repair() == [] and gzip_members.whole_end(path) == end
    with path.open("ab") as fh:
        fh.write(gzip_members.member(b'{"id": "torn"}\n')[:-3])
    assert sink.repair() == [NAME] and path.stat().st_size == end
