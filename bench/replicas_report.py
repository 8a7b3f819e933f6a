"""The replica bench's Markdown tables, each figure against bench/targets.toml [replicas]."""

from __future__ import annotations

import math
import re
from collections import Counter

from bench.common import table
from bench.replicas_cluster import Outcome, agent
from bench.replicas_cost import Cost, Phase
from tests.helpers.clustersite import Request, most_in_flight, smallest_gap

_PAGE = re.compile(r"/a/(\d+)\.html$")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def counts(o: Outcome) -> tuple[int, int]:
    """(duplicates, lost): records beyond one per id; published articles never written."""
    ids = [r.get("id") for r in o.records]
    numbers = {int(m.group(1)) for r in o.records if (m := _PAGE.search(r.get("url") or ""))}
    return len(ids) - len(set(ids)), len(set(range(o.published)) - numbers)


def records_table(outcomes: list[Outcome], t: dict) -> str:
    rows = []
    for o in outcomes:
        dup, lost = counts(o)
        logs = ", ".join(f"{n} {level}" for level, n in o.logs.items() if n) or "clean"
        rows.append((o.label, o.replicas, len(o.kills), o.published, len(o.records), dup, lost,
                     " ".join(str(c) for c in o.codes), f"{o.seconds:.0f} s"
                     + ("" if o.settled else " (not all written)"), logs, o.left,
                     verdict(dup <= t["duplicates"] and lost <= t["lost"])))
    return table(("scenario", "replicas", "SIGKILLs", "published", "records written",
                  "duplicates", "lost", "exit codes (SIGTERM)", "run", "replica logs",
                  "processes left", f"≤ {t['duplicates']} dup., ≤ {t['lost']} lost"), rows,
                 "llrrrrrlllrl")


def _first(requests: list[Request], after: float, feeds: frozenset[str], other: str | None
           ) -> float | None:
    """Seconds from ``after`` to the first request for one of ``feeds``, by any agent but
    ``other``'s (None: by anyone)."""
    for r in sorted(requests, key=lambda r: r.start):
        if r.start > after and f"http://{r.host}{r.path}" in feeds and r.agent != other:
            return r.start - after
    return None


def _all_again(requests: list[Request], after: float, feeds: frozenset[str]) -> float | None:
    firsts = [_first(requests, after, frozenset({f}), None) for f in feeds]
    return None if not firsts or None in firsts else max(f for f in firsts if f is not None)


def failover_table(o: Outcome, t: dict) -> str:
    rows = []
    for n, k in enumerate(o.kills, 1):
        other = _first(o.requests, k.at, k.leased, agent(k.victim))
        rows.append((n, k.victim, len(k.leased), _s(other), _s(_first(o.requests, k.at, k.leased,
                                                                         None)),
                     _s(_all_again(o.requests, k.at, k.leased)), _s(k.ready_after),
                     verdict(None if not k.leased else other is not None
                             and other <= t["failover_seconds"])))
    return table(("kill", "victim", "feeds it leased", "first poll of one by another replica",
                  "by any replica (restarted victim too)", "all of them polled again",
                  "victim restarted (/healthz)", f"≤ {t['failover_seconds']:g} s"), rows,
                 "rlrrrrrl")


def _closest(requests: list[Request], host: str, floor: float) -> tuple[str, str]:
    """On ``host``: the two requests that started closest together (senders and paths),
    and how many of the gaps between starts are below ``floor``."""
    mine = sorted((r for r in requests if r.host == host), key=lambda r: r.start)
    pairs = list(zip(mine, mine[1:], strict=False))
    if not pairs:
        return "—", "0 of 0"
    a, b = min(pairs, key=lambda p: p[1].start - p[0].start)
    short = sum(1 for x, y in pairs if y.start - x.start < floor)
    return (" → ".join(f"{r.agent.rsplit('/', 1)[-1]} {r.path}" for r in (a, b)),
            f"{short} of {len(pairs)}")


def politeness_table(outcomes: list[Outcome], delay: float, concurrency: int, t: dict) -> str:
    rows = []
    floor = delay - t["gap_slack_ms"] / 1000
    for o in outcomes:
        gaps, peaks = smallest_gap(o.requests), most_in_flight(o.requests)
        per_host = Counter(r.host for r in o.requests)
        for host in sorted(gaps):
            gap = gaps[host]
            pair, short = _closest(o.requests, host, floor)
            rows.append((o.label, host, per_host[host],
                         "—" if math.isinf(gap) else f"{1000 * gap:.0f} ms", pair, short,
                         peaks[host], verdict(gap >= floor and peaks[host] <= concurrency)))
    return table(("scenario", "host", "requests (feeds and pages)", "smallest gap between starts",
                  "those two requests", f"gaps < {1000 * floor:.0f} ms", "most in flight",
                  f"gap ≥ {1000 * floor:.0f} ms, in flight ≤ {concurrency}"), rows, "llrrlrrl")


