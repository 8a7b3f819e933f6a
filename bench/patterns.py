"""Worst-case time of every built-in regex on adversarial text; prints Markdown tables.

    python -m bench.patterns [NAME_PART ...]    # only the patterns whose name holds one

The patterns and the inputs are those of tests/test_patterns_bounded.py: every compiled
pattern at module level in ingest, plus each entry of the footer tables, and, per
pattern, the adversarial inputs tests/helpers/redos.py builds from it (pieces of the pattern
repeated, a suffix that makes the match fail late). Columns: the pattern, its slowest
input at 200 characters (shortened), the time of that input's search, and the same at
2,000 characters; a time is one search, best of three when it passes the ceiling (the
tests' 50 ms; the search stops growing there, so its input may be shorter). The test
asserts the same ceiling at 250 characters, the longest line a built-in rule looks at.

The second table times the hardening audit's reproducers through the functions that
meet them in the daemon.
"""

from __future__ import annotations

import sys
import time

import ingest
from bench.common import argument_parser, table
from ingest.extract.htmltext import html_to_text
from ingest.footers.lines import is_credit, tail_credit
from tests.helpers.redos import LINE_CEILING, footer_table_patterns, package_patterns, worst_case

PATTERNS = {**package_patterns(ingest)[0], **footer_table_patterns()}

REPRODUCERS = (
    ("agency signature, n = 22", is_credit, "ANSA" + "/AP" * 22 + "/1"),
    ("agency signature, 200 chars", is_credit, "ANSA" + "/AP" * 65 + "/1"),
    ("agency commas", is_credit, " , DPA" * 33 + "1"),
    ("contributor accents", tail_credit, "\u00b4" * 200 + "!"),
    ("html tag starts, 200 KB", html_to_text, "<a" * 100_000),
    ("html doctype subsets, 200 KB", html_to_text, "<!DOCTYPE[" * 20_000),
    ("html <html>", html_to_text, "<html>"),
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _shown(text) -> str:
    text = text.decode("latin-1") if isinstance(text, bytes) else text
    shown = repr(text[:40]) + ("…" if len(text) > 40 else "")
    return shown.replace("|", "\\|")


def pattern_table(only: list[str]) -> str:
    rows = []
    for name, pattern in sorted(PATTERNS.items()):
        if only and not any(part in name for part in only):
            continue
        short = worst_case(pattern, 200, LINE_CEILING)
        long = worst_case(pattern, 2_000, LINE_CEILING)
        rows.append((name, _shown(short.text), _ms(short.seconds), _ms(long.seconds)))
    return table(("pattern", "worst input (200)", "ms at 200", "ms at 2,000"), rows, "llrr")


def reproducer_table() -> str:
    rows = []
    for label, func, text in REPRODUCERS:
        best = min(_timed(func, text) for _ in range(3))
        rows.append((label, func.__name__, _ms(best)))
    return table(("reproducer", "function", "ms (best of 3)"), rows, "llr")


def _timed(func, text) -> float:
    started = time.perf_counter()
    func(text)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("patterns", __doc__)
    parser.add_argument("only", nargs="*", metavar="NAME_PART",
                        help="only the patterns whose name holds one of these")
    only = parser.parse_args(argv).only
    print(f"Regex worst cases: {len(PATTERNS)} patterns, ceiling {_ms(LINE_CEILING)} ms\n")
    print(pattern_table(only))
    print("\nReproducers of the hardening issue\n")
    print(reproducer_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
