"""How a poll writes and marks: in bounded batches, the newest entries first, exactly once
even when the store refuses the seen marks, and never twice the same failed parse.

Real parts: the fault server on 127.0.0.1, the real worker pool, SQLite store and sink.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from helpers.faultserver import FaultServer
from helpers.newssite import Item, add_small_site, plain_page, read_records, rss, write_config
from ingest.config.load import load_config
from ingest.errors import JobDeadline
from ingest.pipeline import jobs
from ingest.pipeline import orchestrator as pipeline_module
from ingest.pipeline.app import open_pipeline
from ingest.urls import key_id, normalize_url

pytestmark = pytest.mark.timeout(90)
HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def server():
    with FaultServer() as s:
        yield s


def config(tmp_path: Path, feeds, **sections):
    (tmp_path / "state").mkdir(exist_ok=True)
    path = write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1}, **sections)
    return load_config(path, env={})


def polls(cfg, feeds, rounds: int, between=None, pipeline_hook=None):
    """``rounds`` polls of each of ``feeds`` in one pipeline; ``between(i, pipeline)`` runs
    before round i. Returns the PollResults, round by round."""
    async def go():
        async with open_pipeline(cfg) as pipeline:
            if pipeline_hook:
                pipeline_hook(pipeline)
            rounds_done = []
            for i in range(rounds):
                if between:
                    between(i, pipeline)
                rounds_done.append([await pipeline.poll_feed(f) for f in feeds])
            return rounds_done
    return asyncio.run(go())


def lines(out: Path) -> list[str]:
    return [r["id"] for r in read_records(out)]


def test_a_seen_mark_refused_after_the_write_never_leads_to_a_second_copy(tmp_path, server):
    """The store refuses the marks of a batch already on disk (as SQLite does when the disk
    is full): the articles stay claimed, and the next poll hands the marks over first."""
    pairs = add_small_site(server, feeds=1, per_feed=3)
    cfg = config(tmp_path, pairs)

    def store_refuses_writes(i, pipeline):
        # query_only: SQLite itself refuses every write ("attempt to write a readonly database")
        pipeline.store._db.execute(f"PRAGMA query_only = {1 if i < 2 else 0}")

    (first,), (second,), (third,) = polls(cfg, cfg.feeds, 3, store_refuses_writes)
    assert first.outcome == "failed" and first.error_kind == "state", first
    assert first.written == 3 and "readonly database" in first.error
    assert second.outcome == "failed" and second.written == 0  # still refused: nothing claimed
    assert third.ok and third.written == 0 and third.already_seen == 3, third
    ids = lines(tmp_path / "out")
    assert len(ids) == 3 and len(set(ids)) == 3


def test_a_feed_with_more_new_entries_than_the_cap_gives_the_newest_first(tmp_path, server):
    items = []
    for n in range(7):  # listed oldest first, dated a day apart
        path = f"/a/{n}.html"
        server.add(path, plain_page(f"Notizia {n}", n), HTML)
        items.append(Item(f"Notizia {n}", server.url(path), f"g{n}",
                          published=f"Wed, {10 + n:02d} Dec 2025 10:00:00 GMT"))
    server.add("/feed.xml", rss(items), RSS)
    cfg = config(tmp_path, [("many", server.url("/feed.xml"))],
                 schedule={"max_entries_per_poll": 3})
    rounds = polls(cfg, cfg.feeds, 4)
    assert [(r.written, r.deferred) for (r,) in rounds] == [(3, 4), (3, 1), (1, 0), (0, 0)]
    assert rounds[3][0].outcome == "unchanged"  # validators kept once all were settled
    titles = [r["title"] for r in read_records(tmp_path / "out")]
    by_round = [set(titles[:3]), set(titles[3:6]), set(titles[6:])]
    assert by_round == [{f"Notizia {n}" for n in ns} for ns in ((6, 5, 4), (3, 2, 1), (0,))]


def test_records_are_written_in_bounded_batches_as_pages_complete(tmp_path, server,
                                                                  monkeypatch):
    monkeypatch.setattr(pipeline_module, "WRITE_BATCH", 2)
    items = []
    for n in range(5):
        server.add(f"/a/{n}.html", plain_page(f"Notizia {n}", n), HTML)
        # the first page is the slowest: the others must not wait for it
        path = f"/delay/2/a/{n}.html" if n == 0 else f"/a/{n}.html"
        items.append(Item(f"Notizia {n}", server.url(path), f"g{n}"))
    server.add("/feed.xml", rss(items), RSS)
    cfg = config(tmp_path, [("batches", server.url("/feed.xml"))])
    batches = []

    def record_batches(pipeline):
        write = pipeline.sink.write
        pipeline.sink.write = lambda records: batches.append(
            [r["title"] for r in records]) or write(records)

    ((result,),) = polls(cfg, cfg.feeds, 1, pipeline_hook=record_batches)
    assert result.written == 5
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[-1] == ["Notizia 0"]  # the slow page came last, alone
    assert len(lines(tmp_path / "out")) == 5


def test_bytes_that_failed_to_parse_are_not_parsed_again(tmp_path, server):
    server.add("/feed.xml", b"<?xml version='1.0'?><rss><channel><item><title>x",
               {"Content-Type": "application/rss+xml"})
    cfg = config(tmp_path, [("broken", server.url("/feed.xml"))])

    def mend_the_feed(i, pipeline):
        if i == 2:
            server.add("/feed.xml", rss([]), RSS)

    (first,), (second,), (third,) = polls(cfg, cfg.feeds, 3, mend_the_feed)
    assert first.error_kind == "parse" and "not parsed" not in first.error
    assert second.error_kind == "parse"
    assert second.error.startswith(first.error)
    assert "the same bytes again: not parsed" in second.error
    assert third.ok  # other bytes: parsed again


def past_their_deadline(pool, overruns) -> None:
    """The real worker pool, except that the jobs ``overruns`` picks overrun their deadline."""
    run = pool.run

    async def run_or_overrun(func, *args):
        if overruns(func, args):
            raise JobDeadline(f"workers: {getattr(func, '__name__', 'a job')} ran past its "
                              "deadline; the worker was killed")
        return await run(func, *args)

    pool.run = run_or_overrun


@pytest.mark.parametrize("stage", ["extract", "footers"])
def test_a_job_past_its_deadline_costs_its_entry_only(tmp_path, server, stage):
    pairs = add_small_site(server, feeds=1, per_feed=3)
    cfg = config(tmp_path, pairs)
    poisoned = server.url("/small/0/1.html")

    def overruns(func, args) -> bool:
        if stage == "extract":
            return getattr(func, "func", None) is not None and args[1] == poisoned
        return (func in (jobs.strip_footers, jobs.clean_and_fingerprint)
                and "numero 1," in args[0])

    ((first,), (second,)) = polls(cfg, cfg.feeds, 2, pipeline_hook=lambda pipeline:
                                  past_their_deadline(pipeline.workers, overruns))
    assert first.ok and first.written == 2 and first.skipped == {"deadline": 1}, first
    assert second.outcome == "unchanged"  # every entry settled: the body is not read again
    with sqlite3.connect(cfg.state.path) as db:
        status = db.execute("SELECT status FROM seen WHERE key = ?",
                            (key_id(normalize_url(poisoned)),)).fetchone()
    assert status == ("skipped:deadline",)
    assert poisoned not in {r["url"] for r in read_records(tmp_path / "out")}
    assert first.error is None  # the poll itself went on
