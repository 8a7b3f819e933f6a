"""Speed of `ingest fetch` on a local news site, against its floor and trafilatura's feed mode.

    python -m bench.speed          # 10 feeds × 20 items + 1,000 unchanged feeds; Markdown table
    python -m bench.speed --full   # ≥ 500 articles (adds the "peak memory for 500 articles" row)
    python -m bench.speed --quick  # smoke form (tests/e2e/test_bench_smoke.py)
    python -m bench.speed --set http.per_host_concurrency=4 --set extract.workers=2 --no-peer

All traffic stays on 127.0.0.0/8: the site (bench/speed_site.py) listens on 127.0.0.1-3.
Measured, in one run:
  1. `ingest fetch` on a fresh state: wall, CPU of the whole process tree (workers too),
     articles/s, peak memory of the tree (bench/speed_proc.py);
  2. `ingest fetch` again, nothing changed: wall, and page requests (must be 0);
  3. the floor: bare trafilatura.extract CPU over the same pages ÷ cores, plus the
     interpreter start-up and imports (`python -c "import ingest.cli.main, trafilatura"`),
     measured before and after each run 1, which is set against the mean of the two
     (--repeat N: the verdict takes the median of the N ratios, as the machine's speed
     drifts between runs);
  4. the peer: `trafilatura --feed URL --json` per feed, no sleep (bench/speed_peer.py);
  5. N tiny feeds answering 304 (ETag), re-polled: CPU ms per feed.
`--set section.key=value` passes INGEST_SECTION_KEY to every ingest run (for sweeps);
`--profile DIR` repeats run 1 under py-spy (all processes; cProfile of the main process
without it) and profiles extraction in one process (bench/speed_profile.py).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

from bench.common import (
    CORPUS,
    REPO,
    argument_parser,
    bench_command,
    bench_env,
    ingest_command,
    ingest_env,
    machine,
    work_folder,
    write_config,
)
from bench.speed_peer import edited_hosts_file, run_peer
from bench.speed_proc import become_subreaper, run_measured
from bench.speed_profile import profile_command, summarise
from bench.speed_report import Report, ingest_summary, render, targets
from bench.speed_site import BenchSite, build_items, corpus_pages

FULL_ARTICLES = targets("speed")["memory_articles"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argument_parser("speed", __doc__)
    p.add_argument("--feeds", type=int, default=10)
    p.add_argument("--items", type=int, default=20, help="items per feed")
    p.add_argument("--full", action="store_true", help=f"at least {FULL_ARTICLES} articles")
    p.add_argument("--quick", action="store_true", help="smoke form: 3 feeds × 3 items")
    p.add_argument("--repoll-feeds", type=int, default=1000, help="tiny 304 feeds (0: skip)")
    p.add_argument("--peer", choices=("per-feed", "one-process", "both", "none"), default="both")
    p.add_argument("--no-peer", dest="peer", action="store_const", const="none")
    p.add_argument("--edit-hosts", action="store_true",
                   help="root only: name the peer's hosts in /etc/hosts during its run")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="ingest setting for every run (INGEST_SECTION_KEY)")
    p.add_argument("--repeat", type=int, default=1,
                   help="first run N times on a fresh state, keep the fastest (busy machines)")
    p.add_argument("--latency", type=float, default=0.0, metavar="MS",
                   help="server waits this long before each answer (a far-away site)")
    p.add_argument("--no-floor", action="store_true", help="skip the floor (quicker sweeps)")
    p.add_argument("--no-gzip", action="store_true", help="serve pages uncompressed")
    p.add_argument("--profile", type=Path, metavar="DIR", help="also write cProfile stats here")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--timeout", type=float, default=900, help="seconds per command")
    args = p.parse_args(argv)
    if args.quick:
        args.feeds, args.items = min(args.feeds, 3), min(args.items, 3)
        args.repoll_feeds = min(args.repoll_feeds, 30)
        args.peer = "per-feed" if args.peer == "both" else args.peer
    if args.full:
        args.items = max(args.items, math.ceil(FULL_ARTICLES / args.feeds))
    args.corpus = args.corpus.resolve()
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


def byte_compile_ingest() -> None:
    """Write ingest's .pyc files, as installing a package does. An editable install
    under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run,
    a cost that no installed copy pays."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("ingest")
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)


def fetch(config: Path, env: dict[str, str], timeout: float, *extra: str):
    run = run_measured([*ingest_command(), "fetch", "--config", str(config), *extra],
                       cwd=config.parent, env=env, timeout=timeout)
    return run, ingest_summary(run.stderr)


def fresh_state(config: Path) -> None:
    for name in ("state", "out"):
        shutil.rmtree(config.parent / name, ignore_errors=True)


