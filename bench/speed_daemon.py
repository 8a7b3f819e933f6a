"""Memory of `ingest run` over many polling cycles: is it flat? (issue 6)

    python bench/speed_daemon.py                  # 12 cycles, the default scenario below
    python bench/speed_daemon.py --cycles 30 --new 20 --keep
    python bench/speed_daemon.py --set extract.workers=1

Runs the real daemon (`ingest run`, a subprocess) against the bench news site
(bench/speed_site.py) on 127.0.0.1-3; no traffic leaves 127.0.0.0/8. The config
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
process tree: RSS and PSS per process (PSS divides shared pages among the
processes sharing them, so the sum is the tree's real footprint), grouped as
main (the `ingest run` process), forkserver, workers (its children) and others
(e.g. multiprocessing's resource tracker). "articles" is ingest_articles_written_total;
"cycle s" is publish to completion. "anon PSS" is the anonymous part of PSS
(smaps_rollup Pss_Anon): the heap, where a leak shows. The file-backed rest
(the interpreter, lxml and other shared libraries) is also shared with processes
outside the tree, so its share moves by a few MB when other Python processes
on the machine start or stop; anon PSS does not.

Verdict: PSS summed over the tree, cycle --warmup + 1 (3) against the last cycle;
memory is "flat" when it grew by at most --threshold (5) % (anon PSS is given
beside it). A per-group table gives each group's change and its least-squares
slope (MB per cycle) over the same cycles. Workers show "new pids" when ingest
replaced its pool (after 1,000 jobs per worker, ingest/workers.py). At the end
the daemon is stopped with SIGTERM; its exit code, the time it took, leftover
processes, and the count of WARNING/ERROR log lines are printed, and the
JSON-lines output is checked against the metrics (one line per article).
`--keep` keeps the work folder (config, log, output, state).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import ingest_command, ingest_env
from speed_proc import become_subreaper, tree
from speed_report import machine
from speed_site import BenchSite, Item, Route, build_items, corpus_pages, rss

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MB = 1e6
GROUPS = ("main", "forkserver", "workers", "others")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=12, help="polling cycles (at least 3)")
    p.add_argument("--warmup", type=int, default=2, help="cycles left out of the verdict")
    p.add_argument("--feeds", type=int, default=6, help="news feeds (new items every cycle)")
    p.add_argument("--window", type=int, default=20, help="items a news feed shows")
    p.add_argument("--new", type=int, default=10, help="new items per news feed per cycle")
    p.add_argument("--static-feeds", type=int, default=4, help="feeds that never change")
    p.add_argument("--tiny-feeds", type=int, default=20, help="feeds answering 304")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PERCENT",
                   help="largest PSS growth still called flat")
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


# -- the site: news feeds whose window moves on every cycle ------------------------------


class DaemonSite(BenchSite):
    """BenchSite whose first ``news`` feeds show a window that `publish` moves; the
    first time each news feed's current window is served is noted (`served`)."""

    def __init__(self, items: list[Item], *, news: int, window: int, new: int,
                 tiny_feeds: int) -> None:
        super().__init__(items, tiny_feeds=tiny_feeds)
        self.news, self.window, self.new = news, window, new
        self._gen_lock = threading.Lock()
        self._served: dict[str, float] = {}
        self._by_feed: dict[int, list[Item]] = {}
        for it in items:
            self._by_feed.setdefault(it.feed, []).append(it)

    def news_path(self, feed: int) -> str:
        return f"/feeds/f{feed:02d}.xml"

    def _build_routes(self) -> None:
        super()._build_routes()  # every page, tiny feeds; feeds replaced below
        xml = (("Content-Type", "application/rss+xml; charset=utf-8"),)
        for f in self.feeds[self.news:]:  # static feeds: their first window, for good
            body = rss(self.base(f), f, self._by_feed[f][:self.window])
            self._routes[self.news_path(f)] = Route("feed", body, xml)

    def publish(self, cycle: int) -> None:
        """Show cycle ``cycle``'s window (1-based) on every news feed."""
        xml = (("Content-Type", "application/rss+xml; charset=utf-8"),)
        start = (cycle - 1) * self.new
        routes = {self.news_path(f): Route("feed", rss(
            self.base(f), f, self._by_feed[f][start:start + self.window]), xml)
            for f in self.feeds[:self.news]}
        with self._gen_lock:
            self._routes.update(routes)
            self._served.clear()

    def route(self, path: str) -> Route | None:
        with self._gen_lock:
            found = self._routes.get(path)
            if found is not None and found.kind == "feed" and path not in self._served:
                self._served[path] = time.time()
            return found

    def served(self) -> dict[str, float]:
        with self._gen_lock:
            return dict(self._served)


