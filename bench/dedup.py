"""Near-duplicate detection (ingest.dedup) on a labelled set made from the shared corpus:
precision and recall by threshold, the choice of shingle size, signature length and bands,
the CPU of a fingerprint, and one article's lookup and insert in a SQLite index of 10k, 100k
and 1M signatures. Prints Markdown tables (progress on stderr).

    python -m bench.dedup            # the index up to 1M signatures: a few minutes
    python -m bench.dedup --quick    # the index at 10k only; configurations not compared

The labelled set (bench.dedup_eval): every article of the corpus with at least 100 words,
and one copy per change rate (0, 2, 5, 10, 15, 20 % of words), made as outlets make them
(bench.dedup_copies). Same-story pairs: an original and its copies; hard negatives: two
stories of one site. Precision counts every pair found; recall counts original-copy pairs.
The threshold suggested is, among those of the grid at which the band keys still find
CANDIDATE_FLOOR of the pairs of that resemblance (the bands are a filter for candidates,
not the threshold) and which meet both quality targets, the one that uses the smallest
share of their error budgets: 1 - precision against 1 - its target, and likewise recall
of copies with at most 10 % of words changed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.common import CORPUS, argument_parser, machine, table
from bench.dedup_cost import input_rows, step_rows
from bench.dedup_eval import (
    THRESHOLDS,
    Config,
    Metrics,
    candidate_chance,
    fingerprints,
    labelled_set,
    metrics,
    score,
    shingle_sets,
    signatures,
    suggest,
)
from bench.dedup_index import BATCH, ROUNDS, Index, IndexCost, measure
from bench.dedup_sweep import band_rows, char_rows, hardest_negatives, k_rows
from bench.speed_report import targets
from ingest.config.model import DedupConfig
from ingest.dedup.fingerprint import BANDS, NUM_PERM, fingerprint
from ingest.dedup.shingles import SHINGLE

SHAPES = [(32, 16), (48, 24), (64, 32), (96, 48), (128, 64)]
SIZES = (10_000, 100_000, 1_000_000)
QUERIES = 1500  # copies looked up and inserted at each index size, over ROUNDS rounds


def parse_args(argv: list[str] | None):
    p = argument_parser("dedup", __doc__)
    p.add_argument("--quick", action="store_true",
                   help="the index at 10k signatures only; configurations not compared")
    p.add_argument("--sizes", type=int, nargs="+", help=f"index sizes (default {SIZES})")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpus.is_dir():
        print(f"bench: corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    sizes = args.sizes or (SIZES[:1] if args.quick else SIZES)
    t, cfg = targets("dedup"), Config(SHINGLE, SHINGLE, NUM_PERM, BANDS)
    default = DedupConfig().threshold
    progress("dedup: building the labelled set")
    docs = labelled_set(args.corpus)
    sigs = signatures(shingle_sets(docs, cfg.k_word, cfg.k_char), cfg)
    fps = fingerprints(sigs, cfg)
    _check_same_as_the_stage(docs, fps)
    scored = score(sigs, cfg)
    by_threshold = [metrics(docs, scored, x) for x in THRESHOLDS]
    suggested = suggest(by_threshold, t, cfg)
    at_default = metrics(docs, scored, default)
    m = machine()
    out = [f"## ingest dedup bench — {m['date']}", "",
           f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; {m['versions']}.",
           f"Configuration: shingles of {SHINGLE} tokens (words; characters in scripts without "
           f"spaces), NUM_PERM {cfg.num_perm}, BANDS {cfg.bands}; dedup.threshold default "
           f"{default}.", ""]
    out += _set_section(docs) + _threshold_section(by_threshold, cfg, default, suggested)
    progress("dedup: comparing configurations")
    out += _config_sections(docs, cfg, t, suggested or default, args.quick)
    progress("dedup: measuring the CPU of a fingerprint")
    steps, fingerprint_us = step_rows([d.text for d in docs if d.rate is None])
    out += ["### CPU of one fingerprint (median of passes over the originals)", "",
            table(("step", "CPU per article"), steps, "lr"), "",
            table(("input", "CPU"), input_rows(), "lr"), ""]
    costs = _index_costs(docs, fps, sizes)
    out += _index_section(costs, fingerprint_us, t)
    out += _verdicts(at_default, costs, fingerprint_us, t, default)
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps(_figures(at_default, suggested, fingerprint_us, costs),
                                        indent=2))
    return 0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check_same_as_the_stage(docs, fps) -> None:
    """The bench's own composition of the steps must be what the stage computes."""
    for doc, fp in list(zip(docs, fps, strict=True))[::97]:
        if fingerprint(doc.text, 0) != fp:
            raise SystemExit(f"bench: the bench's fingerprint of {doc.name} is not the stage's")


