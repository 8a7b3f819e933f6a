"""`ingest migrate-state --to postgresql://...`: move the config's SQLite store into an
empty PostgreSQL database, so that the same config with ``state.url`` set continues
where SQLite stopped: nothing fetched again, nothing written twice, conditional requests
still conditional.

The SQLite store is held (its lock) while it is copied, so no `ingest run` or `ingest fetch`
changes it meanwhile. The copy itself is `ingest.state.migrate.copy_sqlite_store`.
"""

from __future__ import annotations

from ingest.cli.exits import EXIT_OK
from ingest.config.model import Config
from ingest.errors import StateError
from ingest.redact import describe_conninfo


def cmd_migrate_state(cfg: Config, args) -> int:
    from ingest.state.migrate import copy_sqlite_store
    from ingest.state.sqlite import SqliteStore

    path = cfg.state.path
    if not path.is_file():
        raise StateError(f"state: no SQLite store at {path} (state.path) to copy")
    held = SqliteStore(path, lock_timeout=cfg.state.lock_timeout)
    try:
        copied = copy_sqlite_store(path, args.to, merge=args.merge)
    finally:
        held.close()
    where = describe_conninfo(args.to)
    for table, rows in copied.items():
        print(f"{table}\t{rows}")
    print(f"copied {path} into {where}; set state.url (or INGEST_STATE_URL) to it and start "
          "ingest again")
    return EXIT_OK