def news_items(pages: list[Path], args: argparse.Namespace) -> list[Item]:
    per_feed = args.window + (args.cycles - 1) * args.new
    items = build_items(pages, args.feeds, per_feed)
    if args.static_feeds:  # their own pages, after the news feeds' (feed numbers follow on)
        static = build_items(pages[per_feed * args.feeds % len(pages):]
                             + pages[:per_feed * args.feeds % len(pages)],
                             args.feeds + args.static_feeds, args.window)
        items += [it for it in static if it.feed >= args.feeds]
    return items


# -- the daemon ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path, feeds: list[tuple[str, str]], port: int) -> Path:
    cfg = {"feeds": [{"name": n, "url": u} for n, u in feeds],
           "output": {"dir": "out"}, "state": {"path": "state/state.sqlite"},
           "http": {"allow_private_networks": True, "per_host_delay": 0},
           "schedule": {"interval": "1s", "min_interval": "1s", "max_interval": "3s",
                        "shutdown_grace": "20s"},
           "server": {"host": "127.0.0.1", "port": port}}
    path = folder / "config.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path


class Daemon:
    """`ingest run` in its own session, its log in a file, its ops server on ``port``."""

    def __init__(self, config: Path, port: int, env: dict[str, str]) -> None:
        self.port, self.log = port, config.parent / "run.log"
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen([*ingest_command(), "run", "--config", str(config)],
                                     cwd=config.parent, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file,
                                     start_new_session=True)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: the daemon exited ({self.proc.returncode}):\n"
                                 f"{self.tail()}") from None
            return 0, ""

    def metric(self, name: str) -> float:
        code, text = self.get("/metrics")
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE) if code == 200 else None
        return float(match.group(1)) if match else float("nan")

    def status(self) -> dict[str, dict]:
        code, text = self.get("/status")
        return {row["url"]: row for row in json.loads(text)} if code == 200 else {}

    def stop(self, timeout: float = 60) -> tuple[int | None, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_for(check, timeout: float, what: str, daemon: Daemon, every: float = 0.1) -> float:
    """Poll ``check()`` until true; seconds it took. Gives up with the log's tail."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"bench: gave up after {timeout:.0f}s waiting for {what}\n"
                             f"{daemon.tail()}")
        time.sleep(every)
    return time.monotonic() - started


# -- memory of the process tree ----------------------------------------------------------


@dataclass
class Sample:
    cycle: int
    articles: float
    seconds: float  # the cycle's length, publish to completion
    rss: dict[str, int] = field(default_factory=dict)  # group -> bytes
    pss: dict[str, int] = field(default_factory=dict)
    anon: dict[str, int] = field(default_factory=dict)  # the anonymous part of pss
    count: dict[str, int] = field(default_factory=dict)  # group -> processes
    workers: frozenset[int] = frozenset()

    @property
    def rss_total(self) -> int:
        return sum(self.rss.values())

    @property
    def pss_total(self) -> int:
        return sum(self.pss.values())

    @property
    def anon_total(self) -> int:
        return sum(self.anon.values())


def rollup(pid: int) -> dict[str, int]:
    """Rss, Pss and Pss_Anon of one process in bytes (/proc/PID/smaps_rollup); {} once gone."""
    wanted, found = ("Rss:", "Pss:", "Pss_Anon:"), {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(wanted):
                key, value = line.split()[:2]
                found[key.rstrip(":")] = int(value) * 1024
    except (OSError, ValueError):
        return {}
    return found


def _ppid_and_cmdline(pid: int) -> tuple[int, str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return -1, ""
    return int(stat.rsplit(b")", 1)[1].split()[1]), cmd


def classify(root: int) -> dict[int, str]:
    """pid -> group for ``root``'s tree. The forkserver is the child whose command line
    runs multiprocessing.forkserver; the processes it forks (workers) inherit that
    command line, so they are told apart by their parent."""
    info = {pid: _ppid_and_cmdline(pid) for pid in tree(root)}
    servers = {pid for pid, (ppid, cmd) in info.items()
               if ppid == root and "multiprocessing.forkserver" in cmd}
    groups = {}
    for pid, (ppid, _) in info.items():
        if pid == root:
            groups[pid] = "main"
        elif pid in servers:
            groups[pid] = "forkserver"
        elif ppid in servers:
            groups[pid] = "workers"
        elif ppid != -1:
            groups[pid] = "others"
    return groups


def sample(root: int, cycle: int, articles: float, seconds: float) -> Sample:
    s = Sample(cycle, articles, seconds, *({g: 0 for g in GROUPS} for _ in range(4)))
    groups = classify(root)
    for pid, group in groups.items():
        mem = rollup(pid)
        if mem.get("Rss"):
            s.rss[group] += mem["Rss"]
            s.pss[group] += mem.get("Pss", 0)
            s.anon[group] += mem.get("Pss_Anon", 0)
            s.count[group] += 1
    s.workers = frozenset(pid for pid, g in groups.items() if g == "workers")
    return s


# -- one cycle -----------------------------------------------------------------------


def run_cycle(site: DaemonSite, daemon: Daemon, cycle: int, news_urls: dict[str, str],
              other_urls: list[str], timeout: float) -> Sample:
    """Publish cycle ``cycle``, wait until it is done and the daemon idle, sample."""
    started = time.time()
    site.publish(cycle)

    def done() -> bool:
        served, status = site.served(), daemon.status()
        if not status:
            return False
        for path, url in news_urls.items():
            row = status.get(url)
            if path not in served or row is None or row["last_success_at"] is None:
                return False
            if row["last_success_at"] < served[path]:
                return False
        return all(((status.get(u) or {}).get("last_success_at") or 0) >= started
                   for u in other_urls)

    wait_for(done, timeout, f"cycle {cycle} to complete", daemon, every=0.2)
    seconds = time.time() - started
    deadline = time.monotonic() + 5  # a quiet moment: no poll in flight
    while daemon.metric("ingest_polls_in_flight") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    articles = daemon.metric("ingest_articles_written_total")
    return sample(daemon.proc.pid, cycle, articles, seconds)


# -- report --------------------------------------------------------------------------


def _mb(value: int) -> str:
    return f"{value / MB:.1f}"


def render_table(samples: list[Sample]) -> str:
    head = ("| cycle | articles | cycle s | RSS Σ MB | PSS Σ MB | anon PSS Σ MB | main RSS/PSS | "
            "forkserver RSS/PSS | workers RSS/PSS (n) | others RSS/PSS (n) |")
    rows = [head, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    previous: frozenset[int] = frozenset()
    for s in samples:
        fresh = " new pids" if previous and s.workers != previous else ""
        previous = s.workers
        rows.append(
            f"| {s.cycle} | {s.articles:.0f} | {s.seconds:.1f} | {_mb(s.rss_total)} | "
            f"{_mb(s.pss_total)} | {_mb(s.anon_total)} | "
            f"{_mb(s.rss['main'])} / {_mb(s.pss['main'])} | "
            f"{_mb(s.rss['forkserver'])} / {_mb(s.pss['forkserver'])} | "
            f"{_mb(s.rss['workers'])} / {_mb(s.pss['workers'])} ({s.count['workers']}{fresh}) | "
            f"{_mb(s.rss['others'])} / {_mb(s.pss['others'])} ({s.count['others']}) |")
    return "\n".join(rows)


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def render_growth(samples: list[Sample], warmup: int) -> str:
    """Each group's PSS change from the first cycle after the warm-up to the last."""
    kept = samples[warmup:]
    first, last = kept[0], kept[-1]
    cycles = [float(s.cycle) for s in kept]
    head = (f"| PSS, cycle {first.cycle} → {last.cycle} | start MB | end MB | change MB | "
            "change % | slope MB/cycle | anon PSS change MB |")
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for name, get, anon in [*((g, lambda s, g=g: s.pss[g], lambda s, g=g: s.anon[g])
                              for g in GROUPS),
                            ("total", lambda s: s.pss_total, lambda s: s.anon_total)]:
        a, b = get(first), get(last)
        pct = f"{100 * (b - a) / a:+.1f}" if a else "–"
        rows.append(f"| {name} | {_mb(a)} | {_mb(b)} | {(b - a) / MB:+.1f} | {pct} | "
                    f"{slope(cycles, [get(s) / MB for s in kept]):+.2f} | "
                    f"{(anon(last) - anon(first)) / MB:+.1f} |")
    return "\n".join(rows)


def verdict(samples: list[Sample], warmup: int, threshold: float) -> str:
    first, last = samples[warmup], samples[-1]
    grew = last.pss_total - first.pss_total
    pct = 100 * grew / first.pss_total
    anon = last.anon_total - first.anon_total
    anon_pct = 100 * anon / first.anon_total
    return (f"**verdict: {'flat' if pct <= threshold else 'NOT flat'}** — PSS summed over the "
            f"process tree went from {_mb(first.pss_total)} MB (cycle {first.cycle}) to "
            f"{_mb(last.pss_total)} MB (cycle {last.cycle}): {grew / MB:+.1f} MB, {pct:+.1f} % "
            f"(flat: ≤ {threshold:g} %). Of that, anonymous {anon / MB:+.1f} MB ({anon_pct:+.1f} %: "
            f"{'flat' if anon_pct <= threshold else 'NOT flat'}) and file-backed "
            f"{(grew - anon) / MB:+.1f} MB (shared libraries, whose share also moves with other "
            f"processes on the machine); RSS summed {(last.rss_total - first.rss_total) / MB:+.1f} MB")


def output_lines(out: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in out.rglob("*.jsonl"))


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
                 and _ppid_and_cmdline(pid)[0] == os.getpid()]
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


