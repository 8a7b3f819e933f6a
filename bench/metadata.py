"""Accuracy of article metadata (title, authors, date, language) on the shared corpus; prints
Markdown.

    python -m bench.metadata [CORPUS_DIR]               # ingest.extract.page.extract_article
    python -m bench.metadata --reference [CORPUS_DIR]   # bare trafilatura.bare_extraction

CORPUS_DIR defaults to ../shared/corpus (beside the repository). Each page is extracted
with need_date=True and need_language=True (the page is the only source) and the URL
the ground truth gives (http://example.invalid/<file> when it gives none).

Ground truth: fundus = the JSON of html_to_expected.json (title, authors,
publishing_date); trafilatura = evaldata.json entries whose file is on disk (title,
author split on ";", date); newspaper4k = metadata/<name>.json (title, authors,
publish_date), absent for 6 of its 23 pages. Empty or missing values are not scored.

Columns: "title =" exact match after casefold and whitespace collapse; "title ≈" token
F1 >= 0.8 (CJK characters one token each); "authors found" = pages with truth authors
where we found >= 1; author P / R pool names over those pages, a name matching when
one contains the other (casefolded); "date" = same YYYY-MM-DD as the truth's. Coverage
columns are non-empty rates over all pages; canonical_url counts only a URL other than
the one passed in (the pipeline's rule), language includes the text-detected fallback.
A page without text (SkipEntry; None from trafilatura) misses everything. The CPU row
is time.process_time around the extraction calls only, one-time lazy loads included.

The second table (ours only) scores language and authors as the records carry them.
Language: the record's rule (ingest.pipeline.records.decide_language, the page the only
declaration) against the truth of bench.metadata_language, on the primary subtag, beside
the page's declaration alone (what records said before: `<html lang>`, else the text's
guess); over pages with a text of >= 400 characters, and over all pages with text.
Authors "before": the names as the extractor gives them (the rule before
ingest.extract.authors), recorded in the same run; "after": as the record has them.
P / R as above against the truth's names, and against its people only: the truth less
the names the issue says are not authors (the page's site name or host name, a wire
agency; ingest.extract.authors.clean_authors applied to the truth).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.common import CORPUS, argument_parser, table
from bench.metadata_language import truths
from ingest.errors import SkipEntry
from ingest.extract import authors as authors_rules
from ingest.extract import page as page_module
from ingest.extract.page import extract_article
from ingest.extract.page_decoding import decode_html
from ingest.pipeline.records import decide_language

SOURCES = ("fundus", "newspaper4k", "trafilatura")
COVERAGE = ("site_name", "canonical_url", "image", "description", "language")
_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Page:
    source: str
    path: Path
    url: str
    title: str = ""
    authors: tuple[str, ...] = ()
    date: str = ""
    language: str = ""  # the truth's, when known


def _names(value) -> tuple[str, ...]:
    items = value.split(";") if isinstance(value, str) else (value or [])
    return tuple(n.strip() for n in items if n and n.strip())


def load_pages(base: Path) -> list[Page]:
    pages = []
    for e in json.loads((base / "fundus/html_to_expected.json").read_text()):
        t = json.loads((base / "fundus" / e["expected"]).read_text())[e["key"]]
        pages.append(Page("fundus", base / "fundus" / e["html"], e["url"], t.get("title") or "",
                          _names(t.get("authors")), t.get("publishing_date") or ""))
    data = base / "newspaper4k/tests/data"
    for html in sorted((data / "html").glob("*.html")):
        meta = data / "metadata" / f"{html.stem}.json"
        t = json.loads(meta.read_text()) if meta.exists() else {}
        pages.append(Page("newspaper4k", html, t.get("url") or f"http://example.invalid/{html.name}",
                          t.get("title") or "", _names(t.get("authors")),
                          t.get("publish_date") or ""))
    tests = base / "trafilatura/tests"
    for url, t in json.loads((tests / "evaldata.json").read_text()).items():
        for path in (tests / "eval" / t["file"], tests / "cache" / t["file"]):
            if path.exists():
                pages.append(Page("trafilatura", path, url, t.get("title") or "",
                                  _names(t.get("author")), t.get("date") or ""))
                break
    known = truths(base)
    for page in pages:
        page.language = known.get(page.path, ("", ""))[0]
    return pages


def read_html(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def ours(content: bytes, url: str) -> dict | None:
    raw: list[tuple[str, ...]] = []

    def recorded(names, **where):  # the names before cleaning: the "before" rule
        names = list(names)
        raw.append(tuple(n.strip() for n in names if n.strip()))
        return authors_rules.clean_authors(names, **where)

    page_module.clean_authors = recorded
    try:
        a = extract_article(content, url, "text/html", need_date=True, need_language=True)
    except SkipEntry:
        return None
    finally:
        page_module.clean_authors = authors_rules.clean_authors
    language, _ = decide_language(a.detected_language, page=a.language, feed=None)
    return {"title": a.title, "authors": a.authors, "date": a.published,
            "site_name": a.site_name, "canonical_url": a.canonical_url, "image": a.image,
            "description": a.description, "language": language, "chars": len(a.text),
            "declared": (a.language or "").split("-")[0] or a.detected_language,
            "authors before": raw[-1] if raw else ()}


def reference(content: bytes, url: str) -> dict | None:
    import trafilatura

    doc = trafilatura.bare_extraction(decode_html(content, "text/html"), url=url,
                                      with_metadata=True)
    if doc is None:
        return None
    return {"title": doc.title, "authors": _names(doc.author), "date": doc.date,
            "site_name": doc.sitename, "canonical_url": doc.url if doc.url != url else None,
            "image": doc.image, "description": doc.description, "language": doc.language}


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def token_f1(a: str, b: str) -> float:
    got, want = _TOKEN.findall(a.casefold()), _TOKEN.findall(b.casefold())
    hit = sum(min(got.count(t), want.count(t)) for t in set(got))
    return 2 * hit / (len(got) + len(want)) if got and want else 0.0


def score(s: dict, page: Page, got: dict | None) -> None:
    """Add one page's hits to the counters in `s` (key -> [hits, out of])."""
    got = got or {}

    def add(key: str, hit: bool, n: int = 1) -> None:
        s[key][0] += hit
        s[key][1] += n

    add("pages", got != {})
    if page.title:
        title = got.get("title") or ""
        add("title exact", _norm(title) == _norm(page.title))
        add("title loose", token_f1(title, page.title) >= 0.8)
    if page.authors:
        mine, truth = [_norm(a) for a in got.get("authors") or ()], [_norm(a) for a in page.authors]
        add("authors found", bool(mine))
        add("author P", sum(any(m in t or t in m for t in truth) for m in mine), len(mine))
        add("author R", sum(any(m in t or t in m for m in mine) for t in truth), len(truth))
    if _DAY.match(page.date):
        add("date", (got.get("date") or "")[:10] == page.date[:10])
    for key in COVERAGE:
        add(key, bool((got.get(key) or "").strip()))


