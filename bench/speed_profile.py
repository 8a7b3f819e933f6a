"""Where `ingest fetch` spends its time: one profiled run, summarised per process role.

`bench.speed --profile DIR` runs `profile_command`: with py-spy installed (pip install py-spy; it
samples every process of the tree: main, forkserver, workers) it writes DIR/py-spy.txt
(raw collapsed stacks, usable with flamegraph.pl or speedscope) and DIR/summary.txt;
without it, DIR/main.prof (cProfile of the main process only). The floor run adds
DIR/extract.prof (cProfile of ingest's extract_article over the same pages, one process).

    python -m bench.speed_profile DIR/py-spy.txt [TOP]     # summary of an existing capture
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

_FRAME = re.compile(r"(.*) \((.*?):(\d+)\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile_command(out_dir: Path, ingest_args: list[str]) -> tuple[list[str], Path]:
    """The command that runs ``python -m ingest <ingest_args>`` under a profiler."""
    spy = py_spy()
    if spy:
        out = out_dir / "py-spy.txt"
        return [spy, "record", "--subprocesses", "--rate", "250", "--format", "raw",
                "--output", str(out), "--", sys.executable, "-m", "ingest", *ingest_args], out
    out = out_dir / "main.prof"
    return [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "ingest", *ingest_args], out


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame[:100]
    where = match.group(2).split("/site-packages/")[-1].split("/lib/python3.11/")[-1]
    return f"{match.group(1)} ({where})"


def _role(process: str, frames: list[str]) -> str:
    if "forkserver" in process:
        return "worker" if any("_process_worker" in f for f in frames) else "forkserver"
    return "resource_tracker" if "resource_tracker" in process else "main"


def summarise(raw: Path, top: int = 25) -> str:
    """Samples per process role, and the top frames (inclusive) of each role."""
    per_role: Counter[str] = Counter()
    inclusive: dict[str, Counter[str]] = defaultdict(Counter)
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        last = max(i for i, f in enumerate(frames) if f.startswith("process ")) \
            if any(f.startswith("process ") for f in frames) else -1
        process, rest = (frames[last] if last >= 0 else ""), frames[last + 1:]
        role = _role(process, rest)
        per_role[role] += int(count)
        for frame in dict.fromkeys(_short(f) for f in rest):
            inclusive[role][frame] += int(count)
    total = sum(per_role.values()) or 1
    out = [f"{role}: {n} samples ({100 * n / total:.0f} %)" for role, n in per_role.most_common()]
    for role, n in per_role.most_common():
        out.append(f"\n{role}: top frames, inclusive")
        out += [f"  {100 * c / n:5.1f} %  {frame}" for frame, c in inclusive[role].most_common(top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.speed_profile",
                                     description="summarise a py-spy capture (raw collapsed stacks)")
    parser.add_argument("raw", type=Path, help="DIR/py-spy.txt of a `bench.speed --profile DIR` run")
    parser.add_argument("top", type=int, nargs="?", default=25, help="frames per process role")
    args = parser.parse_args()
    print(summarise(args.raw, args.top))


if __name__ == "__main__":
    main()
