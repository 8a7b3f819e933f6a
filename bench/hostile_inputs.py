"""Time parse_feed, extract_article and decode_html on the hostile inputs of the hardening
audit; prints a Markdown table.

    python -m bench.hostile_inputs                        # this checkout
    python -m bench.hostile_inputs --before DIR           # and another one, side by side
    python -m bench.hostile_inputs --timeout 30 [CASE...] # give up on a case after 30 s

DIR is a directory holding an ``ingest`` package, e.g. an export of an older commit
(``git archive <commit> | tar -x -C DIR``). Each case runs in its own interpreter, which
imports ``ingest`` from the checkout of its column, after a warm-up call (imports,
trafilatura's and dateparser's lazy caches), so its figure is the one call's wall time;
a case still running after --timeout is reported as "> N s". Each input is the audit's
reproducer, at a size where work that grows faster than the input shows as seconds.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO, argument_parser, bench_command, bench_env, table_head, table_row

_BODY = "<p>" + "The council met on Tuesday to discuss the budget for the coming year. " * 4
_SCHEMA = {"@context": "https://schema.org", "@type": "NewsArticle"}


def _rss(items: str, prologue: str = "") -> bytes:
    return (f'{prologue}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>T</title><item><title>A</title><link>http://x.it/1</link>"
            f"</item>{items}</channel></rss>").encode()


def _page(head: str = "", body: str = "", before: str = "") -> bytes:
    return (f"{before}<html><head><title>Budget</title>{head}</head><body><article>"
            f"<h1>Budget</h1>{_BODY}</p>{body}</article></body></html>").encode()


def _ld(data) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _authors(n: int) -> list[dict]:
    import itertools

    syllables = ["".join(s).title() for s in itertools.product("bdfgk", "aeiou", "lmnrst")]
    pairs = itertools.islice(itertools.product(syllables, repeat=2), n)
    return [{"@type": "Person", "name": f"{a} {b}"} for a, b in pairs]


# name -> (stage, input builder); stage "feed": parse_feed, "page": extract_article,
# "decode": decode_html (content type in the second item of the built tuple).
CASES = {
    "feed: 25 empty comments (HTML check)": ("feed", lambda: b"<!---->" * 25 + b"x"),
    "feed: 146 empty comments (1 KB window)": ("feed", lambda: b"<!---->" * 146 + b"x"),
    "feed: 40,000 blank lines before the root": ("feed", lambda: b"x" + b"\n" * 40_000 + b"<a/>"),
    "feed: 1,000 encoding='' in <? line": ("feed", lambda: b"<?" + b"encoding=''" * 1_000),
    "feed: UTF-16, no BOM, 32,000 <?xml": ("feed", lambda: ("<?xml" * 32_000).encode("utf-16-le")),
    "feed: <author> of 24,000 letters": ("feed", lambda: _rss(
        "<item><link>http://x.it/2</link><author>" + "a" * 24_000 + "</author></item>")),
    "feed: 30 KB entity in <dc:creator>": ("feed", lambda: _rss(
        "<item><link>http://x.it/2</link><dc:creator>&a;</dc:creator></item>",
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "a" * 30_000 + '">]>')),
    "feed: encoding=punycode, 300 KB": ("feed", lambda: (
        b'<?xml version="1.0" encoding="punycode"?><rss version="2.0"><channel><item><title>-'
        + b"a" * 300_000)),
    "feed: 6 MB, 30,000 ordinary items": ("feed", lambda: _rss("".join(
        f"<item><title>Story {i} of the day</title><link>http://x.it/{i}</link>"
        f"<author>ed{i}@x.it (Ed Smith)</author><description>Summary of story {i}, a few "
        f"words long, as feeds have them.</description></item>" for i in range(30_000)))),
    "page: <meta author> of 16,000 [": ("page", lambda: _page(
        '<meta name="author" content="' + "[" * 16_000 + '">')),
    "page: JSON-LD author of 16,000 [": ("page", lambda: _page(
        _ld({**_SCHEMA, "author": {"name": "[" * 16_000}}))),
    "page: <meta> of 60,000 &lt;": ("page", lambda: _page(
        '<meta name="description" content="' + "&lt;" * 60_000 + '">')),
    "page: JSON-LD of 100,000 \\u003c": ("page", lambda: _page(
        '<script type="application/ld+json">{"headline": "' + "\\u003c" * 100_000
        + '"}</script>')),
    "page: broken JSON-LD, 6,000 \"author\"": ("page", lambda: _page(
        '<script type="application/ld+json">' + '{"author" ' * 6_000 + "</script>")),
    "page: JSON-LD with 1,000 authors": ("page", lambda: _page(
        _ld({**_SCHEMA, "author": _authors(1_000)}))),
    "page: DOCTYPE of 40,000 /": ("page", lambda: b"<!DOCTYPE " + b"/" * 40_000 + _page()),
    "page: 8,000 <p>a before <html>": ("page", lambda: _page(before="<p>a" * 8_000)),
    "page: 8,000 short <div>s after the article": ("page", lambda: _page(
        body="</article>" + "<div>a</div>" * 8_000)),
    "page: 1,900 short <div>s (under the bound)": ("page", lambda: _page(
        body="</article>" + "<div>a</div>" * 1_900)),
    "page: <html> 3,200 times in a comment": ("page", lambda: _page(
        before="<!--" + "<html" * 3_200 + "-->")),
    "decode: <meta charset=punycode>, 200 KB": ("decode", lambda: (
        b'<meta charset="punycode"><p>\xff-' + b"a" * 200_000)),
}


def load_ingest(code: Path) -> None:
    """Import the ``ingest`` package of ``code`` (a checkout), whatever sys.path holds."""
    spec = importlib.machinery.PathFinder.find_spec("ingest", [str(code)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench: no ingest package in {code}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ingest"] = module
    spec.loader.exec_module(module)


def child(case: str) -> float:
    """One case in this interpreter, with ``ingest`` already loaded: seconds."""
    stage, build = CASES[case]
    content = build()
    call = _stage_call(stage)
    call(_page() if stage == "page" else b"<rss version='2.0'><channel/></rss>")  # warm-up
    started = time.perf_counter()
    call(content)
    return time.perf_counter() - started


def _stage_call(stage: str):
    from ingest.errors import IngestError

    def run(function, *args, **kwargs):
        try:
            function(*args, **kwargs)
        except IngestError:  # a refusal is an answer too
            pass
        except Exception as exc:  # any other exception is a bug: reported
            print(f"raised {type(exc).__name__}", file=sys.stderr)

    if stage == "feed":
        from ingest.extract.feed import parse_feed
        return lambda c: run(parse_feed, c, url="http://x.it/feed")
    from ingest.extract.page import extract_article
    from ingest.extract.page_decoding import decode_html
    if stage == "decode":
        return lambda c: run(decode_html, c, "text/html")
    warm = ("<html><body><article><p class='date'>Published Tuesday 3 Dec. '25, 10:00 am</p>"
            f"{_BODY}</p></article></body></html>").encode()
    run(extract_article, warm, "https://x.it/a", "text/html")  # dateparser's locales, langid
    return lambda c: run(extract_article, c, "https://x.it/a", "text/html", need_date=False,
                         need_language=False)


def measure(case: str, code: Path, timeout: float) -> str:
    command = bench_command("hostile_inputs", "--child", case, "--code", str(code))
    env = bench_env({"PATH": "/usr/bin:/bin"})
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=REPO, check=False)
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f} s"
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:60]
    note = f" ({proc.stderr.strip()})" if proc.stderr.strip() else ""
    return f"{float(proc.stdout):.3f} s{note}"


def main() -> None:
    parser = argument_parser("hostile_inputs", __doc__)
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--before", type=Path, help="a directory holding an older ingest")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        load_ingest(args.code)
        print(child(args.child))
        return
    cases = args.cases or list(CASES)
    columns = [("this checkout", REPO)] + ([("before", args.before.resolve())] if args.before else [])
    print(table_head(("input", "bytes", *(name for name, _ in columns)), "lr" + "r" * len(columns)))
    for case in cases:
        size = len(CASES[case][1]())
        cells = [measure(case, code, args.timeout) for _, code in columns]
        print(table_row((case, f"{size:,}", *cells)), flush=True)


if __name__ == "__main__":
    main()
