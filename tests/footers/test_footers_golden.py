"""Golden files for the footer stage (tests/golden/footers/).

handwritten/<case>.in.txt → <case>.out.txt: our own articles, one per language / agency.
corpus/<name>.json: a page of the shared corpus run through trafilatura + strip_footers.
The corpus is read in place and nothing of it is copied (licence): each golden file names
the page and lists the lines the stage must remove and the rights it must report, all
hand-checked (see its "note"); the expected text is trafilatura's own output minus
exactly those lines. After a deliberate change, refresh them with
``python tests/footers/test_footers_golden.py --update`` and review the diff by hand.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from helpers.cli import REPO
from ingest.footers.strip import FooterRules, strip_footers
from ingest.urls import site_of

GOLDEN = Path(__file__).resolve().parent / "golden"
CORPUS = REPO.parent / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "pages").is_dir(),
    reason=f"shared corpus not found at {CORPUS} (checkout ../shared/corpus next to the repo)")


def _strip(text: str, url: str | None = None):
    return strip_footers(text, learned={}, rules=FooterRules(), site=site_of(url or ""))


@pytest.mark.parametrize("case", sorted(GOLDEN.glob("handwritten/*.in.txt")),
                         ids=lambda p: p.name.removesuffix(".in.txt"))
def test_handwritten(case: Path) -> None:
    expected = case.with_name(case.name.replace(".in.txt", ".out.txt")).read_text()
    assert _strip(case.read_text()).text == expected.rstrip("\n")


@needs_corpus
def test_seed_article_loses_only_its_last_line() -> None:
    text = (CORPUS / "seed-ansa-article.txt").read_text(encoding="utf-8").rstrip("\n")
    lines = text.split("\n")
    cleaned = _strip(text, "https://www.ansa.it/")
    assert cleaned.text == "\n".join(lines[:-1])
    assert cleaned.removed == ("Riproduzione riservata © Copyright ANSA",)
    assert cleaned.rights == "Riproduzione riservata © Copyright ANSA"


def _extract(page: Path, url: str | None) -> str:
    import trafilatura
    return trafilatura.extract(page.read_bytes(), url=url, include_comments=False) or ""


def _only_removed(raw: str, cleaned: str, removed: list[str]) -> bool:
    """``cleaned`` is ``raw`` in order, minus exactly the ``removed`` lines (and blank ends)."""
    got = iter(raw.split("\n"))
    if not all(any(line == r for r in got) for line in cleaned.split("\n")):
        return False  # not a subsequence: something was changed or reordered
    gone = Counter(raw.split("\n")) - Counter(cleaned.split("\n"))
    return +Counter({k: n for k, n in gone.items() if k.strip()}) == Counter(removed)


@needs_corpus
@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("corpus/*.json")), ids=lambda p: p.stem)
def test_corpus_page(golden: Path) -> None:
    case = json.loads(golden.read_text())
    raw = _extract(CORPUS / case["page"], case["url"])
    cleaned = _strip(raw, case["url"])
    assert list(cleaned.removed) == case["removed"], case["note"]
    assert cleaned.rights == case["rights"]
    assert _only_removed(raw, cleaned.text, case["removed"])


def _update() -> None:
    for golden in sorted(GOLDEN.glob("corpus/*.json")):
        case = json.loads(golden.read_text())
        cleaned = _strip(_extract(CORPUS / case["page"], case["url"]), case["url"])
        case.update(removed=list(cleaned.removed), rights=cleaned.rights)
        golden.write_text(json.dumps(case, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__" and "--update" in sys.argv:
    _update()
