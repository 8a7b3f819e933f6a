"""Mojibake repair (ingest.extract.textfix) on the whole shared corpus: how many clean texts
it changes (the target is none), which, and what it repairs. Prints Markdown tables.

    python -m bench.textfix [CORPUS_DIR]   # default: ../shared/corpus

Texts checked, by source kind:
- ground truth: fundus titles, authors and bodies (summary, headlines, paragraphs);
  newspaper4k txt bodies and metadata titles and authors; goose3 body prefixes and titles;
  trafilatura evaldata titles, authors and with/without snippets. Each through ``repair``.
- extracted pages: ``extract_article`` on every page; its body, title and description as
  handed to ``Repairs`` inside it (recorded, not re-derived).
- feeds: ``parse_feed`` on every file under feeds/ that parses; each entry's title,
  summary, content and authors, and the feed's title and rights, as handed to ``Repairs``.
Every text that changed is listed by file, to be judged: mojibake repaired, or a clean
text changed. Then mojibake made from the ground truth (UTF-8 read as cp1252 and as
Latin-1, and that cp1252 mojibake written as HTML entities): given back as it was or not;
the CPU of ``repair`` against ftfy on every line with no pre-check; and ``repair`` on
hostile texts of 100,000 and 1,000,000 characters (linear or not).
"""

from __future__ import annotations

import html
import html.entities
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import ftfy
import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252

from bench.common import CORPUS, argument_parser, corpus_pages_missing, table
from ingest.errors import IngestError, SkipEntry
from ingest.extract import textfix
from ingest.extract.feed import parse_feed
from ingest.extract.page import extract_article

_REAL_CALL = textfix.Repairs.__call__


class Checked(NamedTuple):
    kind: str  # ground truth, extracted pages, feeds
    field: str
    file: str
    before: str
    after: str


def ground_truth(pages: Path) -> list[tuple[str, str, str]]:
    """(field, file, text) of every ground-truth file of the page sets."""
    found: list[tuple[str, str, object]] = []
    fundus = pages / "fundus"
    for e in json.loads((fundus / "html_to_expected.json").read_text()):
        t = json.loads((fundus / e["expected"]).read_text())[e["key"]]
        body, name = t["body"], f"fundus/{e['expected']}"
        found += [("title", name, t.get("title")), ("author", name, t.get("authors")),
                  ("body", name, "\n".join(body.get("summary", []) + [
                      p for s in body.get("sections", [])
                      for p in s.get("headline", []) + s["paragraphs"]]))]
    data = pages / "newspaper4k/tests/data"
    found += [("body", f"newspaper4k/{p.name}", p.read_text()) for p in sorted((data / "txt").glob("*"))]
    for meta in sorted((data / "metadata").glob("*.json")):
        t = json.loads(meta.read_text())
        found += [("title", f"newspaper4k/{meta.name}", t.get("title")),
                  ("author", f"newspaper4k/{meta.name}", t.get("authors"))]
    for case in sorted((pages / "goose3/tests/data/content").glob("*.json")):
        expected = json.loads(case.read_text())["expected"]
        found += [("body", f"goose3/{case.name}", expected.get("cleaned_text")),
                  ("title", f"goose3/{case.name}", expected.get("title"))]
    for t in json.loads((pages / "trafilatura/tests/evaldata.json").read_text()).values():
        name = f"trafilatura/{t['file']}"
        found += [("title", name, t.get("title")), ("author", name, t.get("author")),
                  ("snippet", name, t.get("with", []) + t.get("without", []))]
    return [(field, name, s) for field, name, value in found for s in _strings(value) if s]


def _strings(value) -> list[str]:
    """Strings, from ground truth that nests some of them in lists."""
    if isinstance(value, str):
        return [value]
    return [s for v in value or () for s in _strings(v)]


def page_files(pages: Path) -> list[Path]:
    traf = pages / "trafilatura/tests"
    return [*sorted((pages / "fundus").rglob("*.html")),
            *sorted((pages / "newspaper4k/tests/data/html").glob("*.html")),
            *sorted((pages / "goose3/tests/data/content").glob("*.html")),
            *sorted(p for sub in ("eval", "cache") for p in (traf / sub).glob("*") if p.is_file())]


