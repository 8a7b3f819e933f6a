"""The daemon's operations endpoints: /healthz, /readyz, /metrics and /status.

`ops_routes` builds them for an `OpsServer`; `readiness` is the /readyz check (the
store answers, the output folder takes a file).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from ingest.daemon.http_server import Reply
from ingest.daemon.metrics import Metrics
from ingest.errors import IngestError
from ingest.state.store import Store


def readiness(store: Store, output_dir: Path) -> str | None:
    """None when the store answers and the output folder takes a file; else why not."""
    try:
        store.ping()
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except IngestError as exc:
        return str(exc)
    except OSError as exc:
        return f"output folder {output_dir} is not writable: {exc.strerror or exc}"
    return None


def ops_routes(*, alive: Callable[[], str | None], ready: Callable[[], str | None],
               metrics: Metrics, status: Callable[[], list[dict]]
               ) -> dict[str, Callable[[], Reply]]:
    """``/healthz`` and ``/readyz`` (a check gives None when fine, else why not),
    ``/metrics`` (a `Metrics`) and ``/status`` (one JSON object per feed)."""
    def check(func: Callable[[], str | None]) -> Callable[[], Reply]:
        def route() -> Reply:
            problem = func()
            return Reply(200, b"ok\n") if problem is None else Reply(503, f"{problem}\n".encode())
        return route

    return {
        "/healthz": check(alive),
        "/readyz": check(ready),
        "/metrics": lambda: Reply(200, metrics.render(), metrics.content_type),
        "/status": lambda: Reply(200, json.dumps(status(), indent=1).encode() + b"\n",
                                 "application/json"),
    }