def _set_section(docs) -> list[str]:
    originals = [d for d in docs if d.rate is None]
    stories = len({d.origin for d in originals})
    rows = [["originals (sites or folders)", f"{len(originals)} ({len({d.group for d in docs})})"],
            ["stories among them (originals that are copies of each other: one story)",
             str(stories)],
            ["copies (one per change rate)", str(len(docs) - len(originals))],
            ["originals in scripts without spaces", str(sum(d.spaceless for d in originals))]]
    return ["### The labelled set", "", table(("", "count"), rows, "lr"), ""]


def _threshold_section(rows: list[Metrics], cfg: Config, default: float,
                       suggested: float | None) -> list[str]:
    def mark(x: float) -> str:
        return "".join((" (default)" if x == default else "", " (suggested)" if x == suggested
                        else ""))
    body = [[f"{m.threshold:.2f}{mark(m.threshold)}", f"{candidate_chance(m.threshold, cfg):.3f}",
             m.found, f"{m.precision:.4f}",
             f"{m.recall:.3f}", f"{m.recall_low:.3f}", f"{m.recall_high:.3f}",
             m.false_same_site, m.false_other] for m in rows]
    head = ("threshold", "P(candidate) at it", "pairs found", "precision", "recall", "recall, ≤ 10 % changed",
            "recall, > 10 % changed", "false pairs: same site", "false pairs: two sites")
    note = (f"Suggested: {suggested}." if suggested is not None
            else "No threshold of the grid meets both quality targets.")
    return ["### Precision and recall by threshold", "", table(head, body, "lrrrrrrrr"), "",
            note, ""]


def _config_sections(docs, cfg: Config, t: dict, threshold: float, quick: bool) -> list[str]:
    hardest = ["### Hardest negatives (different stories, highest estimated similarity)", "",
               table(("estimated", "exact", "site", "a", "b"), hardest_negatives(docs, cfg, 8),
                     "rrlll"), ""]
    if quick:
        return ["Shingle sizes, signature lengths and bands: not compared (--quick).", "",
                *hardest]
    return [
        f"### Shingle size in words (at threshold {threshold})", "",
        table(("k", "copies ≤ 10 %: exact resemblance, median / 5th pct.",
               "unrelated articles (two sites, one language): mean exact resemblance",
               "of those, sharing a band, per 1M indexed", "precision", "recall ≤ 10 %",
               "recall > 10 %"), k_rows(docs, cfg, threshold, (1, 2, 3, 4, 5)), "lrrrrrr"), "",
        f"### Shingle size in characters, texts in scripts without spaces only "
        f"(at threshold {threshold})", "",
        table(("k", "unrelated articles: exact resemblance, mean / max", "precision",
               "recall ≤ 10 %", "recall > 10 %"),
              char_rows(docs, cfg, threshold, (2, 3, 4, 5)), "lrrrr"), "",
        "### Signature length and bands (each at the threshold suggested for it)", "",
        table(("NUM_PERM / BANDS", "signature", "band rows per article",
               "P(candidate) at resemblance 0.2 / 0.3 / 0.4", "threshold", "precision",
               "recall ≤ 10 %", "recall > 10 %",
               "lookup + insert per article, index of 100k (CPU)"),
              band_rows(docs, cfg, t, SHAPES, _shape_cost(docs)), "lrrrrrrrr"), "",
        *hardest]