def recording(calls: list[tuple[str, str]]) -> Callable[[textfix.Repairs, str], str]:
    def call(self: textfix.Repairs, text: str) -> str:
        fixed = _REAL_CALL(self, text)
        calls.append((text, fixed))
        return fixed
    return call


def extracted(pages: Path, calls: list[tuple[str, str]]) -> list[Checked]:
    found = []
    for path in page_files(pages):
        calls.clear()
        try:
            a = extract_article(path.read_bytes(), f"http://127.0.0.1/{path.name}")
        except SkipEntry:
            continue
        fields = {"title": a.title, "description": a.description}
        for before, after in filter(lambda call: call[0], calls):
            field = next((n for n, v in fields.items() if v == after), None)
            field = field or ("body" if a.text and a.text in after else "author")
            found.append(Checked("extracted pages", field, str(path.relative_to(pages)), before, after))
    return found


def feed_texts(feeds: Path, calls: list[tuple[str, str]]) -> tuple[list[Checked], int]:
    found, files = [], 0
    for path in sorted(p for p in feeds.rglob("*") if p.is_file()):
        calls.clear()
        try:
            parsed = parse_feed(path.read_bytes(), url="http://127.0.0.1/feed")
        except (IngestError, ValueError):
            continue
        files += 1
        labels = {parsed.title: "feed title", parsed.rights or "": "feed rights"}
        for entry in parsed.entries:
            labels.update({entry.content: "content", entry.summary: "summary", entry.title: "title"})
        name = str(path.relative_to(feeds.parent))
        found += [Checked("feeds", labels.get(after, "author"), name, before, after)
                  for before, after in calls if before]
    return found, files


def counts_table(checked: list[Checked]) -> str:
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in checked:
        row = rows[(c.kind, c.field)]
        row[0] += 1
        row[1] += not (c.before.isascii() and "&" not in c.before)
        row[2] += c.after != c.before
    return table(("source", "field", "texts", "past the pre-check", "changed"),
                 [(*key, *row) for key, row in rows.items()], "llrrr")


def changes_list(checked: list[Checked]) -> str:
    """Each file with changed texts: how many per field, and the first change."""
    by_file: dict[tuple[str, str], list[Checked]] = defaultdict(list)
    for c in checked:
        if c.after != c.before:
            by_file[(c.kind, c.file)].append(c)
    lines = []
    for (kind, name), changes in by_file.items():
        fields = Counter(c.field for c in changes)
        what = ", ".join(f"{n} {f}" for f, n in fields.items())
        lines.append(f"- {kind}, `{name}`: {what}; {_excerpt(changes[0].before, changes[0].after)}")
    return "\n".join(lines) or "- none"


def _excerpt(before: str, after: str, width: int = 44) -> str:
    start = next((i for i, (x, y) in enumerate(zip(before, after, strict=False)) if x != y),
                 min(len(before), len(after)))
    cut = max(0, start - 12)

    def show(text: str) -> str:
        return repr(text[cut:cut + width]).replace("|", "\\|")
    return f"{show(before)} → {show(after)}"


def synthetic(truth: list[tuple[str, str, str]]) -> str:
    """Mojibake made from the ground truth's non-ASCII titles and bodies: given back or not."""
    texts = [t for field, _, t in truth if field in ("title", "body") and not t.isascii()]
    forms = {
        "UTF-8 read as cp1252": lambda t: t.encode().decode("sloppy-windows-1252"),
        "UTF-8 read as Latin-1": lambda t: t.encode().decode("latin-1"),
        "cp1252 mojibake as HTML entities": lambda t: _entities(
            t.encode().decode("sloppy-windows-1252")),
    }
    rows, misses = [], []
    for name, spoil in forms.items():
        back = 0
        for text in texts:
            fixed, _ = textfix.repair(spoil(text))
            back += fixed == text
            if fixed != text:
                misses.append(f"- {name}: {_excerpt(text, fixed)}")
        rows.append((name, len(texts), back, len(texts) - back))
    out = table(("mojibake", "texts", "given back as they were", "not"), rows, "lrrr")
    return out + "\n\nNot given back (original → repaired):\n\n" + ("\n".join(misses) or "- none")


