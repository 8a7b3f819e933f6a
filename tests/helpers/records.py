"""Records checked against schema/record.schema.json."""

from __future__ import annotations

import functools
import json

from .cli import REPO

RECORD_SCHEMA = REPO / "schema" / "record.schema.json"


@functools.cache
def record_validator():
    """A JSON Schema validator for schema/record.schema.json (checked once)."""
    import jsonschema

    schema = json.loads(RECORD_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_records(records: list[dict]) -> list[dict]:
    """Fail on the first record that breaks schema/record.schema.json; return the records.

    newssite.read_records calls it, so every end-to-end test checks what it reads.
    """
    from jsonschema.exceptions import best_match

    validator = record_validator()
    for i, record in enumerate(records):
        error = best_match(validator.iter_errors(record))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "the record"
            raise AssertionError(f"record {i} ({record.get('url')}) breaks "
                                 f"{RECORD_SCHEMA.relative_to(REPO)} at {where}: {error.message}")
    return records
