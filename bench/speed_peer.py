"""The peer: trafilatura's own feed mode (``trafilatura --feed URL --json``) on the same site.

trafilatura refuses IP-literal and ``localhost`` link hosts, so its feeds name the
hosts ``bench-host-N.test``. With ``--edit-hosts`` (root only) those names go into
/etc/hosts for the run (marked lines, removed afterwards) and the installed
``trafilatura`` script runs; otherwise bench.speed_peer_shim resolves them in-process.
Politeness is switched off in a config file: SLEEP_TIME = 0 (its only delay) and
SSRF_PROTECTION = off (loopback).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import bench_command, bench_env
from bench.speed_proc import Measured, run_measured
from bench.speed_site import BenchSite

HOSTS_FILE = Path("/etc/hosts")
_MARK = "# ingest-speed-bench"
PEER_CONFIG = """[DEFAULT]
# the bench's peer run: no politeness delay, loopback allowed
SLEEP_TIME = 0
SSRF_PROTECTION = off
"""


@dataclass
class PeerResult:
    how: str  # "per feed" or "one process"
    runs: list[Measured] = field(default_factory=list)
    written: int = 0
    pages: int = 0  # page requests the site saw
    error: str | None = None

    @property
    def wall(self) -> float:
        return sum(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return sum(r.cpu for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max((r.peak_rss_mb for r in self.runs), default=0.0)


def peer_command(site: BenchSite, edited_hosts: bool) -> list[str]:
    if edited_hosts:
        return [str(Path(sys.executable).with_name("trafilatura"))]
    return bench_command("speed_peer_shim", json.dumps(site.peer_hosts()))


@contextlib.contextmanager
def edited_hosts_file(names: dict[str, str]) -> Iterator[None]:
    """Add ``address name`` lines to /etc/hosts for the block; root only."""
    if os.geteuid() != 0:
        raise SystemExit("bench: --edit-hosts needs root (it writes /etc/hosts)")
    original = HOSTS_FILE.read_text()
    lines = "".join(f"{address} {name} {_MARK}\n" for name, address in names.items())
    HOSTS_FILE.write_text(original.rstrip("\n") + "\n" + lines)
    try:
        yield
    finally:
        kept = [ln for ln in HOSTS_FILE.read_text().splitlines(keepends=True) if _MARK not in ln]
        HOSTS_FILE.write_text("".join(kept))


def run_peer(site: BenchSite, workdir: Path, *, edited_hosts: bool, one_process: bool,
             timeout: float) -> PeerResult:
    """Run the peer over every feed of ``site``; count JSON documents it writes."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "peer.cfg"
    config.write_text(PEER_CONFIG)
    base = [*peer_command(site, edited_hosts), "--json", "--config-file", str(config)]
    env = bench_env({k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")})
    result = PeerResult("one process" if one_process else "per feed")
    before = site.requests()["page"]
    if one_process:
        listing = workdir / "feeds.txt"
        listing.write_text("\n".join(site.peer_feed_urls()) + "\n")
        commands = [[*base, "-i", str(listing), "--feed"]]
    else:
        commands = [[*base, "--feed", url] for url in site.peer_feed_urls()]
    for cmd in commands:
        run = run_measured(cmd, cwd=workdir, env=env, timeout=timeout)
        result.runs.append(run)
        result.written += _documents(run.stdout)
        if run.timed_out or (run.returncode not in (0, 1) and not result.error):
            result.error = f"exit {run.returncode}: {_last_line(run.stderr)}"
    result.pages = site.requests()["page"] - before
    if not result.written and not result.error:
        result.error = f"wrote nothing: {_last_line(result.runs[-1].stderr) or 'no output'}"
    return result


def _documents(stdout: str) -> int:
    """JSON documents with text in trafilatura's --json output (one per line)."""
    count = 0
    for line in stdout.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        count += bool(isinstance(doc, dict) and (doc.get("text") or doc.get("raw_text")))
    return count


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""
