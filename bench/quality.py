"""Quality of the footer stage on the shared corpus: ours (extract + strip_footers) vs bare
trafilatura, per source folder. Prints Markdown tables.

    python -m bench.quality [CORPUS_DIR]   # default: ../shared/corpus

"ours" is the pipeline's ingest.extract.page.extract_article, then strip_footers; "bare"
is trafilatura.extract.

Ground truth: fundus = the JSON's body (summary, section headlines, paragraphs) of the
version key in html_to_expected.json; newspaper4k = txt/<name>.txt; goose3 =
expected.cleaned_text, only a prefix of the body, so only recall is meaningful;
trafilatura = evaldata.json "with"/"without" snippets (hit rates, no token scores).
Token scores are bag-of-tokens precision / recall / F1, macro-averaged over pages; CJK
characters count one token each. "wire-style" = pages whose bare text carries a
built-in notice or an agency dateline. Pages of one site form one batch, as in the
pipeline (count_batch, merge_counts, strip_footers).

Columns: "content lines lost" = removed lines (other than repeats) found in the ground
truth; "removal precision" = 1 - lost / removed, on pages with ground truth; "copyright
leaks" = `without` snippets that are copyright lines and are still in our text; "notice /
credit lines left" = lines of our text that the built-in rules match (anywhere).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

from bench.common import CORPUS, argument_parser, corpus_pages_missing, table
from ingest.footers.strip import (
    FooterRules,
    count_batch,
    is_credit,
    is_dateline,
    is_notice,
    merge_counts,
    strip_footers,
)
from ingest.urls import site_of

RULES = FooterRules()
_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
# Independent of our rules: what a copyright line in a `without` list looks like.
_COPYRIGHT = re.compile(r"(?i)©|&copy;|\(c\)|copyright|rights reserved|rechte vorbehalten|droits "
                        r"r[ée]serv|derechos reservados|direitos reservados|riservat|voorbehouden|"
                        r"prawem autorskim|prawa zastrze|права защищены")

_AGENCY = re.compile(r"\b(?:AP|Reuters|AFP|dpa|ANSA|EFE|Lusa|ANP|AGI|Adnkronos|LaPresse)\b")


def bare(html: bytes, url: str | None) -> str:
    return trafilatura.extract(html, url=url, include_comments=False) or ""


def extract_text(html: bytes, url: str | None) -> str:
    """The pipeline's own extraction step (ingest.extract.page): decoding, trafilatura, title."""
    from ingest.errors import SkipEntry
    from ingest.extract.page import extract_article
    try:
        return extract_article(html, url or "http://example.invalid/").text
    except SkipEntry:
        return ""


def ours(html: bytes, url: str | None, learned: dict | None = None) -> str:
    """Our text for one page: extraction, then the footer stage."""
    return _clean(extract_text(html, url), url, learned).text


def _clean(text: str, url: str | None, learned: dict | None):
    return strip_footers(text, learned=learned or {}, rules=RULES, site=site_of(url or ""))


@dataclass
class Page:
    source: str
    path: Path
    url: str | None
    truth: str | None = None  # ground-truth body text
    recall_only: bool = False
    with_: list[str] = field(default_factory=list)
    without: list[str] = field(default_factory=list)


def load_pages(corpus: Path) -> list[Page]:
    pages, base = [], corpus / "pages"
    for e in json.loads((base / "fundus/html_to_expected.json").read_text()):
        body = json.loads((base / "fundus" / e["expected"]).read_text())[e["key"]]["body"]
        parts = body.get("summary", []) + [p for s in body.get("sections", [])
                                           for p in s.get("headline", []) + s["paragraphs"]]
        pages.append(Page("fundus", base / "fundus" / e["html"], e["url"], "\n".join(parts)))
    data = base / "newspaper4k/tests/data"
    for html in sorted((data / "html").glob("*.html")):
        meta, txt = data / "metadata" / f"{html.stem}.json", data / "txt" / f"{html.stem}.txt"
        url = json.loads(meta.read_text()).get("url") if meta.exists() else None
        pages.append(Page("newspaper4k", html, url, txt.read_text() if txt.exists() else None))
    for html in sorted((base / "goose3/tests/data/content").glob("*.html")):
        d = json.loads(html.with_suffix(".json").read_text())
        pages.append(Page("goose3", html, d.get("url"), d["expected"]["cleaned_text"], True))
    tests = base / "trafilatura/tests"
    for url, d in json.loads((tests / "evaldata.json").read_text()).items():
        for sub in ("eval", "cache"):
            if (tests / sub / d["file"]).exists():
                pages.append(Page("trafilatura", tests / sub / d["file"], url,
                                  with_=d.get("with", []), without=d.get("without", [])))
    return pages