def _shape_cost(docs):
    originals = [i for i, d in enumerate(docs) if d.rate is None]
    copies = [i for i, d in enumerate(docs) if d.rate is not None][:QUERIES]

    def cost(cfg: Config) -> str:
        fps = fingerprints(signatures(shingle_sets(docs, cfg.k_word, cfg.k_char), cfg), cfg)
        with tempfile.TemporaryDirectory(prefix="ingest-dedup-") as work:
            index = Index(Path(work) / "index.sqlite")
            try:
                c = measure(index, [fps[i] for i in originals], [fps[i] for i in copies],
                            [100_000], progress)[0]
            finally:
                index.close()
        return f"{c.lookup_ms + c.insert_ms:.2f} ms"
    return cost


def _index_costs(docs, fps, sizes) -> list[IndexCost]:
    originals = [fp for d, fp in zip(docs, fps, strict=True) if d.rate is None]
    copies = [fp for d, fp in zip(docs, fps, strict=True) if d.rate is not None][:QUERIES]
    with tempfile.TemporaryDirectory(prefix="ingest-dedup-") as work:
        index = Index(Path(work) / "index.sqlite")
        try:
            return measure(index, originals, copies, sizes, progress)
        finally:
            index.close()


def _index_section(costs: list[IndexCost], fingerprint_us: float, t: dict) -> list[str]:
    rows = [[f"{c.size:,}", f"{c.lookup_ms:.3f} ms", f"{c.lookup_wall_ms:.3f} ms",
             f"{c.candidates:.1f}", f"{c.insert_ms:.3f} ms",
             f"{fingerprint_us / 1e3 + c.lookup_ms + c.insert_ms:.3f} ms", f"{c.db_mb:,.0f} MB"]
            for c in costs]
    head = ("signatures", "lookup (CPU)", "lookup (wall)", "candidates per lookup",
            f"insert (CPU, batches of {BATCH})", "fingerprint + lookup + insert", "database")
    return [f"### The index: one article's lookup and insert (median of {ROUNDS} rounds of "
            f"{QUERIES // ROUNDS} copies)", "",
            table(head, rows, "rrrrrrr"), ""]


def _verdicts(m: Metrics, costs: list[IndexCost], fingerprint_us: float, t: dict,
              default: float) -> list[str]:
    last, first = costs[-1], costs[0]
    total = fingerprint_us / 1e3 + last.lookup_ms + last.insert_ms
    flat = last.lookup_ms / first.lookup_ms if first.lookup_ms else float("nan")
    rows = [
        [f"pair precision at {default}", f"{m.precision:.4f}", f"≥ {t['precision']}",
         _verdict(m.precision >= t["precision"])],
        [f"recall at {default}, copies with ≤ 10 % of words changed", f"{m.recall_low:.3f}",
         f"≥ {t['recall']}", _verdict(m.recall_low >= t["recall"])],
        [f"CPU per article, index of {last.size:,}", f"{total:.3f} ms", f"≤ {t['cpu_ms']} ms",
         _verdict(total <= t["cpu_ms"])],
        [f"lookup CPU at {last.size:,} ÷ at {first.size:,}", f"{flat:.2f}",
         f"≤ {t['flat_ratio']}",
         _verdict(flat <= t["flat_ratio"]) if len(costs) > 1 else "n/a"],
    ]
    return ["### Targets", "", table(("measure", "value", "target", "verdict"), rows, "lrrl")]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _figures(m: Metrics, suggested, fingerprint_us: float, costs: list[IndexCost]) -> dict:
    return {"threshold": m.threshold, "precision": m.precision, "recall": m.recall,
            "recall_low": m.recall_low, "recall_high": m.recall_high,
            "suggested_threshold": suggested, "fingerprint_us": fingerprint_us,
            "index": [vars(c) for c in costs]}


if __name__ == "__main__":
    sys.exit(main())
