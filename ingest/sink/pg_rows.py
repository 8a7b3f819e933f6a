"""How a record fills a row of the PostgreSQL sink's table (ingest.sink.postgres).

One column per field of `ingest.models.Record`, typed from the field's annotation (text,
integer, double precision, text[]; ``published`` and ``fetched_at`` as timestamptz), then
``record``: the whole record as its JSON line carries it. A value that does not fit its
column (a date that does not parse, a number written as text, a field the record lacks) is
NULL there and kept in ``record``. PostgreSQL text and jsonb cannot hold NUL, so NUL
characters are stored as U+FFFD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import orjson

from ingest.models import Record

_TYPES = {"str": "text", "str | None": "text", "int": "integer", "int | None": "integer",
          "float": "double precision", "float | None": "double precision",
          "tuple[str, ...]": "text[]"}
_DATES = frozenset({"published", "fetched_at"})
# (name, SQL type) per field of Record; a field of a type not listed keeps its JSON
COLUMNS = tuple((f.name, "timestamptz" if f.name in _DATES else _TYPES.get(str(f.type), "jsonb"))
                for f in fields(Record))
_INT4 = 2**31


def row(record: Mapping) -> list[Any]:
    """The values of COLUMNS, then the record as JSON text."""
    data = orjson.dumps(record)
    if b"\\u0000" in data:
        data = orjson.dumps(_without_nul(record))
    return [_FIT[kind](record.get(name)) for name, kind in COLUMNS] + [data.decode()]


def _text(value: Any) -> str | None:
    return value.replace("\0", "\ufffd") if isinstance(value, str) else None


def _integer(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and -_INT4 <= value < _INT4
    return value if ok else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _texts(value: Any) -> list[str] | None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return None
    return [v.replace("\0", "\ufffd") for v in value]


def _date(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when and when.tzinfo is None else when


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(_without_nul(value)).decode()


_FIT: dict[str, Callable[[Any], Any]] = {
    "text": _text, "integer": _integer, "double precision": _number, "text[]": _texts,
    "timestamptz": _date, "jsonb": _json,
}


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\0", "\ufffd")
    if isinstance(value, Mapping):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value
