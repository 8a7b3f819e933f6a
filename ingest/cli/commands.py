"""The small commands of `ingest`: status, footers, stories, check, import-opml, export-opml.

Each is a thin shell: it reads what it needs (a read-only state store, the
config file, an OPML file), calls the module that does the work and prints.
`ingest.cli.main` parses the arguments and maps exceptions to exit statuses.
"""

from __future__ import annotations

import json
import sys
import time

from ingest.cli.exits import EXIT_OK
from ingest.config.model import Config, effective_config
from ingest.errors import ConfigError
from ingest.redact import MASK, redact_url


def cmd_status(cfg: Config, args) -> int:
    from ingest.cli import status

    states, leases = _read_store(cfg, lambda store: (store.all_feeds(), store.leases()),
                                 ([], {}))
    now = time.time()
    rows = status.feed_rows(cfg, states, now, leases)
    if args.json:
        print(json.dumps(status.public(rows), indent=2, ensure_ascii=False))
    else:
        print(status.render_table(rows, now))
    return EXIT_OK


def cmd_footers(cfg: Config, args) -> int:
    from ingest.footers.strip import key_applies

    rows = _read_store(cfg, lambda store: store.footer_lines(args.site), [])
    threshold = cfg.footers.min_count
    for site, key, sample, count in rows:
        # a count kept under an older key, or of a line past the length cap, is never applied
        mark = "removed" if count >= threshold and key_applies(key, sample) else "watching"
        print(f"{site}\t{count}\t{mark}\t{sample}")
    if not rows:
        print("no footer lines learned yet" + (f" for {args.site}" if args.site else ""),
              file=sys.stderr)
    return EXIT_OK


def cmd_stories(cfg: Config, args) -> int:
    from ingest.cli import stories

    found = _read_store(cfg, lambda store: store.stories(time.time() - args.since, args.min_size),
                        [])
    print(stories.as_json(found) if args.json else stories.as_table(found, args.since))
    return EXIT_OK


def _read_store(cfg: Config, read, empty):
    """``read(store)`` on a read-only store (no lock: works beside `ingest run`)."""
    from ingest.state.sqlite import SqliteStore
    from ingest.state.store import Store

    store: Store
    if cfg.state.url:
        from ingest.state.postgres import PostgresStore

        store = PostgresStore.open_readonly(cfg.state.url)
    elif not cfg.state.path.exists():
        return empty
    else:
        store = SqliteStore.open_readonly(cfg.state.path, replica=cfg.state.replica)
    try:
        return read(store)
    finally:
        store.close()


def cmd_check(cfg: Config, args) -> int:
    plain = _without_secrets(effective_config(cfg))
    if args.format == "yaml":
        from ruamel.yaml import YAML

        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style, yaml.width = False, 4096
        # the config's order (ruamel types the attribute as None: hence the ignore)
        yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
        yaml.dump(plain, sys.stdout)
    else:
        print(json.dumps(plain, indent=2, ensure_ascii=False))
    print(f"{cfg.path}: OK, {len(cfg.feeds)} feeds", file=sys.stderr)
    return EXIT_OK


def _without_secrets(plain: dict) -> dict:
    """The effective settings as `ingest check` shows them: feed URLs redacted, the
    server token as ``***`` (the output lands in CI logs and support tickets)."""
    for feed in plain["feeds"]:
        feed["url"] = redact_url(feed["url"])
    if plain["server"].get("token") is not None:
        plain["server"]["token"] = MASK
    return plain


def cmd_import_opml(_cfg: None, args) -> int:
    from ingest.config.opml_import import import_opml

    report = import_opml(args.config, args.file, dry_run=args.dry_run)
    verb = "would add" if args.dry_run else "added"
    for feed in report.added:
        print(f"{verb}\t{feed.name or '-'}\t{redact_url(feed.url)}")
    for feed, reason in report.skipped:
        print(f"import-opml: skipped {feed.name or redact_url(feed.url)} "
              f"({args.file}:{feed.line}): {reason}", file=sys.stderr)
    print(f"import-opml: {verb} {len(report.added)} feeds to {args.config}, "
          f"skipped {len(report.skipped)}", file=sys.stderr)
    return EXIT_OK


def cmd_export_opml(cfg: Config, args) -> int:
    from ingest.config.opml import render_opml

    data = render_opml(cfg.feeds)
    if not args.output:
        sys.stdout.buffer.write(data)
        return EXIT_OK
    try:
        with open(args.output, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise ConfigError(f"export-opml: cannot write {args.output}: {exc.strerror}") from None
    print(f"export-opml: wrote {len(cfg.feeds)} feeds to {args.output}", file=sys.stderr)
    return EXIT_OK
