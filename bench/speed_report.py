"""Figures of one speed-bench run, and the Markdown table that sets them against the
targets of bench/targets.toml."""

from __future__ import annotations

import os
import re
import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import table
from bench.speed_peer import PeerResult
from bench.speed_proc import Measured

TARGETS_FILE = Path(__file__).with_name("targets.toml")
_SUMMARY = (("written", r"(\d+) written"), ("pages", r"page requests: (\d+)"),
            ("failed", r"(\d+) failed"), ("not_modified", r"(\d+) not modified"),
            ("deferred", r"(\d+) left for a later run"))
Row = tuple[str, str, str, str]  # measure, value, target, verdict


def ingest_summary(stderr: str) -> dict:
    """Counts from the summary `ingest fetch` prints on stderr."""
    found: dict = {k: int(m.group(1)) for k, p in _SUMMARY if (m := re.search(p, stderr))}
    took = re.search(r"page requests: \d+; ([\d.]+)s", stderr)
    found["run_seconds"] = float(took.group(1)) if took else 0.0
    skipped = re.search(r"^skipped: (.*)$", stderr, re.MULTILINE)
    found["skipped"] = sum(map(int, re.findall(r"(\d+) \w+", skipped.group(1)))) if skipped else 0
    return found


def targets(section: str) -> dict:
    """One section of bench/targets.toml."""
    with TARGETS_FILE.open("rb") as f:
        return tomllib.load(f)[section]


@dataclass
class Report:
    feeds: int
    items: int
    settings: list[str]
    gzip: bool
    machine: dict[str, str]
    tiny_feeds: int = 0
    latency_ms: float = 0.0
    subreaper: bool = True  # False: CPU of orphaned descendants is missing
    first: Measured | None = None
    first_walls: list[float] = field(default_factory=list)
    first_summary: dict = field(default_factory=dict)
    first_pages: int = 0
    first_connections: int = 0
    repoll: Measured | None = None
    repoll_pages: int = 0
    repoll_feed_requests: int = 0
    repoll_connections: int = 0
    startup: float = 0.0
    floor: dict = field(default_factory=dict)  # the floor run next to the fastest ingest run
    floor_ratios: list[float] = field(default_factory=list)  # per run: ingest wall ÷ the floors around it
    peers: list[PeerResult] = field(default_factory=list)
    peer_resolution: str = ""
    tiny_first: Measured | None = None
    tiny_repoll: Measured | None = None
    tiny_one: Measured | None = None
    tiny_304: int = 0
    tiny_connections: int = 0

    @property
    def articles(self) -> int:
        return self.feeds * self.items

    @property
    def cores(self) -> int:
        return os.cpu_count() or 1

    @property
    def floor_seconds(self) -> float:
        return self.floor_of(self.floor) if self.floor else 0.0

    def floor_of(self, floor: dict) -> float:
        """The floor's wall time from one floor run: extraction CPU ÷ cores + start-up."""
        return floor["bare_cpu"] / self.cores + self.startup

    @property
    def peer(self) -> PeerResult | None:
        return next((p for p in self.peers if p.how == "per feed" and not p.error), None)

    def figures(self) -> dict:
        f, p = self.first, self.repoll
        out = {"machine": self.machine, "feeds": self.feeds, "items": self.items,
               "settings": self.settings, "first_wall": f.wall, "first_walls": self.first_walls,
               "first_cpu": f.cpu, "first_main_cpu": f.own_cpu, "first_others_cpu": f.others_cpu,
               "written": self.first_summary.get("written"), "first_page_requests":
               self.first_pages, "first_connections": self.first_connections,
               "peak_rss_mb": f.peak_rss_mb, "peak_pss_mb": f.peak_pss_mb, "repoll_wall": p.wall,
               "repoll_cpu": p.cpu, "repoll_page_requests": self.repoll_pages,
               "repoll_connections": self.repoll_connections, "startup": self.startup,
               "floor": self.floor, "floor_seconds": self.floor_seconds,
               "floor_ratios": self.floor_ratios}
        out["peers"] = [{"how": x.how, "wall": x.wall, "cpu": x.cpu, "written": x.written,
                         "pages": x.pages, "error": x.error} for x in self.peers]
        if self.tiny_repoll:
            out.update(tiny_feeds=self.tiny_feeds, tiny_repoll_cpu=self.tiny_repoll.cpu,
                       tiny_repoll_wall=self.tiny_repoll.wall, tiny_one_cpu=self.tiny_one.cpu,
                       tiny_304=self.tiny_304, tiny_connections=self.tiny_connections)
        return out


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")


