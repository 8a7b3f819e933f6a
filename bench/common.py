"""What the bench scripts share: paths, ingest's config and environment, /proc, tables.

The scripts run from the repository root as ``python -m bench.<name>``. One that needs a
fresh interpreter starts ``bench_command(name, ...)`` with ``env=bench_env(...)``, so the
child finds the ``bench`` package whatever its working directory.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path

from tests.helpers.cli import CORPUS, REPO, ingest_command

__all__ = ["CORPUS", "REPO", "argument_parser", "bench_command", "bench_env", "cmdline",
           "corpus_pages_missing",
           "ingest_command", "ingest_env", "machine", "parent_of", "settings_env", "smaps_rollup",
           "table", "table_head", "table_row", "tree", "work_folder", "write_config"]


# -- command lines, child interpreters and ingest runs -----------------------------------


def argument_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m bench.<name>``, described by its docstring's first line."""
    return argparse.ArgumentParser(prog=f"python -m bench.{name}",
                                   description=(doc or "").split("\n", 1)[0])


def corpus_pages_missing(corpus: Path) -> bool:
    """Say so on stderr when ``corpus`` has no pages/ folder (the corpus is an argument)."""
    if (corpus / "pages").is_dir():
        return False
    print(f"bench: no corpus at {corpus}/pages; pass the corpus folder as argument",
          file=sys.stderr)
    return True


@contextlib.contextmanager
def work_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A scratch folder for a bench's runs, removed afterwards unless ``keep`` (then its
    place is said on stderr)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            print(f"bench: work folder kept at {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def bench_command(name: str, *args: str) -> list[str]:
    """``python -m bench.<name> ARGS`` in this interpreter."""
    return [sys.executable, "-m", f"bench.{name}", *args]


def bench_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with the repository first on PYTHONPATH."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), out.get("PYTHONPATH")) if p)
    return out


def settings_env(settings: Iterable[str]) -> dict[str, str]:
    """``--set section.key=value`` items as ingest's INGEST_SECTION_KEY variables."""
    env = {}
    for item in settings:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot:
            raise SystemExit(f"bench: --set {item!r}: expected section.key=value")
        env[f"INGEST_{section.upper()}_{name.upper()}"] = value
    return env


def ingest_env(settings: Iterable[str] = ()) -> dict[str, str]:
    """This environment without the caller's INGEST_* variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    return {**env, **settings_env(settings)}


def write_config(folder: Path, feeds: Sequence[tuple[str, str]], **sections: dict) -> Path:
    """``folder``/config.yaml: ingest's defaults except loopback allowed and no politeness
    delay; ``sections`` add to or override its sections."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg: dict = {"feeds": [{"name": n, "url": u} for n, u in feeds],
                 "output": {"dir": "out"}, "state": {"path": "state/state.sqlite"},
                 "http": {"allow_private_networks": True, "per_host_delay": 0}}
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = folder / "config.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path


def machine() -> dict[str, str]:
    """The machine and the versions a run's figures belong to."""
    model = "?"
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
                     "?")
    except OSError:
        pass
    versions = []
    for name in ("ingest", "trafilatura", "httpx"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return {"cores": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": ", ".join(versions)}


# -- processes, from /proc ---------------------------------------------------------------


def parent_of(pid: int) -> int:
    """The parent's pid; -1 once ``pid`` is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return -1
    return int(stat.rsplit(b")", 1)[1].split()[1])  # the name in (...) may hold spaces


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def tree(root: int) -> list[int]:
    """``root`` and all its descendants now alive."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            children.setdefault(parent_of(int(entry.name)), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def smaps_rollup(pid: int) -> dict[str, int]:
    """/proc/PID/smaps_rollup in bytes ("Rss", "Pss", "Pss_Anon", ...); {} once gone.
    PSS divides each shared page among the processes sharing it, so PSS sums over a
    process tree to its real footprint where summed RSS counts shared pages per process."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if rest.endswith(" kB"):
                found[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError):
        return {}
    return found


# -- Markdown tables ------------------------------------------------------------------


def table_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table_head(head: Sequence[str], align: str = "") -> str:
    """The header and rule lines; ``align`` holds "l" or "r" per column (default "l")."""
    rule = "".join("---:|" if a == "r" else "---|" for a in align.ljust(len(head), "l"))
    return table_row(head) + "\n|" + rule


def table(head: Sequence[str], rows: Iterable[Iterable[object]], align: str = "") -> str:
    return "\n".join([table_head(head, align), *(table_row(r) for r in rows)])