def _entities(text: str) -> str:
    names = html.entities.codepoint2name
    return "".join(c if c.isascii() else f"&{names[ord(c)]};" if ord(c) in names
                   else f"&#{ord(c)};" for c in text)


def cost(texts: list[str]) -> str:
    def bare(text: str) -> None:  # ftfy on every line, no pre-check
        for line in text.split("\n"):
            textfix._unescape_mojibake(ftfy.fix_encoding(line, textfix._CONFIG))
    rows = []
    for which, subset in (("all", texts), ("ASCII without &", [t for t in texts if t.isascii()
                                                              and "&" not in t])):
        for name, run in (("repair", textfix.repair), ("ftfy on every line", bare)):
            start = time.process_time()
            for text in subset:
                run(text)
            seconds = time.process_time() - start
            rows.append((which, name, len(subset), f"{sum(map(len, subset)) / 1e6:.2f}",
                         f"{seconds:.2f}", f"{seconds / max(1, len(subset)) * 1e6:.1f}"))
    return table(("texts", "", "count", "M characters", "CPU s", "µs per text"), rows, "llrrrr")


def hostile() -> str:
    rng = random.Random(1)
    cases = {
        "random U+00A0–U+00FF letters": lambda n: "".join(chr(rng.randint(0xA0, 0xFF)) for _ in range(n)),
        "random U+0080–U+00FF": lambda n: "".join(chr(rng.randint(0x80, 0xFF)) for _ in range(n)),
        "'Ã¤' repeated, one line": lambda n: "Ã¤" * (n // 2),
        "'&Atilde;&curren;' repeated": lambda n: "&Atilde;&curren;" * (n // 16),
        "'&amp;' repeated": lambda n: "&amp;" * (n // 5),
        "random CJK": lambda n: "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n)),
    }
    rows = []
    for name, make in cases.items():
        seconds = []
        for n in (100_000, 1_000_000):
            text = make(n)
            start = time.process_time()
            textfix.repair(text)
            seconds.append(time.process_time() - start)
        rows.append((name, f"{seconds[0]:.3f}", f"{seconds[1]:.3f}", f"{seconds[1] / seconds[0]:.1f}"))
    return table(("text", "CPU s, 100k chars", "CPU s, 1M chars", "ratio"), rows, "lrrr")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("textfix", __doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS, help="the corpus folder")
    corpus = parser.parse_args(argv).corpus
    if corpus_pages_missing(corpus):
        return 2
    calls: list[tuple[str, str]] = []
    # what the stages hand it, recorded
    textfix.Repairs.__call__ = recording(calls)  # type: ignore[method-assign,assignment]
    try:
        print("bench: extracting every page...", file=sys.stderr)
        pages = extracted(corpus / "pages", calls)
        print("bench: parsing every feed file...", file=sys.stderr)
        feeds, files = feed_texts(corpus / "feeds", calls)
    finally:
        textfix.Repairs.__call__ = _REAL_CALL  # type: ignore[method-assign]
    truth = ground_truth(corpus / "pages")
    checked = [Checked("ground truth", f, name, t, textfix.repair(t)[0]) for f, name, t in truth]
    checked += pages + feeds
    print(f"## Texts changed by repair ({files} feed files parsed)\n\n" + counts_table(checked))
    print("\nFiles with changed texts (before → after, around the first difference):\n")
    print(changes_list(checked))
    print("\n## Mojibake made from the ground truth\n\n" + synthetic(truth))
    print("\n## CPU over the texts above\n\n" + cost([c.before for c in checked]))
    print("\n## Hostile texts\n\n" + hostile())
    return 0


if __name__ == "__main__":
    sys.exit(main())