def _main_rows(r: Report) -> list[Row]:
    f, p, s = r.first, r.repoll, r.first_summary
    written, busy = s.get("written", 0), f.others_cpu > 0.1 * f.wall
    spread = (f"; fastest of {len(r.first_walls)}: " + ", ".join(f"{w:.2f}" for w in r.first_walls)
              if len(r.first_walls) > 1 else "")
    return [
        ("ingest fetch, fresh state: wall", f"{f.wall:.2f} s (polling {s['run_seconds']:.2f} s, "
         f"the rest start-up and shut-down{spread})", "", ""),
        ("  articles written / page requests / TCP connections",
         f"{written} / {r.first_pages} / {r.first_connections} (skipped {s.get('skipped', 0)}, "
         f"failed feeds {s.get('failed', '?')}, exit {f.returncode})", "", ""),
        ("  articles per second", f"{written / f.wall:.1f}", "", ""),
        ("  CPU, process tree (user+sys)", f"{f.cpu:.2f} s = main {f.own_cpu:.2f} s + "
         f"forkserver/workers {f.descendants_cpu:.2f} s", "", ""),
        ("  other users' CPU on this machine meanwhile", f"{f.others_cpu:.2f} s"
         + (" — busy machine: wall times are pessimistic" if busy else ""), "", ""),
        ("  peak memory, process tree", f"RSS {f.peak_rss_mb:.0f} MB summed (PSS "
         f"{f.peak_pss_mb:.0f} MB, {f.peak_procs} processes)", "", ""),
        ("ingest fetch again, nothing changed: wall",
         f"{p.wall:.2f} s (CPU {p.cpu:.2f} s, others {p.others_cpu:.2f} s)", "", ""),
        ("  page requests on re-poll", f"{r.repoll_pages} (feed requests "
         f"{r.repoll_feed_requests}, TCP connections {r.repoll_connections})", "0",
         _verdict(r.repoll_pages == 0)),
    ]


def _floor_rows(r: Report) -> list[Row]:
    fl = r.floor
    if not fl:
        return [("floor", "not measured (--no-floor)", "", "")]
    bare, ours = fl["bare_cpu"], fl["ingest_cpu"]
    return [
        ("floor: bare trafilatura.extract CPU, one process",
         f"{bare:.2f} s for {fl['pages']} pages ({1000 * bare / fl['pages']:.0f} ms/page); "
         f"÷ {r.cores} cores = {bare / r.cores:.2f} s", "", ""),
        ("  bare CPU per page (info)",
         f"median {1000 * fl['bare_median']:.0f} ms, slowest {1000 * fl['bare_max']:.0f} ms; "
         f"the slowest 5 % of the pages take {100 * fl['bare_slowest_share']:.0f} % of it",
         "", ""),
        ("  ingest's extract_article CPU, same pages (info)",
         f"{ours:.2f} s ({ours / bare:.2f}× bare)", "", ""),
        ("  start-up: python -c 'import ingest.cli.main, trafilatura'", f"{r.startup:.2f} s", "", ""),
        ("floor = extraction CPU ÷ cores + start-up", f"{r.floor_seconds:.2f} s", "", ""),
    ]


def _peer_rows(r: Report) -> list[Row]:
    rows = []
    for p in r.peers:
        label = (f"peer: trafilatura --feed URL --json, {p.how}" if p.how == "per feed"
                 else "peer: trafilatura -i feeds.txt --feed --json, one process (info)")
        if p.error and not p.written:
            rows.append((label, f"could not run: {p.error}", "", ""))
            continue
        others = sum(run.others_cpu for run in p.runs)
        rows.append((label, f"{p.wall:.2f} s, CPU {p.cpu:.2f} s (others {others:.2f} s), "
                     f"{p.written} documents, {p.pages} page requests, peak RSS "
                     f"{p.peak_rss_mb:.0f} MB" + (f"; {p.error}" if p.error else ""), "", ""))
    return rows


