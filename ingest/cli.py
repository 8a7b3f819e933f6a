"""The `ingest` command: a thin shell over the pipeline and the daemon.

Exit status: 0 everything worked, 1 something failed at run time (each failure
named on stderr), 2 configuration or usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from ingest import __version__
from ingest.config import Config, effective_config, load_config
from ingest.errors import ConfigError, IngestError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("ingest.cli")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A full disk or a file-size limit must surface as an error we can report,
    # not as a signal that kills the process mid-line.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from ingest.logs import setup_logging

    default = logging.INFO if args.command == "run" else logging.WARNING
    level = default - 10 * args.verbose + 10 * args.quiet
    setup_logging(max(logging.DEBUG, min(level, logging.CRITICAL)), args.log_format)
    try:
        cfg = load_config(args.config)
        return args.handler(cfg, args)
    except ConfigError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except IngestError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", "-c", default=os.environ.get("INGEST_CONFIG", "config.yaml"),
                        help="config file (default: $INGEST_CONFIG or ./config.yaml)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log lines")
    common.add_argument("-q", "--quiet", action="count", default=0, help="fewer log lines")
    common.add_argument("--log-format", choices=("text", "json"), default="text")

    parser = argparse.ArgumentParser(prog="ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ingest {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", parents=[common], help="poll every feed once, then exit")
    fetch.add_argument("--feed", action="append", default=[], metavar="NAME",
                       help="only this feed (by name); may be repeated")
    fetch.set_defaults(handler=cmd_fetch)

    run = sub.add_parser("run", parents=[common], help="run the polling daemon")
    run.set_defaults(handler=cmd_run)

    footers = sub.add_parser("footers", parents=[common], help="show learned footer lines")
    footers.add_argument("--site", help="only this site (host, e.g. ansa.it)")
    footers.set_defaults(handler=cmd_footers)

    check = sub.add_parser("check", parents=[common],
                           help="validate the config and print the effective settings")
    check.set_defaults(handler=cmd_check)
    return parser


def cmd_fetch(cfg: Config, args) -> int:
    from ingest.app import open_pipeline

    feeds = _select_feeds(cfg, args.feed)

    async def go():
        async with open_pipeline(cfg) as pipeline:
            return await pipeline.run(feeds)

    stats = asyncio.run(go())
    print(stats.summary(), file=sys.stderr)
    return EXIT_OK if not stats.failed else EXIT_FAILED


def cmd_run(cfg: Config, args) -> int:
    from ingest.daemon import run_daemon

    return run_daemon(cfg, config_path=args.config)


def cmd_footers(cfg: Config, args) -> int:
    from ingest.state import SqliteStore

    store = SqliteStore(cfg.state.path, lock_timeout=cfg.state.lock_timeout)
    try:
        rows = store.footer_lines(args.site)
    finally:
        store.close()
    threshold = cfg.footers.min_count
    for site, _key, sample, count in rows:
        mark = "removed" if count >= threshold else "watching"
        print(f"{site}\t{count}\t{mark}\t{sample}")
    if not rows:
        print("no footer lines learned yet" + (f" for {args.site}" if args.site else ""),
              file=sys.stderr)
    return EXIT_OK


def cmd_check(cfg: Config, args) -> int:
    print(json.dumps(effective_config(cfg), indent=2, ensure_ascii=False))
    return EXIT_OK


def _select_feeds(cfg: Config, names: list[str]):
    if not names:
        return list(cfg.feeds)
    by_name = {f.name: f for f in cfg.feeds}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(f"--feed: no feed named {', '.join(map(repr, unknown))} in "
                          f"{cfg.path} (known: {', '.join(sorted(by_name))})")
    return [by_name[n] for n in names]
