"""`ingest run` against every hostile input the hardening audit found; prints Markdown.

    python bench/hostile.py [--workers 2] [--timeout 10s]

Starts the real daemon (a subprocess) on the site of tests/helpers/hostilesite.py (127.0.0.1
only): one feed whose healthy items sit beside hostile titles, links and pages, and feeds
that are hostile documents themselves. It asks /healthz every 0.2 s from the start until
every feed's first poll is over, then stops the daemon with SIGTERM. The first table gives
how long /healthz took to answer (the event loop's responsiveness); the second each
feed's outcome as /status shows it; then the records written and the daemon's exit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers.daemonrun import Run, free_port  # noqa: E402
from helpers.faultserver import FaultServer  # noqa: E402
from helpers.hostilesite import build, daemon_config  # noqa: E402
from helpers.newssite import read_records  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    print("| /healthz answers | median | slowest | over 1 s |")
    print("|---:|---:|---:|---:|")
    print(f"| {len(answers)} | {statistics.median(answers) * 1000:.1f} ms | "
          f"{max(answers) * 1000:.1f} ms | {sum(1 for a in answers if a > 1)} |")
    print()
    print("| feed | failures | last error |")
    print("|---|---:|---|")
    for row in status:
        error = (row.get("last_error") or "-").replace("|", "/")
        print(f"| {row['feed']} | {row['failures']} | {error[:140]} |")
    print()
    written = {r["url"] for r in records}
    print(f"all feeds polled after {polled:.1f} s; {len(records)} records written, "
          f"{sum(1 for url in healthy if url in written)} of {len(healthy)} healthy pages; "
          f"SIGTERM: exit {code} in {stop_seconds:.1f} s; "
          f"{log.count(' WARNING ')} warnings, {log.count(' ERROR ')} errors, "
          f"{log.count('Traceback')} tracebacks in the log")


if __name__ == "__main__":
    main()
