"""The language of the corpus pages' texts (ground truth for bench.metadata), and the
measurement behind ingest.extract.langid's thresholds; prints Markdown.

    python -m bench.metadata_language [CORPUS_DIR]

Truth, per page: the corpus's own language when it gives one (fundus's `lang_guess` in
html_to_expected.json, newspaper4k's metadata `language`); else py3langid on the ground-truth
body (newspaper4k's txt/, trafilatura's "with" snippets joined, when they have 100
characters) when its normalised probability is >= 0.99; else none (the page is not scored).
Every given label agrees with py3langid on its own body.

Thresholds: windows of L characters cut from the ground-truth bodies of known language (up
to 8 per body, one after the other), each classified alone; for each L, the share of windows
whose guess reaches a confidence (coverage) and the accuracy of those.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

from bench.common import CORPUS, argument_parser, corpus_pages_missing, table

LENGTHS = (40, 80, 120, 160, 200, 300, 400, 600)
CONFIDENCES = (0.5, 0.8, 0.9, 0.95, 0.99)
_SURE = 0.99  # py3langid's probability for a body to stand as truth
_SNIPPETS = 100  # characters of trafilatura's "with" snippets worth a guess


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def classify(text: str) -> tuple[str, float]:
    lang, confidence = _identifier().classify(text[:2000])
    return lang, float(confidence)


def _sure(text: str) -> str | None:
    lang, confidence = classify(text)
    return lang if confidence >= _SURE else None


def bodies(base: Path) -> dict[Path, tuple[str | None, str]]:
    """page path -> (the corpus's language label or None, the ground-truth body)."""
    found: dict[Path, tuple[str | None, str]] = {}
    for e in json.loads((base / "fundus/html_to_expected.json").read_text()):
        body = json.loads((base / "fundus" / e["expected"]).read_text())[e["key"]].get("body") or {}
        paragraphs = list(body.get("summary") or [])
        for section in body.get("sections") or []:
            paragraphs += section.get("paragraphs") or []
        found[base / "fundus" / e["html"]] = (e.get("lang_guess"), "\n".join(paragraphs))
    data = base / "newspaper4k/tests/data"
    for html in sorted((data / "html").glob("*.html")):
        meta, txt = data / "metadata" / f"{html.stem}.json", data / "txt" / f"{html.stem}.txt"
        label = json.loads(meta.read_text()).get("language") if meta.exists() else None
        found[html] = (label, txt.read_text() if txt.exists() else "")
    tests = base / "trafilatura/tests"
    for t in json.loads((tests / "evaldata.json").read_text()).values():
        for path in (tests / "eval" / t["file"], tests / "cache" / t["file"]):
            if path.exists():
                found[path] = (None, " ".join(t.get("with") or []))
                break
    return found


def truths(base: Path) -> dict[Path, tuple[str, str]]:
    """page path -> (its language, "label" | "body"), for the pages whose language is known."""
    known = {}
    for path, (label, body) in bodies(base).items():
        if label:
            known[path] = (label, "label")
        elif len(body) >= _SNIPPETS and (lang := _sure(body)):
            known[path] = (lang, "body")
    return known


def windows(base: Path) -> list[tuple[int, bool, float]]:
    """(L, right, confidence) for each window of the known bodies."""
    rows = []
    for label, body in bodies(base).values():
        text = " ".join(body.split())
        truth = label or (_sure(text) if len(text) >= _SNIPPETS else None)
        if not truth:
            continue
        for length in LENGTHS:
            for k in range(min(8, len(text) // length)):
                lang, confidence = classify(text[k * length:(k + 1) * length])
                rows.append((length, lang == truth, confidence))
    return rows


def threshold_table(rows: list[tuple[int, bool, float]]) -> str:
    head = ["L (chars)", "windows", "right (any confidence)",
            *(f"≥ {c}: coverage / right" for c in CONFIDENCES)]
    out = []
    for length in LENGTHS:
        mine = [r for r in rows if r[0] == length]
        cells: list[object] = [length, len(mine), f"{sum(r[1] for r in mine) / len(mine):.3f}"]
        for c in CONFIDENCES:
            kept = [r for r in mine if r[2] >= c]
            right = sum(r[1] for r in kept) / len(kept) if kept else 0.0
            cells.append(f"{len(kept) / len(mine):.2f} / {right:.3f}")
        out.append(cells)
    return table(head, out, "r" * len(head))


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("metadata_language", __doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS, help="the corpus folder")
    corpus = parser.parse_args(argv).corpus
    if corpus_pages_missing(corpus):
        return 2
    known = truths(corpus / "pages")
    by = {how: sum(1 for _, h in known.values() if h == how) for how in ("label", "body")}
    print(f"Pages of known language: {len(known)} ({by['label']} labelled by the corpus,"
          f" {by['body']} by py3langid on their ground-truth body)\n")
    print(threshold_table(windows(corpus / "pages")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
