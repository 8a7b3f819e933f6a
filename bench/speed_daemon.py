"""Memory of `ingest run` over many polling cycles: is it flat?

    python -m bench.speed_daemon                  # 12 cycles, the default scenario below
    python -m bench.speed_daemon --cycles 30 --new 20 --keep
    python -m bench.speed_daemon --set extract.workers=1

Runs the real daemon (`ingest run`, a subprocess) against the bench news site
(bench/speed_daemon_site.py) on 127.0.0.1-3; no traffic leaves 127.0.0.0/8. The config
(written to a temporary folder, state and output there too) uses the shortest
schedule worth having: interval = min_interval = 1s, max_interval = 3s, and
http.per_host_delay 0, so a feed is polled every 1-3.3 s.

The site has three kinds of feeds:
  --feeds (6) news feeds: a sliding window of --window (20) items; cycle k shows
      items (k-1)*new .. (k-1)*new + window - 1, so cycle 1 brings `window` new
      articles per feed and every later cycle --new (10) new ones, each with a page
      of its own (corpus pages, made distinct): every cycle fetches and extracts
      new pages, the steady state of a real deployment;
  --static-feeds (4): the same bytes every time (the daemon's body-hash "unchanged");
  --tiny-feeds (20): an ETag, answered with 304.

A cycle starts when the bench publishes the next window and ends when (a) every
news feed has finished a successful poll that began after the site served it the
new window (/status last_success_at; one feed is never polled twice at once) and
(b) every other feed has been polled successfully since the cycle began. The
bench then waits for a moment with no poll in flight (/metrics
ingest_polls_in_flight 0, at most 5 s) and samples /proc for the daemon's whole
process tree (bench/speed_daemon_memory.py). "articles" is
ingest_articles_written_total; "cycle s" is publish to completion. The file-backed
part of PSS (the interpreter, lxml and other shared libraries) is also shared with
processes outside the tree, so its share moves when other Python processes on the
machine start or stop; anon PSS does not.

Verdict: PSS summed over the tree, cycle --warmup + 1 (3) against the last cycle;
memory is "flat" when it grew by at most --threshold (bench/targets.toml) % (anon PSS
is given beside it). A per-group table gives each group's change and its least-squares
slope (MB per cycle) over the same cycles. Workers show "new pids" when ingest
replaced its pool (ingest/workers/pool.py). At the end the daemon is stopped with
SIGTERM; its exit code, the time it took, leftover processes, and the count of
WARNING/ERROR log lines are printed, and the JSON-lines output is checked against the
metrics (one line per article). `--keep` keeps the work folder (config, log, output, state).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    CORPUS,
    argument_parser,
    machine,
    parent_of,
    settings_env,
    tree,
    work_folder,
    write_config,
)
from bench.speed_daemon_memory import Sample, render_growth, render_table, sample, verdict
from bench.speed_daemon_site import DaemonSite, news_items
from bench.speed_proc import become_subreaper
from bench.speed_report import targets
from bench.speed_site import corpus_pages
from tests.helpers.daemonrun import Run, free_port, wait_for


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argument_parser("speed_daemon", __doc__)
    p.add_argument("--cycles", type=int, default=12, help="polling cycles (at least 3)")
    p.add_argument("--warmup", type=int, default=2, help="cycles left out of the verdict")
    p.add_argument("--feeds", type=int, default=6, help="news feeds (new items every cycle)")
    p.add_argument("--window", type=int, default=20, help="items a news feed shows")
    p.add_argument("--new", type=int, default=10, help="new items per news feed per cycle")
    p.add_argument("--static-feeds", type=int, default=4, help="feeds that never change")
    p.add_argument("--tiny-feeds", type=int, default=20, help="feeds answering 304")
    p.add_argument("--threshold", type=float, default=targets("daemon")["flat_growth_percent"],
                   metavar="PERCENT", help="largest PSS growth still called flat")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="ingest setting (INGEST_SECTION_KEY), e.g. extract.workers=1")
    p.add_argument("--cycle-timeout", type=float, default=300, help="seconds per cycle")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    args = p.parse_args(argv)
    if args.cycles < 3 or not 0 <= args.warmup < args.cycles - 1:
        p.error("need --cycles >= 3 and 0 <= --warmup < cycles - 1")
    if args.feeds < 1 or args.window < 1 or not 1 <= args.new <= args.window:
        p.error("need --feeds >= 1, --window >= 1 and 1 <= --new <= --window")
    if args.window + (args.cycles - 1) * args.new > 1000:
        p.error("window + (cycles - 1) * new must stay within 1000 items per feed")
    return args


@dataclass
class Feeds:
    config: list[tuple[str, str]]  # (name, url) for the config
    news: dict[str, str]  # the news feeds' URLs by path on the site
    others: list[str]  # the URLs of the static and tiny feeds


def site_feeds(site: DaemonSite, news: int) -> Feeds:
    urls, tiny = site.feed_urls(), site.tiny_feed_urls()
    numbered = list(zip(site.feeds, urls, strict=True))
    return Feeds(
        config=[(f"news-{f:02d}" if f < news else f"static-{f:02d}", u) for f, u in numbered]
        + [(f"tiny-{n:04d}", u) for n, u in enumerate(tiny)],
        news={site.news_path(f): u for f, u in numbered if f < news},
        others=[u for f, u in numbered if f >= news] + tiny)


def status_by_url(run: Run) -> dict[str, dict]:
    code, text = run.get("/status")
    return {row["url"]: row for row in json.loads(text)} if code == 200 else {}


def run_cycle(site: DaemonSite, run: Run, cycle: int, feeds: Feeds, timeout: float) -> Sample:
    """Publish cycle ``cycle``, wait until it is done and the daemon idle, sample."""
    started = time.time()
    site.publish(cycle)

    def done() -> bool:
        served, status = site.served(), status_by_url(run)
        if not status:
            return False
        for path, url in feeds.news.items():
            row = status.get(url)
            if path not in served or row is None or row["last_success_at"] is None:
                return False
            if row["last_success_at"] < served[path]:
                return False
        return all(((status.get(u) or {}).get("last_success_at") or 0) >= started
                   for u in feeds.others)

    wait_for(done, timeout, lambda: f"waiting for cycle {cycle} to complete\n{run.tail()}", 0.2)
    seconds = time.time() - started
    deadline = time.monotonic() + 5  # a quiet moment: no poll in flight
    while run.metric("ingest_polls_in_flight") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    articles = run.metric("ingest_articles_written_total")
    return sample(run.proc.pid, cycle, articles, seconds)


def leftovers(wait: float) -> list[int]:
    """Descendants of this process still alive ``wait`` s after the daemon ended (adopted
    as orphans, since the bench is a subreaper); reaped when they exit meanwhile."""
    deadline = time.monotonic() + wait
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        alive = [pid for pid in tree(os.getpid()) if pid != os.getpid()
                 and parent_of(pid) == os.getpid()]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def log_counts(log: Path) -> dict[str, int]:
    counts = {"WARNING": 0, "ERROR": 0, "CRITICAL": 0}
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) > 1 and parts[1] in counts:
            counts[parts[1]] += 1
    return counts


@dataclass
class Ending:
    code: int | None  # exit code after SIGTERM; None: still running
    took: float  # seconds from SIGTERM to exit
    left: int  # processes left behind
    lines: int  # JSON lines written
    logs: dict[str, int]  # log lines by level
    page_requests: int


def run_daemon(args: argparse.Namespace, work: Path) -> tuple[list[Sample], Ending]:
    """Start the site and the daemon, run every cycle, stop the daemon."""
    items = news_items(corpus_pages(args.corpus), args)
    samples: list[Sample] = []
    with DaemonSite(items, news=args.feeds, window=args.window, new=args.new,
                    tiny_feeds=args.tiny_feeds) as site:
        site.publish(1)
        feeds, port = site_feeds(site, args.feeds), free_port()
        config = write_config(work, feeds.config,
                              schedule={"interval": "1s", "min_interval": "1s",
                                        "max_interval": "3s", "shutdown_grace": "20s"},
                              server={"host": "127.0.0.1", "port": port})
        run = Run(config, port, work / "run.log", env=settings_env(args.set), ready_within=60,
                  answer_within=5)
        try:
            for cycle in range(1, args.cycles + 1):
                samples.append(run_cycle(site, run, cycle, feeds, args.cycle_timeout))
                print(f"bench: cycle {cycle}: {samples[-1].articles:.0f} articles, "
                      f"PSS {samples[-1].pss_total / 1e6:.1f} MB", file=sys.stderr)
            page_requests = site.requests()["page"]
            code, took = run.stop(60)
            left = leftovers(10.0)
            for pid in left:  # our own descendants, by pid
                os.kill(pid, signal.SIGKILL)
            leftovers(5.0)
        finally:
            run.kill()
    lines = sum(p.read_bytes().count(b"\n") for p in (work / "out").rglob("*.jsonl"))
    return samples, Ending(code, took, len(left), lines, log_counts(run.log), page_requests)


def report(args: argparse.Namespace, samples: list[Sample], end: Ending, adopted: bool) -> None:
    m = machine()
    print(f"## `ingest run` memory over {args.cycles} polling cycles\n")
    print(f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, {m['date']}; "
          f"{args.feeds} news feeds × {args.window}-item window, {args.new} new items per feed "
          f"per cycle (cycle 1: {args.window}), {args.static_feeds} unchanged feeds, "
          f"{args.tiny_feeds} feeds answering 304; interval 1-3 s, per_host_delay 0"
          + (f"; settings {', '.join(args.set)}" if args.set else "") + ".\n")
    print(render_table(samples))
    print()
    print(render_growth(samples, args.warmup))
    print()
    print(verdict(samples, args.warmup, args.threshold))
    print()
    total = samples[-1].articles
    code = end.code if end.code is not None else "none (still running)"
    print(f"- stop: SIGTERM → exit code {code} after {end.took:.1f} s; "
          f"processes left behind: {end.left}"
          + ("" if adopted else " (not a subreaper: orphans not seen)"))
    print(f"- output: {end.lines} JSON lines for {total:.0f} articles counted "
          f"({'match' if end.lines == total else 'MISMATCH'}); {end.page_requests} page requests")
    print(f"- daemon log: {end.logs['WARNING']} WARNING, {end.logs['ERROR']} ERROR, "
          f"{end.logs['CRITICAL']} CRITICAL lines")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpus.is_dir():
        print(f"bench: corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    adopted = become_subreaper()
    try:
        with work_folder("ingest-daemon-", args.keep) as work:
            samples, end = run_daemon(args, work)
    except AssertionError as exc:  # the daemon exited early, or a cycle never completed
        raise SystemExit(f"bench: {exc}") from None
    report(args, samples, end, adopted)
    return 0 if end.code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
