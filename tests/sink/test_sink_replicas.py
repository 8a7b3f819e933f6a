"""Replicas on one PostgreSQL state each write their own files, named for the replica, and
each repairs and reconciles only its own, whoever else writes in the same folder."""

from __future__ import annotations

import pytest

from ingest.sink.jsonl import JsonlSink

DAY = 1_764_000_000.0  # 2025-11-24 UTC


def sink_of(tmp_path, replica, **kw) -> JsonlSink:
    return JsonlSink(tmp_path / "out", clock=lambda: DAY, replica=replica, **kw)


@pytest.mark.parametrize(("replica", "options", "name"), [
    ("node-a", {}, "articles-2025-11-24.node-a.jsonl"),
    ("node-a", {"partition": "none"}, "articles.node-a.jsonl"),
    ("node-a", {"compress": "gzip"}, "articles-2025-11-24.node-a.jsonl.gz"),
    ("web.example.org", {"partition": "none", "compress": "gzip"},
     "articles.web.example.org.jsonl.gz"),
    (None, {}, "articles-2025-11-24.jsonl"),
    (None, {"partition": "none", "compress": "gzip"}, "articles.jsonl.gz"),
])
def test_the_replica_is_in_the_file_name(tmp_path, replica, options, name):
    sink = sink_of(tmp_path, replica, **options)
    assert list(sink.write([{"id": "a"}])) == [name]
    assert [p.name for p in sink.files()] == [name]


def test_parts_come_after_the_replica(tmp_path):
    sink = sink_of(tmp_path, "node-a", max_file_bytes=40)
    for i in range(3):
        sink.write([{"id": f"r{i}", "text": "x" * 10}])
    assert [p.name for p in sink.files()] == [
        "articles-2025-11-24.node-a.1.jsonl", "articles-2025-11-24.node-a.2.jsonl",
        "articles-2025-11-24.node-a.jsonl"]
    # another sink of the same replica (a restart) goes on with the last part
    again = sink_of(tmp_path, "node-a", max_file_bytes=40)
    assert again.current_file().name == "articles-2025-11-24.node-a.2.jsonl"


def test_each_replica_recovers_only_its_own_files(tmp_path):
    a, b, c = (sink_of(tmp_path, name) for name in ("a", "a.b", "c"))
    solo = JsonlSink(tmp_path / "out", partition="none", clock=lambda: DAY)  # as SQLite names
    for sink, ids in ((a, ["a1", "a2"]), (b, ["b1"]), (c, ["c1"]), (solo, ["s1"])):
        sink.write([{"id": i} for i in ids])
    files = {p.name: p for p in (tmp_path / "out").iterdir()}
    for path in files.values():  # a crash in each writer's last batch
        with path.open("ab") as fh:
            fh.write(b'{"id": "torn')
    before = {name: path.read_bytes() for name, path in files.items()}

    assert a.repair() == ["articles-2025-11-24.a.jsonl"]
    unmarked = [(name, [r["id"] for r in recs]) for name, _, recs in a.unreconciled({})]
    assert unmarked == [("articles-2025-11-24.a.jsonl", ["a1", "a2"])]
    for name, path in files.items():  # nobody else's file was touched
        if name != "articles-2025-11-24.a.jsonl":
            assert path.read_bytes() == before[name], name
    assert [p.name for p in b.files()] == ["articles-2025-11-24.a.b.jsonl"]
    assert [name for name, _, _ in c.unreconciled({})] == ["articles-2025-11-24.c.jsonl"]
