"""Peak memory of fetching hostile and ordinary bodies: ingest's bounded decoder, and
httpx's own decoders for comparison.

    python -m bench.bodies [--cap BYTES] [--httpx]

Serves the test fault server's bodies on 127.0.0.1 (tests/helpers/faultserver.py: the gzip,
stacked gzip, brotli and zstd bombs, a gzip 404, 400 MB streamed) and ordinary pages
(1 MB of corpus-like HTML, gzip, br and zstd), and fetches each in a fresh interpreter,
twice: once for the growth of its peak resident memory (ru_maxrss, after imports and the
client are set up), once under tracemalloc for the peak of Python's traced allocations.
Prints a markdown table. ``--httpx`` adds rows read through httpx's own decoders
(``aiter_bytes``, and ``aread`` for error bodies): those rows decode bombs whole and
may need several GB. The resident
growth is measured from the peak reset after the set-up (Linux; elsewhere from the
set-up's own peak, which hides smaller growth).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import resource
import subprocess
import time
import tracemalloc
from pathlib import Path

from bench.common import REPO, argument_parser, bench_command, bench_env, table_head, table_row

PAGE = b"<html><body>" + b"".join(b"<p>Story %d of the harbour council.</p>" % i
                                  for i in range(25_000)) + b"</body></html>"
CASES = [  # (label, path on the fault server)
    ("page 1 MB, gzip", "/page-gzip"), ("page 1 MB, br", "/page-br"),
    ("page 1 MB, zstd", "/page-zstd"), ("400 MB streamed", "/big/400"),
    ("gzip bomb, 1 GiB", "/gzip-bomb"), ("gzip, gzip bomb, 1 GiB", "/gzip-gzip-bomb"),
    ("br bomb, 1 GiB", "/br-bomb"), ("zstd bomb, 1 GiB", "/zstd-bomb"),
    ("gzip 404, 61 KB -> 60 MiB", "/gzip-404"),
]


def serve():
    import brotli
    import zstandard

    from tests.helpers.faultserver import FaultServer, brotli_bomb, gzip_bomb, stacked_gzip_bomb, zstd_bomb

    for build in (gzip_bomb, stacked_gzip_bomb, brotli_bomb, zstd_bomb):
        build()
    gzip_bomb(60)
    server = FaultServer().start()
    html = {"Content-Type": "text/html"}
    server.add("/page-gzip", gzip.compress(PAGE), {**html, "Content-Encoding": "gzip"})
    server.add("/page-br", brotli.compress(PAGE, quality=5), {**html, "Content-Encoding": "br"})
    server.add("/page-zstd", zstandard.ZstdCompressor().compress(PAGE),
               {**html, "Content-Encoding": "zstd"})
    return server


async def with_ingest(url: str, cap: int) -> str:
    from ingest.config.model import HttpConfig
    from ingest.errors import FetchError
    from ingest.fetch.client import HttpClient

    async with HttpClient(HttpConfig(allow_private_networks=True, per_host_delay=0.0,
                                     max_page_bytes=cap)) as client:
        try:
            return f"{len((await client.fetch_page(url)).content)} bytes"
        except FetchError as exc:
            return exc.kind


async def with_httpx(url: str, cap: int) -> str:
    import httpx

    async with httpx.AsyncClient(trust_env=False) as client:
        async with client.stream("GET", url) as response:
            if response.status_code >= 400:
                await response.aread()
                return f"http_{response.status_code}"
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > cap:
                    return "too_large"
    return f"{total} bytes"


def one(url: str, cap: int, decoder: str, traced: bool) -> dict:
    """Fetch ``url`` here; the figures as a dict (run in a fresh interpreter)."""
    import httpx  # noqa: F401  (imports are not part of the growth)

    import ingest.fetch.client  # noqa: F401

    read = with_ingest if decoder == "ingest" else with_httpx
    try:  # warm-up: lazy imports, the SSL context (nobody listens on port 9)
        asyncio.run(read("http://127.0.0.1:9/", cap))
    except Exception:  # httpx's ConnectError: expected
        pass
    before = _rss_now_reset_peak()
    if traced:
        tracemalloc.start()
    started = time.monotonic()
    outcome = asyncio.run(read(url, cap))
    seconds = time.monotonic() - started
    figures = {"outcome": outcome, "seconds": seconds}
    if traced:
        figures["traced"] = tracemalloc.get_traced_memory()[1]
    else:
        figures["rss_growth"] = _rss_peak() - before
    return figures


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _rss_now_reset_peak() -> int:
    """Resident bytes now, with the peak set back to them (Linux: /proc/self/clear_refs);
    elsewhere the process's peak so far, which hides any growth below it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss_peak() -> int:
    try:
        return _status("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measured(url: str, cap: int, decoder: str) -> dict:
    figures: dict = {}
    for traced in (False, True):
        cmd = bench_command("bodies", "--one", url, "--cap", str(cap), "--decoder", decoder)
        proc = subprocess.run(cmd + (["--traced"] if traced else []), cwd=REPO, env=bench_env(),
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["no output"]
            return {"outcome": f"crashed: {lines[-1][:60]}"}
        figures.update(json.loads(proc.stdout))
    return figures


def mb(value: float | None) -> str:
    return "" if value is None else f"{value / 1e6:.1f}"


def main() -> None:
    parser = argument_parser("bodies", __doc__)
    parser.add_argument("--cap", type=int, default=5_000_000, help="max_page_bytes")
    parser.add_argument("--httpx", action="store_true", help="also httpx's decoders")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--decoder", default="ingest", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.cap, args.decoder, args.traced)))
        return
    server = serve()
    decoders = ["ingest", "httpx"] if args.httpx else ["ingest"]
    print(f"Fetching bodies with max_page_bytes = {args.cap} ({mb(args.cap)} MB)\n")
    print(table_head(("body", "decoded by", "outcome", "seconds", "peak RSS growth, MB",
                      "peak traced, MB"), "lllrrr"))
    try:
        for label, path in CASES:
            for decoder in decoders:
                f = measured(server.url(path), args.cap, decoder)
                seconds = f"{f['seconds']:.2f}" if "seconds" in f else ""
                print(table_row((label, decoder, f["outcome"], seconds, mb(f.get("rss_growth")),
                                 mb(f.get("traced")))), flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
