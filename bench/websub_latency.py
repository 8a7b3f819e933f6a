"""WebSub push latency of `ingest run`: from a hub's delivery to the record on disk.

    python -m bench.websub_latency                 # 20 pushes after 2 not counted
    python -m bench.websub_latency --quick         # 3 pushes after 1
    python -m bench.websub_latency --corpus ../shared/corpus   # real article pages
    python -m bench.websub_latency --pushes 50 --set extract.workers=1 --json out.json

Starts the real daemon (a subprocess) and the WebSub hub of tests/helpers/websubhub.py,
which also serves the feed (naming itself the hub) and the article pages, all on
127.0.0.1. ``server.public_url`` is the daemon's own ops address; the bench waits for the
subscription to be verified, then pushes one new entry at a time, each with an article
page of its own (a signed feed document holding only that entry), and times from the
start of the hub's POST to its 202, and to the record's line in the output file (the
file is read every few milliseconds). The next push starts once the record is there.
The pages are small made-up articles (`tests.helpers.newssite.plain_page`), or with
``--corpus`` the corpus's real pages in turn (their extraction is most of the time).
Pushes before ``--warmup`` are made but not counted (the first one meets cold workers).
The feed polled meanwhile never shows the pushed entries: every record is a push's.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

from bench.common import (
    argument_parser,
    ingest_env,
    machine,
    table,
    work_folder,
    write_config,
)
from bench.speed_site import corpus_pages
from tests.helpers.daemonrun import Run, free_port, wait_for
from tests.helpers.newssite import HTML, Item, plain_page
from tests.helpers.websubhub import WebSubHub, websub_rss

TARGET_P95 = 2.0  # seconds from the hub's POST to the record on disk
RSS = "application/rss+xml; charset=utf-8"
DELIVERY_LOGGED = "websub: pushed: delivery "  # the daemon's line once a delivery is worked


def parse_args(argv: list[str] | None = None):
    p = argument_parser("websub_latency", __doc__)
    p.add_argument("--pushes", type=int, default=20, help="pushes counted")
    p.add_argument("--warmup", type=int, default=2, help="pushes made first and not counted")
    p.add_argument("--quick", action="store_true", help="3 pushes after 1 (the smoke test's form)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="ingest setting (INGEST_SECTION_KEY), e.g. extract.workers=1")
    p.add_argument("--timeout", type=float, default=60, help="seconds one push may take")
    p.add_argument("--corpus", type=Path, help="serve the corpus's pages (default: made-up ones)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args(argv)
    if args.quick:
        args.pushes, args.warmup = 3, 1
    if args.pushes < 1 or args.warmup < 0:
        p.error("need --pushes >= 1 and --warmup >= 0")
    return args


class Tail:
    """The URLs of records appended to the JSON-lines files under a folder, as they come."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}
        self.urls: set[str] = set()

    def read(self) -> set[str]:
        for path in self.folder.rglob("*.jsonl"):
            with path.open("rb") as f:
                f.seek(self.offsets.get(path, 0))
                data = f.read()
            whole = data[:data.rfind(b"\n") + 1]  # a line still being written waits
            self.offsets[path] = self.offsets.get(path, 0) + len(whole)
            self.urls.update(json.loads(line)["url"] for line in whole.splitlines())
        return self.urls


def push(hub: WebSubHub, topic: str, tail: Tail, run: Run, n: int, page: bytes,
         timeout: float) -> tuple[float, float | None]:
    """Push article ``n`` (the n-th delivery); seconds to the hub's answer, and to the
    record on disk (None: the delivery was worked and wrote nothing, the page skipped)."""
    url = hub.url(f"/a/{n}.html")
    hub.add(f"/a/{n}.html", page, HTML)
    body = websub_rss([Item(f"Articolo spinto {n}", url, f"push-{n}")], hub.hub_url, topic)
    started = time.monotonic()
    statuses = hub.publish(topic, body, RSS)
    answered = time.monotonic() - started
    if statuses != [202]:
        raise SystemExit(f"bench: push {n} answered {statuses}, not [202]\n{hub.describe()}")
    deadline = started + timeout
    while url not in tail.read():
        if run.text().count(DELIVERY_LOGGED) >= n:
            return answered, None
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: push {n} not written within {timeout:.0f} s")
        time.sleep(0.002)
    return answered, time.monotonic() - started


