"""Sitemap parsing (ingest.extract.sitemap) on made-up news sitemaps: wall time and peak
traced memory of one parse, plain and gzipped, and the cost of the detection check.

    python -m bench.sitemaps [--sizes 1000,10000,50000] [--json FIGURES.json]

Each sitemap has N ``<url>`` entries with a full ``<news:news>`` block, one published every
minute back from now, so that the 2-day window takes 2,880 of them (all, for N below).
One parse runs in this process, as a worker runs it (`ingest.pipeline.jobs.parse_sitemap`).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
import tracemalloc
from pathlib import Path

from bench.common import argument_parser, table
from ingest.extract.sitemap import parse_sitemap
from ingest.extract.sitemap_bytes import is_sitemap

WINDOW = 2 * 86400.0
DETECTIONS = 1000


def news_sitemap(count: int, now: float) -> bytes:
    def stamp(ago: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - ago))

    urls = "".join(
        f"<url><loc>https://news.example/2025/12/{i}/a-long-article-slug-{i}.html</loc>"
        "<news:news><news:publication><news:name>News</news:name><news:language>it"
        f"</news:language></news:publication><news:publication_date>{stamp(i * 60)}"
        f"</news:publication_date><news:title>Titolo dell'articolo numero {i}</news:title>"
        "<news:keywords>politica, economia, Roma</news:keywords></news:news></url>"
        for i in range(count))
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            + urls + "</urlset>").encode()


def measure(data: bytes, now: float) -> tuple[float, int, int]:
    """Seconds, peak traced bytes (a second parse: tracing slows it) and entries taken."""
    def parse() -> int:
        return len(parse_sitemap(data, url="https://news.example/sitemap.xml",
                                 since=now - WINDOW, max_urls=50_000,
                                 max_bytes=50_000_000).entries)

    started = time.perf_counter()
    taken = parse()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    parse()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, taken


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("sitemaps", __doc__)
    parser.add_argument("--sizes", default="1000,10000,50000",
                        help="URLs per sitemap, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    now = time.time()
    rows, figures = [], []
    for count in (int(n) for n in args.sizes.split(",")):
        plain = news_sitemap(count, now)
        for kind, data in (("plain", plain), ("gzip", gzip.compress(plain))):
            seconds, peak, taken = measure(data, now)
            rows.append((f"{count:,}", kind, f"{len(data):,}", f"{seconds:.2f}",
                         f"{peak / 2**20:.1f}", f"{taken:,}"))
            figures.append({"urls": count, "file": kind, "bytes": len(data),
                            "seconds": seconds, "peak_bytes": peak, "taken": taken})
            if kind == "gzip":
                started = time.perf_counter()
                for _ in range(DETECTIONS):
                    is_sitemap(data)
                detect = (time.perf_counter() - started) / DETECTIONS * 1e6
    print(table(("URLs", "file", "bytes", "parse s", "peak traced MiB", "taken"), rows,
                "rlrrrr"))
    print(f"\nis_sitemap on a gzip body: {detect:.0f} µs a call (mean of {DETECTIONS})")
    if args.json:
        args.json.write_text(json.dumps({"parses": figures, "detect_us": detect}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
