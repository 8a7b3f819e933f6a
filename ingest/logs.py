"""Logging set-up for the shells: plain lines for people, JSON lines for collectors.

`setup_logging` installs the handler; `redact_secrets` (once the config is known) puts a
`SecretFilter` on it, so no feed URL's secret reaches a log line, whichever logger or
library produced it and wherever the handler's stream is pointed later.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import orjson

from ingest.units import utc_iso


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``ts`` in UTC with milliseconds."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": utc_iso(record.created).removesuffix("Z") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # a SecretFilter may have set it, redacted
            data["exc"] = record.exc_text
        return orjson.dumps(data).decode()


def setup_logging(level: int, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handler.setFormatter(formatter)
    root = logging.getLogger("ingest")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # Libraries speak only when something is really wrong.
    for noisy in ("httpx", "httpcore", "trafilatura", "apscheduler", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


class SecretFilter(logging.Filter):
    """Passes each record's message and exception text through ``redact`` (a Redactor).

    Installed on handlers, not loggers: a logger's filters do not see the records its
    children pass up, a handler's see them all.
    """

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: show what there is, still redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_secrets(redact: Callable[[str], str]) -> None:
    """Filter every line our handlers and Python's last-resort handler (libraries'
    warnings: they have no handler of their own) write through ``redact``; replaces an
    earlier call's filter."""
    handlers = list(logging.getLogger("ingest").handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, SecretFilter)]:
            handler.removeFilter(old)
        handler.addFilter(SecretFilter(redact))