# -- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpus.is_dir():
        print(f"bench: corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    adopted = become_subreaper()
    env = ingest_env(args.set)
    items = news_items(corpus_pages(args.corpus), args)
    work = Path(tempfile.mkdtemp(prefix="ingest-daemon-"))
    samples: list[Sample] = []
    daemon: Daemon | None = None
    try:
        with DaemonSite(items, news=args.feeds, window=args.window, new=args.new,
                        tiny_feeds=args.tiny_feeds) as site:
            site.publish(1)
            urls = site.feed_urls()
            news_urls = {site.news_path(f): urls[i] for i, f in enumerate(site.feeds)
                         if f < args.feeds}
            other_urls = [u for i, u in enumerate(urls) if site.feeds[i] >= args.feeds]
            other_urls += site.tiny_feed_urls()
            feeds = [(f"news-{f:02d}" if f < args.feeds else f"static-{f:02d}", urls[i])
                     for i, f in enumerate(site.feeds)]
            feeds += [(f"tiny-{n:04d}", u) for n, u in enumerate(site.tiny_feed_urls())]
            port = free_port()
            config = write_config(work, feeds, port)
            daemon = Daemon(config, port, env)
            wait_for(lambda: daemon.get("/healthz")[0] == 200, 60, "/healthz", daemon)
            for cycle in range(1, args.cycles + 1):
                samples.append(run_cycle(site, daemon, cycle, news_urls, other_urls,
                                         args.cycle_timeout))
                print(f"bench: cycle {cycle}: {samples[-1].articles:.0f} articles, "
                      f"PSS {_mb(samples[-1].pss_total)} MB", file=sys.stderr)
            page_requests = site.requests()["page"]
            code, took = daemon.stop()
            left = leftovers(10.0)
            for pid in left:  # our own descendants, by pid
                os.kill(pid, signal.SIGKILL)
            leftovers(5.0)
            lines = output_lines(work / "out")
            logs = log_counts(daemon.log)
    finally:
        if daemon is not None:
            daemon.kill()
        if args.keep:
            print(f"bench: work folder kept at {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    m = machine()
    growth = render_growth(samples, args.warmup)
    print(f"## `ingest run` memory over {args.cycles} polling cycles\n")
    print(f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, {m['date']}; "
          f"{args.feeds} news feeds × {args.window}-item window, {args.new} new items per feed "
          f"per cycle (cycle 1: {args.window}), {args.static_feeds} unchanged feeds, "
          f"{args.tiny_feeds} feeds answering 304; interval 1-3 s, per_host_delay 0"
          + (f"; settings {', '.join(args.set)}" if args.set else "") + ".\n")
    print(render_table(samples))
    print()
    print(growth)
    print()
    print(verdict(samples, args.warmup, args.threshold))
    print()
    total = samples[-1].articles
    print(f"- stop: SIGTERM → exit code {code if code is not None else 'none (still running)'} "
          f"after {took:.1f} s; processes left behind: {len(left)}"
          + ("" if adopted else " (not a subreaper: orphans not seen)"))
    print(f"- output: {lines} JSON lines for {total:.0f} articles counted "
          f"({'match' if lines == total else 'MISMATCH'}); {page_requests} page requests")
    print(f"- daemon log: {logs['WARNING']} WARNING, {logs['ERROR']} ERROR, "
          f"{logs['CRITICAL']} CRITICAL lines")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