def share_table(outcomes: list[Outcome], t: dict) -> str:
    rows = []
    for o in outcomes:
        polls = Counter(r.agent for r in o.requests if "/feeds/" in r.path)
        total = sum(polls.values()) or 1
        lowest = min((polls.get(agent(f"r{i}"), 0) for i in range(o.replicas)), default=0)
        shares = ", ".join(f"{a.rsplit('/', 1)[-1]} {polls[a]} ({100 * polls[a] / total:.0f} %)"
                           for a in sorted(polls))
        ok = None if o.replicas < 2 else 100 * lowest / total >= t["min_share_percent"]
        rows.append((o.label, sum(polls.values()), shares, f"{100 * lowest / total:.0f} %",
                     verdict(ok)))
    return table(("scenario", "feed polls", "by replica", "smallest share",
                  f"≥ {t['min_share_percent']:g} % (several replicas)"), rows, "lrlrl")


def _per_1000(cpu: float | None, polls: int) -> str:
    return "n/a" if cpu is None or not polls else f"{1000 * cpu / polls:.2f} s"


def cpu_table(outcomes: list[Outcome], cost: Cost | None) -> str:
    rows = []
    for o in outcomes:
        polls = sum(1 for r in o.requests if "/feeds/" in r.path)
        pages = len(o.requests) - polls
        rows.append((f"`ingest run`: {o.label}", polls, pages, f"{o.seconds:.0f} s",
                     _s(o.db_cpu), _per_1000(o.db_cpu, polls)))
    if cost and cost.daemon:
        d = cost.daemon
        rows.append((d.name, d.polls, 0, f"{d.seconds:.0f} s", _s(d.db_cpu),
                     _per_1000(d.db_cpu, d.polls)))
    for p in (cost.phases.values() if cost else ()):
        rows.append((f"in-process: {p.name}", p.polls, p.written, f"{p.seconds:.1f} s",
                     _s(p.db_cpu), _per_1000(p.db_cpu, p.polls)))
    return table(("run", "feed polls", "page requests / articles", "wall", "database CPU",
                  "database CPU per 1,000 polls"), rows, "lrrrrr")


def _turns(p: Phase, rate: float) -> float:
    return p.net_turns(rate) / p.polls if p.polls else math.nan


def cost_table(cost: Cost, t: dict) -> str:
    rate, limit = cost.idle_rate, t["turns_per_304"]
    rows: list[tuple[object, ...]] = []
    for p in cost.phases.values():
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(p.outcomes.items()))
        per = _turns(p, rate)
        ok = per <= limit if "304" in p.name else None
        rows.append((p.name, p.polls, outcomes, p.written, p.counts.turns,
                     f"{per:.2f}", p.counts.connections, verdict(ok)))
    ones, fives = (cost.phases.get(n) for n in ("1 new article per feed", "5 new articles per feed"))
    if ones and fives and fives.written > ones.written:
        marginal = (fives.net_turns(rate) - ones.net_turns(rate)) / (fives.written - ones.written)
        rows.append(("per new article (5-article polls less 1-article polls, per extra article)",
                     "", "", fives.written - ones.written, "", f"{marginal:.2f}", "", "n/a"))
    if cost.daemon:
        d = cost.daemon
        rows.append((f"{d.name}, {d.seconds:.0f} s (dispatch, leases, heartbeat included)",
                     d.polls, "", 0, d.counts.turns,
                     f"{d.counts.turns / d.polls:.2f}" if d.polls else "—", d.counts.connections,
                     verdict(d.polls > 0 and d.counts.turns / d.polls <= limit)))
    return table(("phase", "polls", "outcomes", "articles", "round trips",
                  "round trips per poll (idle turns subtracted)", "connections opened",
                  f"304 poll ≤ {limit:g}"), rows, "lrlrrrrl")


def breakdown_table(p: Phase, idle: Phase | None) -> str:
    """The turns of one phase by the statements they carried, per poll and per second;
    beside them, the idle stretch's turns scaled to the phase's length."""
    scale = p.seconds / idle.seconds if idle and idle.seconds else 0.0
    rows = []
    for label, n in p.counts.labels.most_common():
        background = idle.counts.labels.get(label, 0) * scale if idle else 0.0
        rows.append((f"`{label.replace('|', '¦')}`", n,
                     f"{n / p.polls:.2f}" if p.polls else "—",
                     f"{n / p.written:.2f}" if p.written else "—", f"{n / p.seconds:.2f}",
                     f"{background:.1f}" if idle else "n/a"))
    return table(("statements of the turn", "turns", "per poll", "per article", "per second",
                  "idle turns in as long"), rows, "lrrrrr")