def _ratio_rows(r: Report, t: dict) -> list[Row]:
    f, peer = r.first, r.peer
    # The machine's speed drifts within minutes, so each ingest run is set against the
    # mean of the floor runs just before and after it, and the verdict takes the median
    # of those ratios.
    ratios = r.floor_ratios
    floor_ratio = statistics.median(ratios) if ratios else None
    pairs = f" (median of {len(ratios)} runs, each between two floor runs: " + ", ".join(
        f"{x:.2f}" for x in ratios) + ")" if len(ratios) > 1 else ""
    share = r.repoll.wall / f.wall
    rows = [("ingest ÷ floor (wall)",
             "-" if floor_ratio is None else f"{floor_ratio:.2f}{pairs}", f"≤ {t['floor_ratio']}",
             _verdict(None if floor_ratio is None else floor_ratio <= t["floor_ratio"]))]
    peer_target = f"≤ {1 / t['peer_speedup']:.2f}"
    if peer:
        rows.append(("ingest ÷ peer (wall)", f"{f.wall / peer.wall:.2f} (ingest "
                     f"{peer.wall / f.wall:.1f}× faster)", peer_target,
                     _verdict(peer.wall / f.wall >= t["peer_speedup"])))
    else:
        rows.append(("ingest ÷ peer (wall)", "peer did not run", peer_target, "n/a"))
    rows.append(("re-poll ÷ first run (wall)", f"{100 * share:.0f} %",
                 f"≤ {100 * t['repoll_share']:.0f} %, 0 pages",
                 _verdict(share <= t["repoll_share"] and r.repoll_pages == 0)))
    return rows


def _tail_rows(r: Report, t: dict) -> list[Row]:
    rows = []
    if r.tiny_repoll:
        tr, one, n = r.tiny_repoll, r.tiny_one, r.tiny_feeds
        per, marginal = 1000 * tr.cpu / n, 1000 * (tr.cpu - one.cpu) / max(1, n - 1)
        rows.append((f"{n:,} unchanged feeds re-polled (ETag → 304): CPU per feed",
                     f"{per:.2f} ms ({tr.cpu:.2f} s CPU, {tr.wall:.2f} s wall; {r.tiny_304} × "
                     f"304 over {r.tiny_connections} TCP connections; one feed alone "
                     f"{one.cpu:.2f} s CPU, so {max(marginal, 0):.2f} ms per extra feed)",
                     f"≤ {t['tiny_cpu_ms']:g} ms", _verdict(per <= t["tiny_cpu_ms"])))
    f, memory = r.first, f"≤ {t['memory_mb']:.0f} MB"
    if r.articles >= t["memory_articles"]:
        # PSS, not summed RSS: the workers share the forkserver's pages (the interpreter,
        # trafilatura, its stoplists), and summing RSS counts those pages once per process.
        rows.append((f"peak memory for {r.articles} articles: PSS summed over the tree",
                     f"{f.peak_pss_mb:.0f} MB (summed RSS {f.peak_rss_mb:.0f} MB counts shared "
                     f"pages once per process)", memory, _verdict(f.peak_pss_mb <= t["memory_mb"])))
    else:
        rows.append((f"peak RSS for {t['memory_articles']} articles", "not measured (run with --full)",
                     memory, "n/a"))
    return rows


def render(r: Report) -> str:
    m, t = r.machine, targets("speed")
    site = (f"Site: {r.feeds} feeds × {r.items} items = {r.articles} articles on 127.0.0.1-3, "
            f"pages {'gzip' if r.gzip else 'uncompressed'}, per_host_delay 0")
    site += f", {r.latency_ms:g} ms server latency" if r.latency_ms else ""
    site += f"; settings {', '.join(r.settings)}" if r.settings else ""
    site += f"; peer hosts resolved by {r.peer_resolution}" if r.peers else ""
    site += "" if r.subreaper else "; CPU misses orphaned workers (no subreaper)"
    head = [f"## ingest speed bench — {m['date']}", "",
            f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; {m['versions']}.",
            site + ".", ""]
    rows = (_main_rows(r) + _floor_rows(r) + _peer_rows(r) + _ratio_rows(r, t)
            + _tail_rows(r, t))
    return "\n".join(head) + "\n" + table(("measure", "value", "target", "verdict"), rows)
