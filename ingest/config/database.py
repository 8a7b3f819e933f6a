"""Checks of the PostgreSQL settings: ``state.url``, ``state.replica``, ``output.table``.

A connection string may hold a password, so no message here quotes it, nor libpq's own
complaint as it stands (libpq quotes the text it stumbled on): only the option names
libpq knows are kept from that.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.config.replica import REPLICA_NAME, usable_replica
from ingest.config.source import BadValue, describe_value
from ingest.units import short_repr

_URL_SCHEMES = ("postgresql", "postgres")
_QUOTED = re.compile(r'"[^"]*+"')
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_LONGEST = 4096  # characters of a connection string
_FORMS = ("write it as postgresql://user:password@host:5432/dbname, or as libpq's "
          "host=... dbname=... form")


def conninfo(value: Any) -> str:
    """A libpq connection string, URL or key=value form, as libpq reads it."""
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    if not isinstance(value, str):
        raise BadValue(f"expected a PostgreSQL connection string, got {describe_value(value)}")
    if not value.strip():
        raise BadValue(f"expected a PostgreSQL connection string, got empty text; {_FORMS}")
    if not value.isprintable():
        raise BadValue("must be one line of printable text (not shown: it may hold a password)")
    if len(value) > _LONGEST:  # before libpq parses it and its message is searched
        raise BadValue(f"longer than {_LONGEST} characters (not shown: it may hold a password)")
    scheme, sep, _rest = value.partition("://")
    if sep and "=" not in scheme and scheme.lower() not in _URL_SCHEMES:
        named = scheme.isascii() and scheme.isalnum() and len(scheme) <= 20
        raise BadValue(f"{f'a {scheme}://' if named else 'this'} URL is not PostgreSQL's; {_FORMS}")
    try:
        params = conninfo_to_dict(value)
    except Error as exc:
        raise BadValue(f"libpq cannot read it: {_without_quoted_text(exc)} (the text is not "
                       f"shown: it may hold a password); {_FORMS}") from None
    ports = str(params.get("port", "")).split(",")
    if any(p and not p.isdigit() for p in ports):
        raise BadValue(f"the port must be a number, got {short_repr(params['port'])}")
    return value


def _without_quoted_text(exc: Exception) -> str:
    """libpq's message with every quoted piece of the input but an option name elided."""
    from psycopg import pq

    known = {o.keyword.decode() for o in pq.Conninfo.get_defaults()}
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    keep = known | {"=", "]", "@", "/"}  # libpq's own words and the marks it looks for
    return _QUOTED.sub(lambda m: m.group() if m.group()[1:-1] in keep else '"…"', first)


def replica(value: Any) -> str:
    if not isinstance(value, str) or not REPLICA_NAME.fullmatch(value):
        raise BadValue("expected 1 to 63 letters, digits, '.', '_' or '-' (it goes into file "
                       f"names), got {describe_value(value)}")
    if not usable_replica(value):
        raise BadValue(f"{short_repr(value)} ends in a number after a '.' (or is one), which "
                       "would read as a file's part number; add a letter, as in node-1")
    return value


def sql_table(value: Any) -> str:
    """A table name, optionally schema-qualified: lower-case letters, digits and ``_``."""
    if not isinstance(value, str) or not all(_NAME.fullmatch(p) for p in value.split(".", 1)):
        raise BadValue("expected a table name such as articles or corpus.articles (lower-case "
                       f"letters, digits and '_', not starting with a digit), "
                       f"got {describe_value(value)}")
    return value