def prf(text: str, truth: str) -> tuple[float, float, float]:
    got, want = Counter(_TOKEN.findall(text.casefold())), Counter(_TOKEN.findall(truth.casefold()))
    hit = sum((got & want).values())
    p = hit / sum(got.values()) if got else 0.0
    r = hit / sum(want.values()) if want else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _wire_style(text: str) -> bool:
    lines = [line for line in text.split("\n") if line.strip()]
    return any(is_notice(line) for line in lines) or any(
        is_dateline(line) and _AGENCY.search(line) for line in lines[:3])


def evaluate(pages: list[Page]) -> dict[str, dict]:
    """Pages of one site are one batch, as in the pipeline: count, merge, strip."""
    ours_raw = {id(p): extract_text(p.path.read_bytes(), p.url) for p in pages}
    by_site = defaultdict(list)
    for p in pages:
        by_site[site_of(p.url or "") or str(p.path)].append(p)  # no URL: a site of its own
    stats: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for site_pages in by_site.values():
        learned = merge_counts({}, count_batch([ours_raw[id(p)] for p in site_pages]))
        for p in site_pages:
            raw = bare(p.path.read_bytes(), p.url)
            cleaned = _clean(ours_raw[id(p)], p.url, learned)
            wire = _wire_style(raw) and not p.recall_only
            groups = [p.source] + (["wire-style"] if wire else [])
            for g in groups:
                _score(stats[g], p, raw, cleaned)
    return stats


def _score(s: dict, p: Page, raw: str, cleaned) -> None:
    s["pages"].append(1)
    s["removed"].append(len(cleaned.removed))
    out = cleaned.text
    s["notice_left"].append(sum(is_notice(line) for line in out.split("\n")))
    s["credit_left"].append(sum(is_credit(line) for line in out.split("\n")))
    s["without_leaks"].append(sum(w in out for w in p.without if _COPYRIGHT.search(w)))
    if p.truth is not None:
        s["bare"].append(prf(raw, p.truth))
        s["ours"].append(prf(out, p.truth))
        lost = [r for r in cleaned.removed if r.strip() and " ".join(r.split()) in p.truth
                and raw.count(r) < 2]
        s["content_lost"].append(len(lost))
        s["judged"].append(len(cleaned.removed))
    if p.with_ or p.without:
        for name, text in (("bare", raw), ("ours", out)):
            s[f"with_{name}"].append((sum(w in text for w in p.with_), len(p.with_)))
            s[f"without_{name}"].append((sum(w not in text for w in p.without), len(p.without)))


def _mean(rows, k: int) -> str:
    return f"{sum(r[k] for r in rows) / len(rows):.4f}" if rows else "—"


def _rate(rows) -> str:
    n = sum(t for _, t in rows)
    return f"{sum(h for h, _ in rows) / n:.4f}" if n else "—"


def report(stats: dict[str, dict]) -> str:
    head = ("source", "pages", "with truth", "bare P", "bare R", "bare F1", "ours P", "ours R",
            "ours F1", "lines removed", "content lines lost", "removal precision",
            "copyright leaks (`without`)", "notice lines left", "credit lines left")
    rows = []
    for name in ("fundus", "newspaper4k", "goose3", "trafilatura", "wire-style"):
        s = stats.get(name)
        if not s:
            continue
        recall_only = name == "goose3"
        cells = [name, len(s["pages"]), len(s["bare"])]
        for who in ("bare", "ours"):
            cells += ["—" if recall_only else _mean(s[who], 0), _mean(s[who], 1),
                      "—" if recall_only else _mean(s[who], 2)]
        judged, lost = sum(s["judged"]), sum(s["content_lost"])
        cells += [sum(s["removed"]), lost, f"{1 - lost / judged:.4f}" if judged else "—",
                  sum(s["without_leaks"]), sum(s["notice_left"]), sum(s["credit_left"])]
        rows.append(cells)
    t = stats.get("trafilatura", {})
    snippets = [("`with` kept", _rate(t.get("with_bare", [])), _rate(t.get("with_ours", []))),
                ("`without` avoided", _rate(t.get("without_bare", [])),
                 _rate(t.get("without_ours", [])))]
    return (table(head, rows, "l" + "r" * 14) + "\n\n"
            + table(("trafilatura snippets", "bare", "ours"), snippets, "lrr"))


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("quality", __doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS, help="the corpus folder")
    corpus = parser.parse_args(argv).corpus
    if corpus_pages_missing(corpus):
        return 2
    print(report(evaluate(load_pages(corpus))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
