"""The PostgreSQL sink against a real PostgreSQL: the table it makes, what each column holds,
writes that happen once, and seen marks in the same transaction as the records.

(Whole batches, failed writes leaving nothing: test_sink_contract.py.)
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import psycopg
import pytest
from test_sink_contract import SEEN_DDL

from ingest.errors import SinkError
from ingest.models import Record
from ingest.sink.pg_rows import COLUMNS
from ingest.sink.postgres import PostgresSink
from ingest.urls import key_id, normalize_url

NOW = 1_764_000_000.5
PASSWORD = "s3cret-Pa55"

RECORD = Record(
    id="r1", url="https://news.example/a", feed="news", feed_url="https://news.example/rss",
    guid="g1", title="A title", published="2025-11-24T08:30:00Z",
    fetched_at="2025-11-24T09:00:00+00:00", text="Body text.", body_source="page",
    authors=("Ada", "Bo"), tags=("world",), footers_removed=("© News",),
    final_url="https://news.example/a-moved?utm_source=x", story_id="r1", similarity=0.75)


@pytest.fixture
def db(postgres_url):
    """A fresh database with the state store's ``seen`` table."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(SEEN_DDL)
    return postgres_url


@pytest.fixture
def sinks(db):
    """``make(table)``: a PostgresSink on ``db`` with the clock at NOW, closed afterwards."""
    made: list[PostgresSink] = []

    def make(table: str = "articles", url: str = db) -> PostgresSink:
        made.append(PostgresSink(url, table, clock=lambda: NOW))
        return made[-1]

    yield make
    for sink in made:
        sink.close()