def measure(work: Path, args) -> dict:
    with WebSubHub() as hub:
        topic = hub.url("/feed.xml")
        hub.add(f"/a/{0}.html", plain_page("Articolo 0", 0), HTML)
        hub.add("/feed.xml", websub_rss([Item("Articolo 0", hub.url("/a/0.html"), "g0")],
                                        hub.hub_url, topic), {"Content-Type": RSS})
        port = free_port()
        config = write_config(
            work, [("pushed", topic)],
            schedule={"interval": "1s", "min_interval": "1s", "max_interval": "1h"},
            server={"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"})
        run = Run(config, port, work / "daemon.log", env=ingest_env(args.set))
        try:
            wait_for(lambda: hub.active(topic), 30, lambda: f"{hub.describe()}\n{run.tail()}")
            tail = Tail(work / "out")
            wait_for(lambda: hub.url("/a/0.html") in tail.read(), 30, run.tail)  # polled
            times = [push(hub, topic, tail, run, n, page, args.timeout)
                     for n, page in pages(args.corpus, args.warmup + args.pushes)]
            metrics = run.get("/metrics")[1]
            code, _ = run.stop(30)
        finally:
            run.kill()
    counted = [(a, r) for a, r in times[args.warmup:] if r is not None]
    return {"pushes": len(counted), "warmup": args.warmup, "exit": code,
            "pages": "made up" if args.corpus is None else f"corpus ({args.corpus})",
            "answer": summary([a for a, _ in counted]),
            "record": summary([r for _, r in counted]),
            "warmup_record": [r for _, r in times[:args.warmup] if r is not None],
            "skipped": sum(1 for _, r in times if r is None),
            "accepted": _metric(metrics, 'ingest_websub_deliveries_total{outcome="accepted"}'),
            "target_p95": TARGET_P95}


def pages(corpus: Path | None, count: int) -> list[tuple[int, bytes]]:
    """``count`` numbered article pages: made up, or the corpus's in turn (made distinct)."""
    if corpus is None:
        return [(n, plain_page(f"Articolo spinto {n}", n)) for n in range(1, count + 1)]
    files = corpus_pages(corpus)
    return [(n, files[(n - 1) % len(files)].read_bytes() + f"\n<!-- push {n} -->\n".encode())
            for n in range(1, count + 1)]


def summary(seconds: list[float]) -> dict:
    ranked = sorted(seconds)
    p95 = ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)]  # nearest rank
    return {"median": statistics.median(ranked), "p95": p95, "max": ranked[-1],
            "min": ranked[0]}


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def report(figures: dict) -> None:
    m = machine()
    print(f"{m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['versions']}; {m['date']}; "
          f"pages: {figures['pages']}")
    print()
    ms = "{:.0f} ms".format
    rows = [(label, figures["pushes"], *(ms(figures[key][q] * 1000) for q in ("median", "p95", "max")))
            for label, key in (("hub POST → 202 answer", "answer"),
                               ("hub POST → record on disk", "record"))]
    print(table(("push", "n", "median", "p95", "max"), rows, "lrrrr"))
    met = "met" if figures["record"]["p95"] <= TARGET_P95 else "NOT met"
    print()
    print(f"target: p95 to the record on disk ≤ {TARGET_P95:.0f} s: {met}; warm-up pushes "
          f"(not counted): {', '.join(ms(s * 1000) for s in figures['warmup_record']) or '-'}; "
          f"deliveries accepted (metric): {figures['accepted']}, of which wrote nothing "
          f"(page skipped, not counted): {figures['skipped']}; SIGTERM exit {figures['exit']}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with work_folder("websub-latency-", args.keep) as work:
        figures = measure(work, args)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