def main_scenario(site: BenchSite, work: Path, env: dict[str, str], rep: Report,
                  args: argparse.Namespace) -> Path:
    """Run 1 (--repeat times, between floor runs unless --no-floor), then run 2."""
    feeds = [(f"f{f:02d}", url) for f, url in zip(site.feeds, site.feed_urls(), strict=True)]
    config = write_config(work / "main", feeds, server={"port": 0})
    timeout = args.timeout
    # Floor runs bracket every ingest run (F I F I F ...): the machine's speed drifts, and
    # the mean of the floors just before and after a run cancels a steady drift.
    earlier = None if args.no_floor else floor_scenario(args, work, rep)
    for _ in range(max(1, args.repeat)):
        fresh_state(config)
        before = site.requests()
        run, summary = fetch(config, env, timeout)
        middle = site.requests()
        floor = None if args.no_floor else floor_scenario(args, work, rep)
        rep.first_walls.append(run.wall)
        if floor:
            around = (rep.floor_of(earlier) + rep.floor_of(floor)) / 2
            rep.floor_ratios.append(run.wall / around)
            earlier = floor
        if rep.first is None or run.wall < rep.first.wall:
            rep.first, rep.first_summary = run, summary
            rep.floor = floor or {}
            rep.first_pages = middle["page"] - before["page"]
            rep.first_connections = middle["connections"] - before["connections"]
    before = site.requests()
    rep.repoll, _ = fetch(config, env, timeout)
    after = site.requests()
    rep.repoll_pages = after["page"] - before["page"]
    rep.repoll_feed_requests = after["feed"] - before["feed"]
    rep.repoll_connections = after["connections"] - before["connections"]
    return config


def floor_scenario(args: argparse.Namespace, work: Path, rep: Report) -> dict:
    """One floor run (the start-up is measured on the first call)."""
    if not rep.startup:
        code = "import ingest.cli.main, trafilatura"
        starts = [run_measured([sys.executable, "-c", code], cwd=work, timeout=120).wall
                  for _ in range(1 if args.quick else 3)]
        rep.startup = min(starts)
    cmd = bench_command("speed_floor", str(args.corpus), str(args.feeds), str(args.items))
    if args.profile:
        cmd += ["--profile", str(args.profile / "extract.prof")]
    run = run_measured(cmd, cwd=REPO, env=bench_env(), timeout=args.timeout)
    if run.returncode != 0:
        raise SystemExit(f"bench: the floor run failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def peer_scenario(args: argparse.Namespace, site: BenchSite, work: Path, rep: Report) -> None:
    if args.peer == "none":
        return
    modes = {"per-feed": [False], "one-process": [True], "both": [False, True]}[args.peer]
    for one in modes:
        folder = work / ("peer-one" if one else "peer")
        if args.edit_hosts:
            with edited_hosts_file(site.peer_hosts()):
                result = run_peer(site, folder, edited_hosts=True, one_process=one,
                                  timeout=args.timeout)
        else:
            result = run_peer(site, folder, edited_hosts=False, one_process=one,
                              timeout=args.timeout)
        rep.peers.append(result)
    rep.peer_resolution = "/etc/hosts" if args.edit_hosts else "in-process shim"


def repoll_scenario(site: BenchSite, work: Path, env: dict[str, str], rep: Report,
                    timeout: float) -> None:
    if not site.tiny_feeds:
        return
    feeds = [(f"tiny-{n:04d}", url) for n, url in enumerate(site.tiny_feed_urls())]
    config = write_config(work / "tiny", feeds, server={"port": 0})
    rep.tiny_first, _ = fetch(config, env, timeout)
    before = site.requests()
    rep.tiny_repoll, _ = fetch(config, env, timeout)
    after = site.requests()
    rep.tiny_304 = after["not_modified"] - before["not_modified"]
    rep.tiny_connections = after["connections"] - before["connections"]
    rep.tiny_one, _ = fetch(config, env, timeout, "--feed", feeds[0][0])


def profile_scenario(args: argparse.Namespace, config: Path, env: dict[str, str]) -> None:
    """Run 1 again on a fresh state under a profiler (bench.speed_profile)."""
    out_dir = args.profile
    fresh_state(config)
    cmd, out = profile_command(out_dir, ["fetch", "--config", str(config)])
    run_measured(cmd, cwd=config.parent, env=env, timeout=args.timeout)
    if out.suffix == ".txt" and out.exists():
        (out_dir / "summary.txt").write_text(summarise(out) + "\n")
    print(f"bench: profile written to {out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpus.is_dir():
        print(f"bench: corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    adopted = become_subreaper()
    byte_compile_ingest()
    env = ingest_env(args.set)
    items = build_items(corpus_pages(args.corpus), args.feeds, args.items)
    rep = Report(feeds=args.feeds, items=args.items, settings=args.set, gzip=not args.no_gzip,
                 machine=machine(), tiny_feeds=args.repoll_feeds, latency_ms=args.latency,
                 subreaper=adopted)
    with work_folder("ingest-speed-", args.keep) as work, \
            BenchSite(items, tiny_feeds=args.repoll_feeds, compress=not args.no_gzip,
                      latency=args.latency / 1000) as site:
        config = main_scenario(site, work, env, rep, args)
        peer_scenario(args, site, work, rep)
        repoll_scenario(site, work, env, rep, args.timeout)
        if args.profile:
            profile_scenario(args, config, env)
    print(render(rep))
    if args.json:
        args.json.write_text(json.dumps(rep.figures(), indent=2))
    return 0 if rep.first.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