def score_ours(s: dict, page: Page, got: dict | None) -> None:
    """Language and authors, before and after, as the second table shows them."""
    got = got or {}

    def add(key: str, hit: bool, n: int = 1) -> None:
        s[key][0] += hit
        s[key][1] += n

    if page.language and got:
        for scope in ("all", "400") if got["chars"] >= 400 else ("all",):
            add(f"language {scope}", (got["language"] or "").split("-")[0] == page.language)
            add(f"declared {scope}", got["declared"] == page.language)
    if not page.authors:
        return
    people = authors_rules.clean_authors(page.authors, site_name=got.get("site_name"),
                                         url=page.url)
    for when, key in (("before", "authors before"), ("after", "authors")):
        mine = [_norm(a) for a in got.get(key) or ()]
        for truth_name, truth in (("truth", page.authors), ("people", people)):
            if truth:
                _add_pr(add, f"{when} {truth_name}", mine, [_norm(a) for a in truth])


def _add_pr(add, prefix: str, mine: list[str], truth: list[str]) -> None:
    add(f"{prefix} P", sum(any(m in t or t in m for t in truth) for m in mine), len(mine))
    add(f"{prefix} R", sum(any(m in t or t in m for m in mine) for t in truth), len(truth))


def report_ours(s: dict) -> str:
    rows = []
    for scope, label in (("400", "texts of 400 characters or more"), ("all", "all texts")):
        rows.append([f"language, {label}", s[f"language {scope}"][1],
                     _rate(s[f"declared {scope}"]), _rate(s[f"language {scope}"])])
    for truth, label in (("truth", "the truth's names"), ("people", "the truth's people")):
        for measure in ("P", "R"):
            rows.append([f"authors {measure}, against {label}", s[f"after {truth} {measure}"][1],
                         _rate(s[f"before {truth} {measure}"]),
                         _rate(s[f"after {truth} {measure}"])])
    return table(["measure", "out of", "before", "after"], rows, "lrrr")


def _rate(hit_n: list[int]) -> str:
    hit, n = hit_n
    return f"{hit / n:.3f}" if n else "—"


def report(stats: dict[str, dict], cpu: float, pages: int, who: str) -> str:
    head = ["source", "pages", "no text", "with title", "title =", "title ≈", "with authors",
            "authors found", "author P", "author R", "with date", "date", *COVERAGE]
    rows = []
    for name in (*SOURCES, "overall"):
        s = stats[name]
        rows.append([name, s["pages"][1], s["pages"][1] - s["pages"][0],
                     s["title exact"][1], _rate(s["title exact"]), _rate(s["title loose"]),
                     s["authors found"][1], _rate(s["authors found"]), _rate(s["author P"]),
                     _rate(s["author R"]), s["date"][1], _rate(s["date"]),
                     *(_rate(s[c]) for c in COVERAGE)])
    info = f"{who}: {cpu:.1f} CPU s, {1000 * cpu / max(pages, 1):.0f} ms/page"
    rows.append(["_info_", info, *[""] * (len(head) - 2)])
    return table(head, rows, "l" + "r" * (len(head) - 1))


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("metadata", __doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS, help="the corpus folder")
    parser.add_argument("--reference", action="store_true",
                        help="score bare trafilatura.bare_extraction instead")
    options = parser.parse_args(argv)
    corpus = options.corpus
    if not (corpus / "pages").is_dir():
        print(f"bench: skipped: no corpus at {corpus}/pages (pass the corpus folder as argument)",
              file=sys.stderr)
        return 2
    extract, who = ((reference, "trafilatura.bare_extraction") if options.reference
                    else (ours, "ingest.extract.page.extract_article"))
    stats: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    pages, cpu = load_pages(corpus / "pages"), 0.0
    for page in pages:
        content = read_html(page.path)
        start = time.process_time()
        got = extract(content, page.url)
        cpu += time.process_time() - start
        score(stats[page.source], page, got)
        score(stats["overall"], page, got)
        if not options.reference:
            score_ours(stats["ours"], page, got)
    print(f"Metadata accuracy: {who}, {len(pages)} pages\n")
    print(report(stats, cpu, len(pages), who))
    if not options.reference:
        print(f"\nLanguage and authors, before and after ({who})\n")
        print(report_ours(stats["ours"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
