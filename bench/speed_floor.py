"""The floor's extraction cost, run by speed.py in a fresh interpreter (one process, one core).

    python bench/speed_floor.py CORPUS FEEDS ITEMS [--profile OUT.prof]

Prints one JSON object: CPU seconds of bare ``trafilatura.extract`` over the bench's page
bytes (imports excluded), and, for comparison, of ingest's own ``extract_article`` (the
function its workers run: decoding, ``bare_extraction``, metadata), called as the pipeline
calls it for the bench's feeds: they give a date and a language, no authors.
With --profile, ``extract_article`` runs under cProfile and the stats go to OUT.prof.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_site import build_items, corpus_pages  # noqa: E402


# The bench's feed entries carry pubDate and the channel <language>, but no author.
_AS_PIPELINE = {"need_date": False, "need_language": False, "need_authors": True}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("feeds", type=int)
    parser.add_argument("items", type=int)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    items = build_items(corpus_pages(args.corpus), args.feeds, args.items)
    pages = [(it.html, f"http://127.0.0.1{it.path}") for it in items]

    import trafilatura  # noqa: PLC0415  (imports are not part of the extraction cost)

    from ingest import langid  # noqa: F401, PLC0415  (preloaded in ingest's forkserver)
    from ingest.errors import SkipEntry  # noqa: PLC0415
    from ingest.extract import extract_article  # noqa: PLC0415

    html, url = pages[0]  # warm-up: lazy imports and caches, paid once per worker in ingest
    trafilatura.extract(html, url=url)
    with contextlib.suppress(SkipEntry):
        extract_article(html, url, "text/html", None, **_AS_PIPELINE)

    started = time.process_time()
    bare_empty = sum(1 for html, url in pages if not trafilatura.extract(html, url=url))
    bare = time.process_time() - started

    def ours() -> int:
        skipped = 0
        for html, url in pages:
            try:
                extract_article(html, url, "text/html", None, **_AS_PIPELINE)
            except SkipEntry:
                skipped += 1
        return skipped

    profiler = cProfile.Profile() if args.profile else None
    started = time.process_time()
    skipped = profiler.runcall(ours) if profiler else ours()
    ingest_cpu = time.process_time() - started
    if profiler:
        profiler.dump_stats(str(args.profile))
    print(json.dumps({"pages": len(pages), "bare_cpu": bare, "bare_empty": bare_empty,
                      "ingest_cpu": ingest_cpu, "ingest_skipped": skipped}))


if __name__ == "__main__":
    main()
