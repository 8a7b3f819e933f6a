"""The `ingest` command: a thin shell over the pipeline, the daemon and the small commands.

Exit statuses: `ingest.cli.exits` (0 worked, 1 failed at run time, 2 configuration or usage).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import traceback

from ingest import __version__
from ingest.cli import commands
from ingest.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ingest.cli.migrate import cmd_migrate_state
from ingest.config.load import load_config
from ingest.config.model import Config, log_secrets
from ingest.errors import ConfigError, IngestError
from ingest.redact import Redactor
from ingest.units import parse_duration


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A full disk or a file-size limit must surface as an error we can report,
    # not as a signal that kills the process mid-line.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from ingest.logs import redact_secrets, setup_logging

    default = logging.INFO if args.command == "run" else logging.WARNING
    level = default - 10 * args.verbose + 10 * args.quiet
    setup_logging(max(logging.DEBUG, min(level, logging.CRITICAL)), args.log_format)
    redact = Redactor()  # until the config names its feeds: credentials of any URL
    redact_secrets(redact)
    try:
        cfg = load_config(args.config) if args.needs_config else None
        if cfg is not None:
            redact = _redact_config_secrets(cfg)
        return args.handler(cfg, args)
    except IngestError as exc:
        print(f"ingest: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
    except BrokenPipeError:  # `ingest status | head`: the reader has what it wanted
        _discard_stdout()
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _discard_stdout() -> None:
    """Point stdout at /dev/null: the reader has gone, and flushing at exit must not fail."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _redact_config_secrets(cfg: Config) -> Redactor:
    """From here on, no log line shows a feed URL's secrets, a feed's request settings'
    secrets or the ops server's token."""
    from ingest.logs import redact_secrets

    redact = Redactor((f.url for f in cfg.feeds), secrets=log_secrets(cfg))
    redact_secrets(redact)
    sys.excepthook = lambda kind, exc, tb: sys.stderr.write(  # a bug's traceback too
        redact("".join(traceback.format_exception(kind, exc, tb))))
    return redact


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", "-c", default=os.environ.get("INGEST_CONFIG", "config.yaml"),
                        help="config file (default: $INGEST_CONFIG or ./config.yaml)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log lines")
    common.add_argument("-q", "--quiet", action="count", default=0,
                        help="fewer log lines, and no progress display")
    common.add_argument("--log-format", choices=("text", "json"), default="text")

    parser = argparse.ArgumentParser(prog="ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ingest {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help: str, needs_config: bool = True):  # noqa: A002
        cmd = sub.add_parser(name, parents=[common], help=help, description=help)
        cmd.set_defaults(handler=handler, needs_config=needs_config)
        return cmd

    fetch = command("fetch", cmd_fetch, "poll every feed once, then exit")
    fetch.add_argument("--feed", action="append", default=[], metavar="NAME",
                       help="only this feed (by name); may be repeated")
    fetch.add_argument("-o", "--output", metavar="-",
                       help="'-': write the records to standard output instead of files")
    command("run", cmd_run, "run the polling daemon")
    status = command("status", commands.cmd_status,
                     "show every feed's polls, errors and freshness")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    footers = command("footers", commands.cmd_footers, "show learned footer lines")
    footers.add_argument("--site", help="only this site (host, e.g. ansa.it)")
    stories = command("stories", commands.cmd_stories,
                      "show the stories told by several records (near-duplicates), biggest first")
    stories.add_argument("--since", type=_duration, default=86400.0, metavar="DURATION",
                         help="stories with a record in this last stretch (default 1d)")
    stories.add_argument("--min-size", type=int, default=2, metavar="N",
                         help="stories of at least N records (default 2)")
    stories.add_argument("--json", action="store_true", help="print JSON instead of a list")
    check = command("check", commands.cmd_check,
                    "validate the config and print the effective settings")
    check.add_argument("--format", choices=("json", "yaml"), default="json")
    imp = command("import-opml", commands.cmd_import_opml,
                  "add the feeds of an OPML file to the config", needs_config=False)
    imp.add_argument("file", help="an OPML export (Miniflux, FreshRSS, an RSS reader)")
    imp.add_argument("--dry-run", action="store_true", help="report, but change nothing")
    move = command("migrate-state", cmd_migrate_state,
                   "copy the SQLite state store into an empty PostgreSQL database")
    move.add_argument("--to", required=True, metavar="URL",
                      help="the PostgreSQL database (postgresql://... or a libpq conninfo)")
    move.add_argument("--merge", action="store_true",
                      help="copy into a database that already holds a state store")
    exp = command("export-opml", commands.cmd_export_opml, "write the configured feeds as OPML")
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    return parser


def _duration(text: str) -> float:
    """A command-line duration (``1d``, ``6h``): argparse names the option on an error."""
    try:
        return parse_duration(text, most=parse_duration("3650d"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_fetch(cfg: Config, args) -> int:
    from ingest.cli.progress import fetch_progress, wanted
    from ingest.pipeline.app import open_pipeline

    feeds = _select_feeds(cfg, args.feed)
    sink = _stdout_sink(cfg, args.output)

    async def go(on_event):
        async with open_pipeline(cfg, on_event=on_event, sink=sink) as pipeline:
            return await pipeline.run(feeds)

    show = wanted(args.quiet, args.log_format) and not (sink and sys.stdout.isatty())
    with fetch_progress(len(feeds), show) as on_event:
        stats = asyncio.run(go(on_event))
    if sink is not None and sink.broken:  # the reader left: no complaint at exit
        _discard_stdout()
    print(stats.summary(), file=sys.stderr)
    return EXIT_OK if not stats.failed else EXIT_FAILED


def _stdout_sink(cfg: Config, output: str | None):
    """``-o -``: a sink writing to stdout, recovering the output folder if it exists."""
    if output is None:
        return None
    if output != "-":
        raise ConfigError(f"--output: only '-' (standard output) is accepted, got {output!r}; "
                          "to write files elsewhere set output.dir or INGEST_OUTPUT_DIR")
    from ingest.sink.jsonl import JsonlSink
    from ingest.sink.stdout import StdoutSink

    replica = cfg.state.replica if cfg.state.url else None  # a shared folder: its own files only
    files = JsonlSink.from_config(cfg.output, replica=replica) if cfg.output.dir.is_dir() else None
    return StdoutSink(sys.stdout.buffer, files)


def cmd_run(cfg: Config, args) -> int:
    from ingest.daemon.service import run_daemon

    return run_daemon(cfg, config_path=args.config)


def _select_feeds(cfg: Config, names: list[str]):
    if not names:
        return list(cfg.feeds)
    by_name = {f.name: f for f in cfg.feeds}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(f"--feed: no feed named {', '.join(map(repr, unknown))} in "
                          f"{cfg.path} (known: {', '.join(sorted(by_name))})")
    return [by_name[n] for n in names]
