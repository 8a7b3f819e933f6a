"""`ingest run` against every hostile input the hardening audit found; prints Markdown.

    python -m bench.hostile [--workers 2] [--timeout 10s]

Starts the real daemon (a subprocess) on the site of tests/helpers/hostilesite.py (127.0.0.1
only): one feed whose healthy items sit beside hostile titles, links and pages, and feeds
that are hostile documents themselves. It asks /healthz every 0.2 s from the start until
every feed's first poll is over, then stops the daemon with SIGTERM. The first table gives
how long /healthz took to answer (the event loop's responsiveness); the second each
feed's outcome as /status shows it; then the records written and the daemon's exit.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import argument_parser, table
from tests.helpers.daemonrun import Run, free_port
from tests.helpers.faultserver import FaultServer
from tests.helpers.hostilesite import build, daemon_config
from tests.helpers.newssite import read_records


def main() -> None:
    parser = argument_parser("hostile", __doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", default="10s", help="extract.timeout (a job's deadline)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, FaultServer() as server:
        work = Path(work)
        site = build(server)
        port = free_port()
        config = daemon_config(work / "config.yaml", site, port, workers=args.workers,
                               timeout=args.timeout)
        started = time.monotonic()
        run = Run(config, port, work / "daemon.log")
        try:
            answers, status = watch(run, len(site.feeds))
            polled = time.monotonic() - started
            code, stop_seconds = run.stop(60)
        finally:
            run.kill()
        records = read_records(work / "out")
        log = run.text()
    report(answers, status, polled, records, site.healthy, code, stop_seconds, log)


def watch(run: Run, feeds: int) -> tuple[list[float], list[dict]]:
    """/healthz answer times until every feed has been polled once; the last /status."""
    answers: list[float] = []
    while True:
        answers.append(run.healthz_seconds())
        if run.polls_settled(feeds):
            return answers, json.loads(run.get("/status")[1])
        time.sleep(0.2)


def report(answers, status, polled, records, healthy, code, stop_seconds, log) -> None:
    print(table(("/healthz answers", "median", "slowest", "over 1 s"),
                [(len(answers), f"{statistics.median(answers) * 1000:.1f} ms",
                  f"{max(answers) * 1000:.1f} ms", sum(1 for a in answers if a > 1))], "rrrr"))
    print()
    print(table(("feed", "failures", "last error"),
                [(row["feed"], row["failures"],
                  (row.get("last_error") or "-").replace("|", "/")[:140]) for row in status], "lrl"))
    print()
    written = {r["url"] for r in records}
    print(f"all feeds polled after {polled:.1f} s; {len(records)} records written, "
          f"{sum(1 for url in healthy if url in written)} of {len(healthy)} healthy pages; "
          f"SIGTERM: exit {code} in {stop_seconds:.1f} s; "
          f"{log.count(' WARNING ')} warnings, {log.count(' ERROR ')} errors, "
          f"{log.count('Traceback')} tracebacks in the log")


if __name__ == "__main__":
    main()
