"""Memory of `ingest run`'s process tree, sampled once a cycle, and the tables that show it.

Each process is read from /proc/PID/smaps_rollup: RSS, PSS (shared pages divided among
the processes sharing them, so the sum is the tree's real footprint) and anonymous PSS
(Pss_Anon: the heap, where a leak shows). Processes are grouped as main (the `ingest run`
process), forkserver, workers (its children) and others (e.g. multiprocessing's resource
tracker).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.common import cmdline, parent_of, smaps_rollup, table, tree

MB = 1e6
GROUPS = ("main", "forkserver", "workers", "others")


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


def classify(root: int) -> dict[int, str]:
    """pid -> group for ``root``'s tree. The forkserver is the child whose command line
    runs multiprocessing.forkserver; the processes it forks (workers) inherit that
    command line, so they are told apart by their parent."""
    info = {pid: (parent_of(pid), cmdline(pid)) for pid in tree(root)}
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
        mem = smaps_rollup(pid)
        if mem.get("Rss"):
            s.rss[group] += mem["Rss"]
            s.pss[group] += mem.get("Pss", 0)
            s.anon[group] += mem.get("Pss_Anon", 0)
            s.count[group] += 1
    s.workers = frozenset(pid for pid, g in groups.items() if g == "workers")
    return s


def _mb(value: float) -> str:
    return f"{value / MB:.1f}"


def _pair(s: Sample, group: str) -> str:
    return f"{_mb(s.rss[group])} / {_mb(s.pss[group])}"


def render_table(samples: list[Sample]) -> str:
    """One row per cycle; workers show "new pids" when ingest replaced its pool."""
    head = ("cycle", "articles", "cycle s", "RSS Σ MB", "PSS Σ MB", "anon PSS Σ MB",
            "main RSS/PSS", "forkserver RSS/PSS", "workers RSS/PSS (n)", "others RSS/PSS (n)")
    rows = []
    previous: frozenset[int] = frozenset()
    for s in samples:
        fresh = " new pids" if previous and s.workers != previous else ""
        previous = s.workers
        rows.append((s.cycle, f"{s.articles:.0f}", f"{s.seconds:.1f}", _mb(s.rss_total),
                     _mb(s.pss_total), _mb(s.anon_total), _pair(s, "main"), _pair(s, "forkserver"),
                     f"{_pair(s, 'workers')} ({s.count['workers']}{fresh})",
                     f"{_pair(s, 'others')} ({s.count['others']})"))
    return table(head, rows, "r" * len(head))


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def render_growth(samples: list[Sample], warmup: int) -> str:
    """Each group's PSS change from the first cycle after the warm-up to the last."""
    kept = samples[warmup:]
    first, last = kept[0], kept[-1]
    cycles = [float(s.cycle) for s in kept]
    head = (f"PSS, cycle {first.cycle} → {last.cycle}", "start MB", "end MB", "change MB",
            "change %", "slope MB/cycle", "anon PSS change MB")
    rows = []
    for name, get, anon in [*((g, lambda s, g=g: s.pss[g], lambda s, g=g: s.anon[g])
                              for g in GROUPS),
                            ("total", lambda s: s.pss_total, lambda s: s.anon_total)]:
        a, b = get(first), get(last)
        rows.append((name, _mb(a), _mb(b), f"{(b - a) / MB:+.1f}",
                     f"{100 * (b - a) / a:+.1f}" if a else "–",
                     f"{slope(cycles, [get(s) / MB for s in kept]):+.2f}",
                     f"{(anon(last) - anon(first)) / MB:+.1f}"))
    return table(head, rows, "lrrrrrr")


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
