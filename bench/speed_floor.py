"""The floor's extraction cost, run by bench.speed in a fresh interpreter (one process, one core).

    python -m bench.speed_floor CORPUS FEEDS ITEMS [--profile OUT.prof]

Prints one JSON object: CPU seconds of bare ``trafilatura.extract`` over the bench's page
bytes (imports excluded; with the median and slowest page, and the share of the slowest
5 % of the pages), and, for comparison, of ingest's own ``extract_article`` (the
function its workers run: decoding, ``bare_extraction``, metadata), called as the pipeline
calls it for the bench's feeds: they give a date and a language, no authors.
The two are timed page by page, alternating. With --profile, ``extract_article`` then runs
once more over the pages under cProfile and the stats go to OUT.prof.
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import time
from pathlib import Path

from bench.common import argument_parser
from bench.speed_site import build_items, corpus_pages

# The bench's feed entries carry pubDate and the channel <language>, but no author.
_AS_PIPELINE = {"need_date": False, "need_language": False, "need_authors": True}


def time_pages(pages: list[tuple[bytes, str]]) -> dict:
    """CPU of bare trafilatura.extract and of ingest's extract_article, page by page."""
    import trafilatura  # imported here: imports are not part of the extraction cost

    from ingest.errors import SkipEntry
    from ingest.extract import langid
    from ingest.extract.page import extract_article

    html, url = pages[0]  # warm-up: lazy imports and caches, paid once per worker in ingest
    trafilatura.extract(html, url=url)
    with contextlib.suppress(SkipEntry):
        extract_article(html, url, "text/html", None, **_AS_PIPELINE)
    langid.detect_language("news of the day " * 20)  # its model: in ingest's forkserver

    # Page by page, the two calls alternating in order, so that a drift in the machine's
    # speed and the caches the first call warms fall on both.
    bare_times: list[float] = []
    ingest_cpu = 0.0
    bare_empty = skipped = 0
    for i, (html, url) in enumerate(pages):
        for call in ("bare", "ours") if i % 2 == 0 else ("ours", "bare"):
            started = time.process_time()
            if call == "bare":
                bare_empty += not trafilatura.extract(html, url=url)
                bare_times.append(time.process_time() - started)
                continue
            try:
                extract_article(html, url, "text/html", None, **_AS_PIPELINE)
            except SkipEntry:
                skipped += 1
            ingest_cpu += time.process_time() - started
    bare_times.sort()
    slowest = bare_times[-max(1, len(bare_times) // 20):]  # the slowest 5 % of the pages
    return {"pages": len(pages), "bare_cpu": sum(bare_times), "bare_empty": bare_empty,
            "bare_median": bare_times[len(bare_times) // 2], "bare_max": bare_times[-1],
            "bare_slowest_share": sum(slowest) / sum(bare_times),
            "ingest_cpu": ingest_cpu, "ingest_skipped": skipped}


def profile_pages(pages: list[tuple[bytes, str]], out: Path) -> None:
    """extract_article over ``pages`` once more, under cProfile; the stats to ``out``."""
    from ingest.errors import SkipEntry
    from ingest.extract.page import extract_article

    profiler = cProfile.Profile()
    for html, url in pages:
        with contextlib.suppress(SkipEntry):
            profiler.runcall(extract_article, html, url, "text/html", None, **_AS_PIPELINE)
    profiler.dump_stats(str(out))


def main() -> None:
    parser = argument_parser("speed_floor", __doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("feeds", type=int)
    parser.add_argument("items", type=int)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    items = build_items(corpus_pages(args.corpus), args.feeds, args.items)
    pages = [(it.html, f"http://127.0.0.1{it.path}") for it in items]
    figures = time_pages(pages)
    if args.profile:
        profile_pages(pages, args.profile)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