def query(url: str, text: str, *args) -> list[tuple]:
    """The rows ``text`` gives (none for a statement without rows)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(text, args)
        return cur.fetchall() if cur.description else []


def with_password(url: str) -> str:
    """The same database, with a password in the URL (the test server trusts, ignoring it)."""
    return url.replace("postgres:@", f"postgres:{PASSWORD}@", 1)


def test_the_table_has_a_column_per_field_of_a_record_plus_the_record_as_jsonb(db, sinks):
    sinks()
    columns = query(db, "SELECT column_name, data_type, is_nullable FROM "
                        "information_schema.columns WHERE table_name = 'articles' "
                        "ORDER BY ordinal_position")
    names = [name for name, _, _ in columns]
    assert names == [*Record.__dataclass_fields__, "record"]
    types = {name: kind for name, kind, _ in columns}
    assert types["published"] == types["fetched_at"] == "timestamp with time zone"
    assert types["tags"] == types["authors"] == "ARRAY"
    assert (types["similarity"], types["schema_version"]) == ("double precision", "integer")
    assert (types["title"], types["record"]) == ("text", "jsonb")
    assert {name for name, _, nullable in columns if nullable == "NO"} == {"id", "record"}
    indexes = dict(query(db, "SELECT indexname, indexdef FROM pg_indexes "
                             "WHERE tablename = 'articles'"))
    assert "UNIQUE" in indexes["articles_pkey"] and "(id)" in indexes["articles_pkey"]
    for column in ("published", "feed", "url"):
        assert f"({column})" in indexes[f"articles_{column}_idx"]


def test_each_column_holds_its_field_and_record_the_whole_json_line(db, sinks):
    assert sinks().write([RECORD.to_dict()]) == {}
    [row] = query(db, "SELECT published, fetched_at, tags, authors, similarity, "
                      "schema_version, guid, near_duplicate_of, record FROM articles")
    assert row[:8] == (datetime(2025, 11, 24, 8, 30, tzinfo=UTC),
                       datetime(2025, 11, 24, 9, 0, tzinfo=UTC), ["world"], ["Ada", "Bo"],
                       0.75, 1, "g1", None)
    assert row[8] == json.loads(json.dumps(RECORD.to_dict()))  # tuples as lists, as in JSON


def test_values_that_do_not_fit_a_column_are_null_there_and_kept_in_the_record(db, sinks):
    odd = {"id": "odd", "published": "yesterday", "schema_version": "one", "similarity": True,
           "tags": "not-a-list", "title": "nul\x00in text", "authors": ["a\x00b"],
           "extra": {"deep": ["x\x00"]}}
    sinks().write([odd])
    [row] = query(db, "SELECT published, schema_version, similarity, tags, title, authors, "
                      "record FROM articles")
    assert row[:6] == (None, None, None, None, "nul\ufffdin text", ["a\ufffdb"])
    assert row[6]["published"] == "yesterday" and row[6]["tags"] == "not-a-list"
    assert row[6]["extra"] == {"deep": ["x\ufffd"]}


def test_the_records_are_marked_seen_with_their_final_url_in_the_same_write(db, sinks):
    sinks().write([RECORD.to_dict(), {"id": "r2", "url": "https://news.example/b"}])
    final = key_id(normalize_url(RECORD.final_url or ""))
    assert sorted(query(db, "SELECT key, status, seen_at FROM seen")) == sorted(
        [("r1", "written", NOW), (final, "written", NOW), ("r2", "written", NOW)])


def test_writing_a_record_again_changes_nothing_whichever_replica_does(db, sinks):
    first, second = sinks(), sinks()
    first.write([RECORD.to_dict()])
    query(db, "UPDATE seen SET status = 'kept' WHERE key = 'r1'")
    again = {**RECORD.to_dict(), "title": "Another title"}
    first.write([again])
    second.write([again, {"id": "r3"}])
    assert query(db, "SELECT id, title FROM articles ORDER BY id") == [
        ("r1", "A title"), ("r3", None)]
    assert query(db, "SELECT status FROM seen WHERE key = 'r1'") == [("kept",)]


def test_a_failing_seen_mark_leaves_no_record_of_the_batch(db, sinks):
    sink = sinks()
    query(db, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
              "BEGIN RAISE EXCEPTION 'no marks today'; END $$")
    query(db, "CREATE TRIGGER refuse BEFORE INSERT ON seen FOR EACH ROW "
              "WHEN (NEW.key = 'r2') EXECUTE FUNCTION refuse()")
    batch = [RECORD.to_dict(), {"id": "r2"}]
    with pytest.raises(SinkError, match="no marks today; 2 records not written, will retry"):
        sink.write(batch)
    assert query(db, "SELECT count(*) FROM articles") == [(0,)]
    assert query(db, "SELECT count(*) FROM seen") == [(0,)]
    query(db, "DROP TRIGGER refuse ON seen")
    sink.write(batch)  # the same sink, the batch retried
    assert query(db, "SELECT id FROM articles ORDER BY id") == [("r1",), ("r2",)]


def test_a_lost_connection_fails_one_write_and_the_next_connects_again(db, sinks):
    sink = sinks()
    sink.write([{"id": "a"}])
    killed = query(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert killed == [(True,)]
    with pytest.raises(SinkError, match=r"writing 1 records to table articles in .* failed"):
        sink.write([{"id": "b"}])
    sink.write([{"id": "b"}])
    assert query(db, "SELECT id FROM articles ORDER BY id") == [("a",), ("b",)]


def test_missing_columns_are_added_to_a_table_made_before(db, sinks):
    query(db, "CREATE TABLE articles (id text PRIMARY KEY, record jsonb NOT NULL)")
    query(db, "INSERT INTO articles VALUES ('old', '{\"id\": \"old\"}')")
    sinks().write([RECORD.to_dict()])
    [[count]] = query(db, "SELECT count(*) FROM information_schema.columns "
                          "WHERE table_name = 'articles'")
    assert count == len(COLUMNS) + 1
    assert query(db, "SELECT id, title FROM articles ORDER BY id") == [
        ("old", None), ("r1", "A title")]


def test_a_table_in_a_schema_of_its_own(db, sinks):
    query(db, "CREATE SCHEMA corpus")
    sinks("corpus.articles").write([RECORD.to_dict()])
    assert query(db, "SELECT id FROM corpus.articles") == [("r1",)]
    assert query(db, "SELECT to_regclass('public.articles') IS NULL") == [(True,)]


def test_replicas_starting_together_make_the_table_once(db):
    ready = threading.Barrier(4)
    made, failed = [], []

    def start() -> None:
        ready.wait(timeout=30)
        try:
            made.append(PostgresSink(db, "articles"))
        except SinkError as exc:
            failed.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for sink in made:
        sink.close()
    assert (len(made), failed) == (4, [])


def test_a_table_that_is_not_an_articles_table_is_refused_naming_it(db, sinks):
    with pytest.raises(SinkError) as info:
        sinks("seen", url=with_password(db))
    message = str(info.value)
    assert "table seen in postgres@/" in message and "is not an articles table" in message
    assert "set output.table" in message and PASSWORD not in message


def test_a_database_it_cannot_reach_is_an_error_naming_it_without_the_password(tmp_path):
    url = f"postgresql://ingest:{PASSWORD}@/corpus?host={tmp_path}&port=5999"
    with pytest.raises(SinkError) as info:
        PostgresSink(url, "news")
    message = str(info.value)
    assert message.startswith(f"sink: cannot use table news in ingest@{tmp_path}:5999/corpus: ")
    assert PASSWORD not in message
