"""Lengths and figures of footer lines against ledes and closing lines, on the corpus and the
footer golden files; prints Markdown tables: what the learning cap and the keys rest on.

    python -m bench.footer_lines [CORPUS_DIR]   # default: ../shared/corpus

Footer side (the lines a cap must keep learnable):
  built-in removals      what strip_footers removes from each corpus page (the pipeline's own
                         extraction, no learned counts), later repeats of a line left out
  golden removals        tests/footers/golden: the lines each handwritten case loses, and each
                         corpus case's hand-checked "removed"
  boilerplate in runs    lines of the head and tail runs (the lines learning counts) of fundus
                         and newspaper4k pages that the ground truth lacks and the built-in
                         rules keep: promos, paywall and subscription notes, comment policies,
                         labels, related headlines (and a few captions)
  `without` in runs      trafilatura pages' run lines that hold one of the page's `without`
                         snippets (boilerplate the evaluation names)
Article side (the lines a cap should leave out):
  lede, closing line     the first / last paragraph of the ground truth (fundus sections,
                         newspaper4k txt; goose3's prefix gives only a lede; the seed article)
  first, last sentence   the first sentence of the lede, the last of the closing line
  content in runs        run lines of fundus and newspaper4k pages found in the ground truth

A length is the cleaned line's characters, which lines.learnable compares with the cap;
"<= N" is the share of a class's lines learnable under a cap of N. The second table counts
the lines with figures, and those with a figure besides a date's, a time's or a year's,
which line_key keeps (recurrences that differ in it count apart). The third lists the
footer-side lines of LISTED_FROM to LONG_LINE characters, to tell promos from the rest.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from bench.common import CORPUS, REPO, argument_parser, corpus_pages_missing, table
from bench.quality import extract_text, load_pages
from ingest.footers import rules as R
from ingest.footers.lines import clean, line_key
from ingest.footers.strip import FooterRules, learning_runs, strip_footers
from ingest.urls import site_of

CAPS = (80, 100, 120, 150, 170, 200)
LISTED_FROM = 100
GOLDEN = REPO / "tests" / "footers" / "golden"
FOOTER_SIDE = ("built-in removals", "golden removals", "boilerplate in runs",
               "`without` in runs")
ARTICLE_SIDE = ("lede", "closing line", "first sentence", "last sentence", "content in runs")
_SENTENCE = re.compile(r"(?<=[.!?…。！？])[\"'»”’)]*\s+|(?<=[。！？])")
_DIGIT = re.compile(r"\d")

Lines = dict[str, list[tuple[str, str]]]  # class -> [(page, line)]


def _norm(s: str) -> str:
    return " ".join(s.split())


def _paragraphs(text: str) -> list[str]:
    return [p for p in (_norm(line) for line in text.split("\n")) if p]


def _sentences(paragraph: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE.split(paragraph)) if s]


def corpus_lines(corpus: Path) -> Lines:
    found: Lines = defaultdict(list)
    for page in load_pages(corpus):
        text = extract_text(page.path.read_bytes(), page.url)
        name = page.path.name
        cleaned = strip_footers(text, learned={}, rules=FooterRules(), site=site_of(page.url or ""))
        removed = [r for r in cleaned.removed if r.strip() and text.count(r) == 1]
        found["built-in removals"] += [(name, r) for r in removed]
        lines = text.split("\n")
        runs = [lines[i] for i in learning_runs(lines) if lines[i] not in cleaned.removed]
        if page.without:
            found["`without` in runs"] += [(name, line) for line in runs
                                           if any(w in line for w in page.without)]
        if page.truth is None:
            continue
        truth = _paragraphs(page.truth)
        if page.source != "goose3":
            whole = _norm(page.truth)
            for line in runs:
                cls = "content in runs" if _norm(line) in whole else "boilerplate in runs"
                found[cls].append((name, line))
        _article_ends(found, name, truth, closing=page.source != "goose3")
    seed = _paragraphs((corpus / "seed-ansa-article.txt").read_text(encoding="utf-8"))
    _article_ends(found, "seed-ansa-article.txt", seed[:-1], closing=True)
    return found


def _article_ends(found: Lines, name: str, paragraphs: list[str], closing: bool) -> None:
    if not paragraphs:
        return
    found["lede"].append((name, paragraphs[0]))
    found["first sentence"].append((name, _sentences(paragraphs[0])[0]))
    if closing:
        found["closing line"].append((name, paragraphs[-1]))
        found["last sentence"].append((name, _sentences(paragraphs[-1])[-1]))


def golden_lines(golden: Path) -> list[tuple[str, str]]:
    found = []
    for case in sorted(golden.glob("handwritten/*.in.txt")):
        out = set(case.with_name(case.name.replace(".in.txt", ".out.txt")).read_text().split("\n"))
        found += [(case.name, line) for line in case.read_text().split("\n")
                  if line.strip() and line not in out]
    for case in sorted(golden.glob("corpus/*.json")):
        found += [(case.name, line) for line in json.loads(case.read_text())["removed"]]
    return found


def _percentile(sorted_values: list[int], q: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def length_table(found: Lines) -> str:
    head = ("lines", "n", "p10", "p25", "median", "p75", "p90", "max",
            *(f"<= {c}" for c in CAPS))
    rows = []
    for cls in (*FOOTER_SIDE, *ARTICLE_SIDE):
        lengths = sorted(len(clean(line)) for _, line in found[cls])
        if not lengths:
            continue
        shares = (f"{sum(n <= c for n in lengths) / len(lengths):.0%}" for c in CAPS)
        rows.append((cls, len(lengths), *(_percentile(lengths, q) for q in (.1, .25, .5, .75, .9)),
                     lengths[-1], *shares))
    return table(head, rows, "l" + "r" * (len(head) - 1))


def figures_table(found: Lines, cap: int) -> str:
    head = ("lines", f"learnable (<= {cap})", "with figures", "with figures besides dates")
    rows = []
    for cls in (*FOOTER_SIDE, *ARTICLE_SIDE):
        lines = [clean(line) for _, line in found[cls] if 0 < len(clean(line)) <= cap]
        rows.append((cls, len(lines), sum(bool(_DIGIT.search(s)) for s in lines),
                     sum(bool(_DIGIT.search(line_key(s))) for s in lines)))
    return table(head, rows, "lrrr")


def long_footer_table(found: Lines) -> str:
    rows = sorted(((len(clean(line)), cls, page, clean(line)[:60])
                   for cls in FOOTER_SIDE for page, line in found[cls]
                   if LISTED_FROM <= len(clean(line)) <= R.LONG_LINE), reverse=True)
    return table(("chars", "lines", "page", "starts"), rows, "rlll")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("footer_lines", __doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS, help="the corpus folder")
    corpus = parser.parse_args(argv).corpus
    if corpus_pages_missing(corpus):
        return 2
    found = corpus_lines(corpus)
    found["golden removals"] = golden_lines(GOLDEN)
    print(length_table(found), figures_table(found, R.LEARN_MAX_CHARS),
          long_footer_table(found), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
