"""Several `ingest run` replicas on one PostgreSQL: exactly-once, failover, politeness, cost.

    python -m bench.replicas                # 3 hosts × 20 feeds; 1 replica, then 3 with 5 SIGKILLs
    python -m bench.replicas --quick        # smoke form (tests/e2e/test_bench_smoke.py)
    python -m bench.replicas --skip cost --skip sqlite --kills 10

PostgreSQL is TEST_POSTGRES_URL's server when set, else a throwaway one from pgserver (as
tests/helpers/postgres.py has it); each scenario gets a database of its own. The news site
(tests/helpers/clustersite.py) listens on 127.0.0.1-3 and logs every request with its host,
start, end and User-Agent; each replica sends its own (ingest-bench/<name>). Measured:
  1. records written, duplicates and lost articles (published minus written) with one
     replica undisturbed, then with 3 replicas while the last one is SIGKILLed --kills
     times and restarted at once; the site publishes one article per feed every
     --publish-every s for --duration s, then the bench waits (--settle s at most) until
     every article is written, and stops the replicas with SIGTERM;
  2. failover: just before each kill, the victim's leases (PostgresStore.open_readonly
     (url).leases()); from the kill to the first request for one of those feeds by another
     replica (the site's log); pages answer slowly (--page-delay), so the victim is mid-poll;
  3. per host, all replicas together: the smallest gap between request starts and the
     most requests in flight (feeds and pages);
  4. each replica's share of the feed polls;
  5. the database's cost (bench/replicas_cost.py): round trips per poll through a counting
     proxy, broken down by statement; database CPU (its processes' utime + stime) per
     1,000 polls for every run above;
  6. the SQLite default: CPU per unchanged feed of `python -m bench.speed`'s 1,000 feeds
     answering 304 (needs the corpus).
Targets: bench/targets.toml [replicas] and [speed] tiny_cpu_ms; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.common import CORPUS, argument_parser, bench_command, bench_env, machine, work_folder
from bench.replicas_cluster import Outcome, run_scenario
from bench.replicas_cost import Cost, measure
from bench.replicas_db import database_server
from bench.replicas_report import (
    breakdown_table,
    cost_table,
    counts,
    cpu_table,
    failover_table,
    politeness_table,
    records_table,
    share_table,
    verdict,
)
from bench.speed_proc import become_subreaper
from bench.speed_report import targets

PARTS = ("single", "replicas", "cost", "sqlite")
QUICK = {"feeds": 2, "duration": 6.0, "kills": 1, "publish_every": 2.0, "page_delay": 0.1,
         "settle": 40.0, "cost_feeds": 1, "idle": 1.0, "daemon_window": 6.0}
QUICK_SKIP = ("single", "sqlite")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argument_parser("replicas", __doc__)
    add = p.add_argument
    add("--hosts", type=int, default=3, help="hosts of the site (127.0.0.1, .2, ...)")
    add("--feeds", type=int, default=20, help="feeds per host")
    add("--replicas", type=int, default=3, help="replicas of the second scenario")
    add("--kills", type=int, default=5, help="SIGKILLs of one replica in the second scenario")
    add("--duration", type=float, default=60, help="seconds of publishing (and killing)")
    add("--publish-every", type=float, default=10, help="seconds between new articles on a feed")
    add("--page-delay", type=float, default=0.3, help="seconds an article page takes")
    add("--delay", type=float, default=0.25, help="http.per_host_delay")
    add("--concurrency", type=int, default=2, help="http.per_host_concurrency")
    add("--interval", type=float, default=5, help="schedule.interval (s)")
    add("--min-interval", type=float, default=2, help="schedule.min_interval (s)")
    add("--max-interval", type=float, default=10, help="schedule.max_interval (s)")
    add("--lease-wait", type=float, default=5, help="seconds to wait for the victim to hold a lease")
    add("--settle", type=float, default=180, help="seconds to wait for every article written")
    add("--cost-feeds", type=int, default=20, help="feeds per host of the cost measurement")
    add("--cost-delay", type=float, default=0.05, help="http.per_host_delay of the cost measurement")
    add("--at-once", type=int, default=16, help="polls at once in the cost measurement")
    add("--idle", type=float, default=5, help="seconds of the idle stretch (background turns)")
    add("--daemon-window", type=float, default=20, help="seconds the daemon's turns are counted")
    add("--sqlite-feeds", type=int, default=1000, help="unchanged feeds of the SQLite figure")
    add("--skip", action="append", default=[], choices=PARTS, help="leave a part out")
    add("--quick", action="store_true", help="smoke form: 6 feeds, 1 kill, no 1-replica run")
    add("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    add("--keep", action="store_true", help="keep the work folder")
    add("--corpus", type=Path, default=CORPUS, help="for the SQLite figure (bench.speed)")
    args = p.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK, skip=sorted({*args.skip, *QUICK_SKIP}))
    if args.replicas < 2 or args.hosts < 1 or args.feeds < 1 or args.kills < 0:
        p.error("need --replicas >= 2, --hosts >= 1, --feeds >= 1, --kills >= 0")
    return args


def sqlite_figure(args: argparse.Namespace, work: Path) -> dict | None:
    """bench.speed's unchanged-feeds figure (its other parts made as small as they go)."""
    figures = work / "speed.json"
    cmd = bench_command("speed", "--feeds", "1", "--items", "1", "--no-floor", "--no-peer",
                        "--repoll-feeds", str(args.sqlite_feeds), "--corpus", str(args.corpus),
                        "--json", str(figures))
    proc = subprocess.run(cmd, env=bench_env(), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not figures.exists():
        print(f"bench: bench.speed failed ({proc.returncode}):\n{proc.stderr[-2000:]}",
              file=sys.stderr)
        return None
    got = json.loads(figures.read_text())
    return {k: got[k] for k in ("tiny_feeds", "tiny_repoll_cpu", "tiny_one_cpu", "tiny_304")}


def sqlite_table(got: dict | None) -> str:
    limit = targets("speed")["tiny_cpu_ms"]
    head = ("measure", "value", "target", "verdict")
    if got is None:
        return "\n".join([f"| {' | '.join(head)} |", "|---|---|---|---|",
                          "| SQLite: CPU per unchanged feed | not measured | "
                          f"≤ {limit:g} ms | n/a |"])
    n = got["tiny_feeds"]
    per = 1000 * got["tiny_repoll_cpu"] / n
    marginal = 1000 * max(0.0, got["tiny_repoll_cpu"] - got["tiny_one_cpu"]) / max(1, n - 1)
    value = (f"{per:.2f} ms ({got['tiny_repoll_cpu']:.2f} s CPU for {n:,} feeds, "
             f"{got['tiny_304']} × 304; {marginal:.2f} ms per feed beyond the first)")
    return "\n".join([f"| {' | '.join(head)} |", "|---|---|---|---|",
                      f"| SQLite (`ingest fetch`): CPU per unchanged feed re-polled | {value} | "
                      f"≤ {limit:g} ms | {verdict(per <= limit)} |"])


def figures(outcomes: list[Outcome], cost: Cost | None, sqlite: dict | None) -> dict:
    out: dict = {"scenarios": [], "cost": None, "sqlite": sqlite}
    for o in outcomes:
        dup, lost = counts(o)
        out["scenarios"].append({
            "label": o.label, "replicas": o.replicas, "kills": len(o.kills),
            "published": o.published, "records": len(o.records), "duplicates": dup,
            "lost": lost, "codes": o.codes, "settled": o.settled, "db_cpu": o.db_cpu,
            "polls": sum(1 for r in o.requests if "/feeds/" in r.path),
            "leased_at_kills": [len(k.leased) for k in o.kills]})
    if cost:
        out["cost"] = {"idle_turns_per_s": cost.idle_rate, "phases": {
            name: {"polls": p.polls, "outcomes": p.outcomes, "turns": p.counts.turns,
                   "written": p.written,
                   "net_turns_per_poll": p.net_turns(cost.idle_rate) / p.polls}
            for name, p in cost.phases.items()},
            "daemon": None if not cost.daemon else {"polls": cost.daemon.polls,
                                                    "turns": cost.daemon.counts.turns}}
    return out


def report(args: argparse.Namespace, outcomes: list[Outcome], cost: Cost | None,
           sqlite: dict | None) -> None:
    t, m = targets("replicas"), machine()
    print(f"## `ingest run` replicas on one PostgreSQL\n\n{m['cores']} cores ({m['cpu']}), "
          f"Python {m['python']}, {m['date']}; site: {args.hosts} hosts × {args.feeds} feeds, "
          f"pages take {args.page_delay:g} s; one new article per feed every "
          f"{args.publish_every:g} s for {args.duration:g} s; per_host_delay {args.delay:g} s, "
          f"per_host_concurrency {args.concurrency}, schedule {args.interval:g} s "
          f"({args.min_interval:g}-{args.max_interval:g} s), extract.workers 1; dedup on "
          "(mark).\n")
    if outcomes:
        print("### Records\n\n" + records_table(outcomes, t) + "\n")
        killed = [o for o in outcomes if o.kills]
        for o in killed:
            print(f"### Failover ({o.label})\n\n" + failover_table(o, t) + "\n")
        print("### Politeness, all replicas together\n\n"
              + politeness_table(outcomes, args.delay, args.concurrency, t) + "\n")
        print("### Share of the polls\n\n" + share_table(outcomes, t) + "\n")
    if outcomes or cost:
        print("### Database CPU\n\n" + cpu_table(outcomes, cost) + "\n")
    if cost:
        print(f"### Round trips ({cost.feeds} feeds; idle: {cost.idle_rate:.2f} turns/s, "
              f"subtracted from each in-process phase by its length)\n\n"
              + cost_table(cost, t) + "\n")
        for name, phase in cost.phases.items():
            if "304" in name or name.startswith("5 new"):
                print(f"### Round trips of a poll: {name}\n\n"
                      + breakdown_table(phase, cost.idle) + "\n")
        if cost.idle and cost.idle.counts.turns:
            print(f"### Round trips of the idle stretch ({cost.idle.seconds:.0f} s)\n\n"
                  + breakdown_table(cost.idle, None) + "\n")
        if cost.daemon:
            print(f"### Round trips of {cost.daemon.name} ({cost.daemon.seconds:.0f} s)\n\n"
                  + breakdown_table(cost.daemon, None) + "\n")
    if "sqlite" not in args.skip:
        print("### The SQLite default\n\n" + sqlite_table(sqlite) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcomes: list[Outcome] = []
    cost = sqlite = None
    try:
        with work_folder("ingest-replicas-", args.keep) as work:
            with database_server() as server:
                become_subreaper()  # after the server's start: its postmaster is not ours to reap
                if "single" not in args.skip:
                    outcomes.append(run_scenario(server, work / "single", args,
                                                 "1 replica, undisturbed", 1, 0))
                if "replicas" not in args.skip:
                    label = f"{args.replicas} replicas, {args.kills} × SIGKILL"
                    outcomes.append(run_scenario(server, work / "replicas", args, label,
                                                 args.replicas, args.kills))
                if "cost" not in args.skip:
                    cost = measure(server, work / "cost", args)
            if "sqlite" not in args.skip:
                sqlite = sqlite_figure(args, work)
    except AssertionError as exc:  # a replica exited early, or never answered
        raise SystemExit(f"bench: {exc}") from None
    report(args, outcomes, cost, sqlite)
    if args.json:
        args.json.write_text(json.dumps(figures(outcomes, cost, sqlite), indent=2))
    return 0 if all(c == 0 for o in outcomes for c in o.codes) else 1


if __name__ == "__main__":
    sys.exit(main())
