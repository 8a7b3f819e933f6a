"""The text rule and the sample of ``extract.feed_content: auto`` on the shared corpus; prints
Markdown tables.

    python -m bench.feed_content [CORPUS_DIR]   # default: ../shared/corpus
    python -m bench.feed_content --quick --json FIGURES.json   # 12 pages; part 2 as JSON

1. Real feeds (feeds/: rss-parser, feedjira, laminas-feed, miniflux, simplepie), through
   ingest.extract.feed.parse_feed: entries with content, how many the text rule
   (ingest.extract.fulltext.looks_whole) takes, their words and paragraphs, teaser endings.
2. Agreement, synthesized from real pages: per corpus page with a full ground-truth body
   (fundus: summary, headlines, paragraphs; newspaper4k: txt/), a full-text feed entry made
   of that body (as <p> blocks through the feed's own html_to_text) and a teaser entry (its
   first paragraph, then a real-world teaser ending, cycling through TEASER_ENDINGS), plus
   the same teaser without an ending, and the body cut after two thirds of its paragraphs
   (a feed that silently shortens its articles). The real page HTML goes through
   ingest.extract.page.extract_article; token F1 (ingest.extract.fulltext.token_f1) compares
   each entry's text with that page text. The bodies are real; the entries are made here.
3. Real feed markup through the extractor: each content entry of the real full-content feeds
   the rule takes, its content HTML wrapped in a plain article page and extracted; token F1
   of the feed's text with that extraction. The content is real; the page around it is not.
4. Rule thresholds swept: full texts taken and teasers taken (no ending) per minimum.
5. CPU of the rule and of the sample's token F1 per call (corpus bodies; a 2 MB text).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from html import escape
from pathlib import Path

import feedparser

from bench.common import CORPUS, argument_parser, corpus_pages_missing, table
from bench.quality import load_pages
from ingest.errors import IngestError
from ingest.extract.feed import parse_feed
from ingest.extract.fulltext import (
    MIN_PARAGRAPHS,
    MIN_WORDS,
    looks_whole,
    paragraphs,
    teaser_ending,
    token_f1,
    words,
)
from ingest.extract.htmltext import html_to_text
from ingest.extract.page import extract_article
from ingest.pipeline.feed_content import COMPARED, MIN_AGREEMENT

FEED_SOURCES = ("rss-parser", "feedjira", "laminas-feed", "miniflux", "simplepie")
# How real sites end a teaser (WordPress's excerpt, themes' "more" links, publishers' feeds).
TEASER_ENDINGS = (" […]", "\nContinue reading →", "… Read more »", " [...]\nThe post {t} "
                  "appeared first on News.", "\nWeiterlesen", "… Leggi tutto", "\nLire la suite",
                  "\nSeguir leyendo", " (...)", "\nLeia mais", "\n続きを読む", "\n阅读全文",
                  "\nЧитать далее", "\nCzytaj więcej", "\nLees verder")


def _pct(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else "0"


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    if not values:
        return "-"
    qs = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return " / ".join(fmt.format(v) for v in (min(values), qs[0], statistics.median(values),
                                              qs[-1], max(values)))


def real_feeds(corpus: Path) -> tuple[list, dict]:
    """Rows per feed source; and the entries the rule takes per file, for part 3."""
    rows, taken_by_file = [], {}
    for source in FEED_SOURCES:
        files = entries = with_content = 0
        taken, teasers, sizes, blocks = 0, [], [], []
        for path in sorted((corpus / "feeds" / source).rglob("*")):
            try:
                parsed = parse_feed(path.read_bytes(), url=f"http://example.invalid/{path.name}")
            except (IngestError, OSError):
                continue
            files += 1
            entries += len(parsed.entries)
            for entry in parsed.entries:
                if not entry.content.strip():
                    continue
                with_content += 1
                sizes.append(words(entry.content))
                blocks.append(paragraphs(entry.content))
                if (mark := teaser_ending(entry.content)) is not None:
                    teasers.append(f"{path.name}: {mark!r}")
                if looks_whole(entry.content):
                    taken += 1
                    taken_by_file.setdefault(path, []).append(entry)
        rows.append((source, files, entries, with_content, _pct(taken, with_content),
                     _spread(sizes), _spread(blocks), len(teasers),
                     "; ".join(sorted(set(teasers))[:4]) or "-"))
    return rows, taken_by_file


def _teaser(truth: str, number: int, title: str, blocks: int = 1) -> str:
    first = "\n".join(truth.split("\n")[:blocks])
    return first + TEASER_ENDINGS[number % len(TEASER_ENDINGS)].format(t=title)


def synthesized(corpus: Path, most: int | None = None) -> list[dict]:
    """Per page with a full body (the first ``most``): the entries made from it and their
    scores."""
    out = []
    pages = [p for p in load_pages(corpus) if p.truth and not p.recall_only][:most]
    for number, page in enumerate(pages):
        try:
            page_text = extract_article(page.path.read_bytes(), page.url
                                        or "http://example.invalid/").text
        except IngestError:
            page_text = ""
        lines = [line.strip() for line in page.truth.split("\n") if line.strip()]
        full = html_to_text("".join(f"<p>{escape(line)}</p>" for line in lines))
        teaser = _teaser(full, number, page.path.stem)
        bare = full.split("\n", 1)[0]
        four = "\n".join(full.split("\n")[:4])
        cut = "\n".join(lines[:max(1, (2 * len(lines)) // 3)])
        out.append({"source": page.source, "name": page.path.name, "full": full,
                    "full_taken": looks_whole(full), "full_f1": token_f1(full, page_text),
                    "teaser_taken": looks_whole(teaser), "teaser_f1": token_f1(teaser, page_text),
                    "bare_taken": looks_whole(bare), "page_text": bool(page_text),
                    "long_teaser": (looks_whole(_teaser(four, number, page.path.stem, 4)),
                                    looks_whole(four)),
                    "cut_taken": looks_whole(cut), "cut_f1": token_f1(cut, page_text)})
    return out


def agreement_rows(results: list[dict]) -> list:
    full_taken = [r for r in results if r["full_taken"]]
    agreed = [r for r in full_taken if r["full_f1"] >= MIN_AGREEMENT]
    f1s = [r["full_f1"] for r in full_taken]
    teaser_f1 = [r["teaser_f1"] for r in results]
    cut = [r for r in results if r["cut_taken"]]
    return [
        ("pages with a full ground-truth body", len(results)),
        ("full-text entries the text rule takes", _pct(len(full_taken), len(results))),
        ("  their token F1 with the page's extraction: mean", f"{statistics.fmean(f1s):.3f}"
         if f1s else "-"),
        ("  min / p10 / median / p90 / max", _spread(f1s, "{:.2f}")),
        (f"  agreeing (F1 >= {MIN_AGREEMENT}): page requests saved once trusted",
         _pct(len(agreed), len(results))),
        ("  mean F1 of the agreeing (what auto takes)",
         f"{statistics.fmean(r['full_f1'] for r in agreed):.3f}" if agreed else "-"),
        ("full texts missed by the text rule", len(results) - len(full_taken)),
        ("full texts the sample would refuse (F1 below the bar)", len(full_taken) - len(agreed)),
        ("teasers (first paragraph + ending) taken: wrongly", sum(r["teaser_taken"]
                                                                   for r in results)),
        ("teasers without an ending taken: wrongly", sum(r["bare_taken"] for r in results)),
        ("teasers of 4 paragraphs + ending taken: wrongly", sum(r["long_teaser"][0]
                                                                for r in results)),
        ("  the same without their ending line: taken", sum(r["long_teaser"][1]
                                                            for r in results)),
        ("  teasers' token F1 with the page: max", f"{max(teaser_f1):.2f}" if teaser_f1 else "-"),
        ("bodies cut after 2/3 of their paragraphs, no ending: the rule takes", len(cut)),
        (f"  of those, the sample agrees (F1 >= {MIN_AGREEMENT}): wrongly",
         sum(r["cut_f1"] >= MIN_AGREEMENT for r in cut)),
        ("  their F1 with the page: max", f"{max(r['cut_f1'] for r in cut):.2f}" if cut else "-"),
    ]


def missed_rows(results: list[dict]) -> list:
    return [(r["source"], r["name"], words(r["full"]), paragraphs(r["full"]),
             f"{r['full_f1']:.2f}", "no page text" if not r["page_text"] else "")
            for r in results if not r["full_taken"] or r["full_f1"] < MIN_AGREEMENT]


def wrapped(taken_by_file: dict) -> list:
    """Real content HTML in a plain page, through the extractor (part 3)."""
    rows = []
    for path, entries in sorted(taken_by_file.items()):
        raw = feedparser.parse(path.read_bytes(), sanitize_html=False,
                               resolve_relative_uris=False)
        htmls = {}
        for item in raw.entries:
            blocks = [c.get("value") or "" for c in item.get("content", ())]
            htmls[(item.get("title") or "").strip()] = max(blocks, key=len, default="")
        f1s = []
        for entry in entries:
            html = htmls.get(entry.title)
            if not html:
                continue
            page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(entry.title)}"
                    f"</title></head><body><article><h1>{escape(entry.title)}</h1>{html}"
                    "</article></body></html>").encode()
            try:
                text = extract_article(page, entry.link or "http://example.invalid/").text
            except IngestError:
                text = ""
            f1s.append(token_f1(entry.content, text))
        if f1s:
            rows.append((f"{path.parent.name}/{path.name}", len(f1s),
                         f"{statistics.fmean(f1s):.3f}", f"{min(f1s):.2f}",
                         sum(f >= MIN_AGREEMENT for f in f1s)))
    return rows


def sweep_rows(results: list[dict]) -> list:
    """Full texts and teasers taken under other minimums (no teaser ending checked)."""
    fulls = [r["full"] for r in results]
    bares = [r["full"].split("\n", 1)[0] for r in results]
    rows = []
    for min_words in (50, 100, 150, 200, 300):
        for min_paragraphs in (1, 2, 3, 5):
            rule = {"min_words": min_words, "min_paragraphs": min_paragraphs}
            rows.append((min_words, min_paragraphs,
                         _pct(sum(looks_whole(t, **rule) for t in fulls), len(fulls)),
                         sum(looks_whole(t, **rule) for t in bares),
                         "*" if (min_words, min_paragraphs) == (MIN_WORDS, MIN_PARAGRAPHS)
                         else ""))
    return rows


def cost_rows(results: list[dict]) -> list:
    """CPU per call of the rule and of the sample's F1, on the corpus bodies and on 1 MB."""
    texts = [r["full"] for r in results]
    big = ("parola " * 20 + "\n") * 7000 + "a\n" * 500_000  # 2 MB: long lines, then short
    rows = []
    for label, sample in (("corpus bodies", texts), ("2 MB text", [big])):
        for name, call in (("looks_whole", looks_whole),
                           ("token_f1 with itself, as `judge` (first COMPARED chars)",
                            lambda t: token_f1(t[:COMPARED], t[:COMPARED]))):
            rounds = max(1, 200 // len(sample))
            started = time.process_time()
            for _ in range(rounds):
                for text in sample:
                    call(text)
            per = (time.process_time() - started) / (rounds * len(sample))
            rows.append((name, label, f"{per * 1e6:,.0f} µs"))
    return rows


def figures(results: list[dict]) -> dict:
    """The headline figures of part 2, for --json."""
    taken = [r for r in results if r["full_taken"]]
    agreed = [r["full_f1"] for r in taken if r["full_f1"] >= MIN_AGREEMENT]
    return {"pages": len(results), "full_taken": len(taken), "agreeing": len(agreed),
            "mean_f1_agreeing": statistics.fmean(agreed) if agreed else None,
            "teasers_taken": sum(r["teaser_taken"] for r in results),
            "long_teasers_taken": sum(r["long_teaser"][0] for r in results),
            "cut_agreed": sum(r["cut_taken"] and r["cut_f1"] >= MIN_AGREEMENT
                              for r in results)}


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("feed_content", __doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--quick", action="store_true", help="12 corpus pages, 3 feed files in part 3")
    parser.add_argument("--json", type=Path, help="also write part 2's figures to this file")
    args = parser.parse_args(argv)
    corpus = args.corpus
    if corpus_pages_missing(corpus):
        return 2
    started = time.process_time()
    feed_rows, taken_by_file = real_feeds(corpus)
    results = synthesized(corpus, 12 if args.quick else None)
    if args.json:
        args.json.write_text(json.dumps(figures(results), indent=2))
    print(f"## 1. Real feeds: the text rule ({MIN_WORDS} words, {MIN_PARAGRAPHS} paragraphs, "
          "no teaser ending)\n")
    print(table(("source", "files", "entries", "with content", "taken by the rule",
                 "words min/p10/med/p90/max", "paragraphs min/p10/med/p90/max",
                 "teaser endings", "which"), feed_rows, "lrrrrllrl"))
    print(f"\n## 2. Agreement on corpus pages (bodies real, entries synthesized; "
          f"MIN_AGREEMENT {MIN_AGREEMENT})\n")
    print(table(("", "value"), agreement_rows(results), "lr"))
    print("\n### Full texts missed or refused\n")
    print(table(("source", "page", "words", "paragraphs", "F1 with page", ""),
                missed_rows(results), "llrrrl"))
    print("\n## 3. Real feed markup through the extractor (content real, page around it not)\n")
    print(table(("feed file", "entries", "mean F1", "min F1", f">= {MIN_AGREEMENT}"),
                wrapped(dict(list(taken_by_file.items())[:3] if args.quick
                             else taken_by_file)), "lrrrr"))
    print("\n## 4. Text rule minimums (synthesized full texts / bare first paragraphs)\n")
    print(table(("min words", "min paragraphs", "full texts taken", "teasers taken", "chosen"),
                sweep_rows(results), "rrrrl"))
    print("\n## 5. CPU per call\n")
    print(table(("call", "on", "CPU"), cost_rows(results), "llr"))
    print(f"\nCPU: {time.process_time() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
