"""Records into a PostgreSQL table (``output.sink: postgres``), marked seen in the same
transaction.

The table (``output.table``, in the ``state.url`` database) has one column per field of
`ingest.models.Record` and ``record jsonb``, the whole record as a JSON line carries it;
primary key ``id``, indexes on ``published``, ``feed`` and ``url``. It is made when
missing, and columns the model has gained are added, under an advisory lock so replicas
starting together do it once. How a record fills a row: pg_rows.py.

`write` inserts a batch (``ON CONFLICT (id) DO NOTHING``) and its seen marks (the state
store's ``seen`` table: each record's id and the key of its page's final URL, as the
pipeline marks them) in ONE transaction: a record is in the table exactly when it is
marked, so no checkpoint is needed and `repair` and `unreconciled` have nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ingest.errors import SinkError
from ingest.models import Checkpoint
from ingest.redact import Redactor, conninfo_secrets, describe_conninfo
from ingest.sink.pg_rows import COLUMNS, row
from ingest.urls import key_id, normalize_url

INDEXED = ("published", "feed", "url")
_MARK = "INSERT INTO seen (key, status, seen_at) VALUES (%s, 'written', %s) ON CONFLICT (key) DO NOTHING"
_CONNECT_TIMEOUT = 10  # seconds, unless the connection string says otherwise


class PostgresSink:
    def __init__(self, url: str, table: str = "articles", *, clock=time.time) -> None:
        self._url, self._clock = url, clock
        self.table = table
        self.where = describe_conninfo(url)  # user@host:port/dbname: no password
        self._redact = Redactor(secrets=conninfo_secrets(url))
        self._name = sql.Identifier(*table.split(".", 1))
        self._insert = sql.SQL("INSERT INTO {} ({}, record) VALUES ({}, %s::jsonb) "
                               "ON CONFLICT (id) DO NOTHING").format(
            self._name, sql.SQL(", ").join(sql.Identifier(n) for n, _ in COLUMNS),
            sql.SQL(", ").join(sql.SQL("%s::" + t) for _, t in COLUMNS))
        self._conn: psycopg.Connection | None = None
        try:
            try:
                self._prepare(self._connection())
            except psycopg.Error as exc:
                raise SinkError(f"sink: cannot use table {table} in {self.where}: "
                                f"{self._problem(exc)}") from exc
        except SinkError:
            self.close()
            raise

    def repair(self) -> list[str]:
        return []  # a transaction leaves nothing half-written

    def unreconciled(self, checkpoints: Mapping[str, Checkpoint]
                     ) -> Iterator[tuple[str, Checkpoint, list[dict]]]:
        return iter(())  # every record in the table is marked seen with it

    def write(self, records: Sequence[Mapping]) -> dict[str, Checkpoint]:
        """Insert the records and mark them seen, in one transaction; no checkpoint (``{}``)."""
        if not records:
            return {}
        rows = [row(r) for r in records]
        now = self._clock()
        marks = [(key, now) for key in _marks(records)]
        try:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(self._insert, rows)
                cur.executemany(_MARK, marks)
        except psycopg.Error as exc:
            raise SinkError(f"sink: writing {len(records)} records to table {self.table} in "
                            f"{self.where} failed: {self._problem(exc)}; {len(records)} "
                            "records not written, will retry") from exc
        return {}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is not None and self._conn.closed:
            self.close()  # lost (the server restarted, the network failed): connect again
        if self._conn is None:
            timeout: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT}
            if "connect_timeout" in conninfo_to_dict(self._url):
                timeout = {}
            self._conn = psycopg.connect(self._url, autocommit=True, **timeout)
        return self._conn

    def _prepare(self, conn: psycopg.Connection) -> None:
        """Make the table, its missing columns and indexes; refuse a table of another shape."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ingest sink {self.table}"])
            columns = _columns(conn, self._name)
            if not columns:
                conn.execute(sql.SQL("CREATE TABLE {} ({}, record jsonb NOT NULL, PRIMARY KEY (id))")
                             .format(self._name, sql.SQL(", ").join(
                                 sql.SQL("{} " + kind).format(sql.Identifier(name))
                                 for name, kind in COLUMNS)))
                columns = {**dict(COLUMNS), "record": "jsonb"}
            if columns.get("record") != "jsonb" or not _id_is_unique(conn, self._name):
                raise SinkError(f"sink: table {self.table} in {self.where} is not an articles "
                                "table (it needs a unique id and a jsonb record column); "
                                "set output.table to another name")
            for name, kind in COLUMNS:
                if name not in columns:
                    conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} " + kind)
                                 .format(self._name, sql.Identifier(name)))
            for name in INDEXED:
                index = sql.Identifier(f"{self.table.split('.')[-1]}_{name}_idx")
                conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})")
                             .format(index, self._name, sql.Identifier(name)))

    def _problem(self, exc: Exception) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return self._redact(first)


def _columns(conn: psycopg.Connection, table: sql.Identifier) -> dict[str, str]:
    """``{column: type}`` of ``table``; empty when there is no such table."""
    rows = conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
                        [table.as_string(conn)]).fetchall()
    return dict(rows)


def _id_is_unique(conn: psycopg.Connection, table: sql.Identifier) -> bool:
    """Whether ``ON CONFLICT (id)`` has a unique index on ``id`` alone to go by."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a "
                       "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                       "WHERE i.indrelid = to_regclass(%s) AND i.indisunique "
                       "AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = 'id')",
                       [table.as_string(conn)]).fetchone()
    return bool(row and row[0])


def _marks(records: Sequence[Mapping]) -> list[str]:
    """The seen keys of written records: each id, and its page's final URL (as the pipeline
    marks them)."""
    keys = []
    for rec in records:
        keys.append(rec["id"])
        if rec.get("final_url"):
            keys.append(key_id(normalize_url(rec["final_url"])))
    return keys
