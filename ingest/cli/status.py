"""`ingest status`: one row per feed from the state store, as a table or as JSON.

Rows follow the config's order; feeds the store remembers that the config does
not list come last (``configured: false``), and configured feeds the store
has never seen show as never polled. Times are ISO 8601 UTC in JSON and ages
("3m ago", "in 12m") in the table; a feed being polled shows the replica polling it
(``polled_by``: with several replicas on one PostgreSQL store, any of them).

Failing, stale and the redaction of URLs and errors are the daemon's
(`ingest.daemon.feed_health`): stale is no new item for more than 4 expected
intervals, counted from the last new item or from when the daemon first
scheduled the feed, polled or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingest.config.model import Config
from ingest.daemon.feed_health import feed_health, health_redactor
from ingest.models import Feed, FeedState
from ingest.redact import Redactor
from ingest.units import utc_iso

_COLUMNS = ("FEED", "LAST POLL", "LAST OK", "FAILS", "NEXT POLL", "ARTICLES", "STALE",
            "LAST ERROR")
_ERROR_WIDTH = 80


def feed_rows(cfg: Config, states: Iterable[FeedState], now: float,
              leases: Mapping[str, str] | None = None) -> list[dict]:
    """One plain-data row per configured feed, then per feed only the store knows;
    ``leases``: {feed URL: the replica polling it now}."""
    by_url = {s.url: s for s in states}
    redact = health_redactor([*(f.url for f in cfg.feeds), *by_url], cfg.server.token)
    rows = [_row(feed, by_url.pop(feed.url, None), cfg, now, redact) for feed in cfg.feeds]
    for url, state in sorted(by_url.items()):
        rows.append(_row(Feed(name=url, url=url), state, cfg, now, redact, configured=False))
    for row, url in zip(rows, [*(f.url for f in cfg.feeds), *sorted(by_url)], strict=True):
        row["polled_by"] = (leases or {}).get(url)
    return rows


def _row(feed: Feed, state: FeedState | None, cfg: Config, now: float,
         redact: Redactor, configured: bool = True) -> dict:
    health = feed_health(feed, state, cfg.schedule, now, redact)
    s = health.state
    return {
        "feed": feed.name if configured else None, "url": health.url,
        "configured": configured, "polled": health.polled,
        "last_poll_at": _iso(s.last_poll_at), "last_success_at": _iso(s.last_success_at),
        "last_new_at": _iso(s.last_new_at), "next_poll_at": _iso(s.next_poll_at),
        "failures": s.failures, "failing": health.failing,
        "last_error": health.last_error, "articles_written": s.articles_written,
        "stale": health.stale,
        "_stamps": (s.last_poll_at, s.last_success_at, s.next_poll_at),
    }


def public(rows: list[dict]) -> list[dict]:
    """The rows as `ingest status --json` prints them."""
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


def render_table(rows: list[dict], now: float) -> str:
    """Aligned columns for people, with a one-line summary under them."""
    table = [_COLUMNS] + [_cells(row, now) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS) - 1)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(line, widths, strict=False)]
                       + [line[-1]]).rstrip()
             for line in table]
    lines.append(_summary(rows))
    return "\n".join(lines)


def _cells(row: dict, now: float) -> tuple[str, ...]:
    name = row["feed"] if row["configured"] else f"{row['url']} (not in config)"
    if not row["polled"]:
        return (name, "never polled", "-", "-", "-", "-", "stale" if row["stale"] else "-", "")
    last_poll, last_ok, next_poll = row["_stamps"]
    error = " ".join((row["last_error"] or "").split())
    if len(error) > _ERROR_WIDTH:
        error = error[:_ERROR_WIDTH - 1] + "…"
    next_cell = f"polling on {row['polled_by']}" if row["polled_by"] else _until(next_poll, now)
    return (name, _age(last_poll, now), _age(last_ok, now), str(row["failures"]),
            next_cell, str(row["articles_written"]),
            "stale" if row["stale"] else "no", error or "-")


def _summary(rows: list[dict]) -> str:
    def count(key: str) -> int:
        return sum(1 for r in rows if r[key])

    never = sum(1 for r in rows if not r["polled"])
    return (f"{len(rows)} feeds: {count('failing')} failing, {count('stale')} stale, "
            f"{never} never polled")


def _age(stamp: float | None, now: float) -> str:
    return "never" if stamp is None else f"{_span(now - stamp)} ago"


def _until(stamp: float | None, now: float) -> str:
    if stamp is None:
        return "-"
    return "due" if stamp <= now else f"in {_span(stamp - now)}"


def _span(seconds: float) -> str:
    """The largest unit or two: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else utc_iso(stamp)
