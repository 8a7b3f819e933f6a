"""The exception tree of ingest.

    IngestError                  error         what ingest raises on purpose
    ├── ConfigError              error         bad config file, key or value (exit status 2)
    ├── StateError               state         the state store cannot be opened, locked or written
    │   └── StateLocked          state         another process holds the store
    ├── FetchError               fetch         an HTTP exchange did not give usable bytes
    │   ├── TransientFetchError  transient     timeouts, connection errors, 5xx, 429: try again later
    │   │   └── HostBackoff      backoff       the host asked us to wait (Retry-After)
    │   ├── PermanentFetchError  permanent     404, 410, refused address, too large, wrong type
    │   └── NotModified          not_modified  304: nothing new (not a failure)
    ├── FeedParseError           parse         the bytes are not a feed with any entry we can use
    ├── SkipEntry                error         one entry is dropped, with a reason that is counted
    ├── SinkError                sink          records could not be written (disk full, read-only...)
    └── WorkerError              worker        a job in a worker process did not give a result
        ├── JobDeadline          deadline      it ran past its deadline; the worker was killed and replaced
        └── WorkerDied           worker_died   the worker process died under it (out of memory, killed)

The middle column is each class's ``kind``: the short label an error is counted and logged
under (logs, status, metrics). A FetchError may carry a finer one that the fetch stage
gives it (``http_503``, ``timeout``, ``too_large``...); a SkipEntry is counted by its
``reason``.

Lower-level errors (httpx, sqlite3, OSError, feedparser's bozo exceptions) are
translated into these at the module that talks to the library, with
``raise ... from exc``; nothing above the stages sees a library exception.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class of every error ingest raises on purpose."""

    kind: str = "error"


class ConfigError(IngestError):
    """A configuration problem; the message names the file, line and key."""


class StateError(IngestError):
    """The state store failed."""

    kind = "state"


class StateLocked(StateError):
    """Another ingest process holds the state store."""


class FetchError(IngestError):
    """An HTTP fetch failed; ``kind`` may be given per error (``http_404``)."""

    kind = "fetch"

    def __init__(self, message: str, *, url: str = "", kind: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        if kind is not None:
            self.kind = kind


class TransientFetchError(FetchError):
    """Worth trying again on a later poll (timeout, connection error, 5xx...)."""

    kind = "transient"


class HostBackoff(TransientFetchError):
    """The host answered 429/503 with Retry-After: leave the whole host alone."""

    kind = "backoff"

    def __init__(self, message: str, *, url: str = "", retry_after: float = 0.0,
                 kind: str | None = None, requested: bool = True) -> None:
        super().__init__(message, url=url, kind=kind)
        self.retry_after = retry_after
        self.requested = requested  # False: refused here, no request was sent


class PermanentFetchError(FetchError):
    """Trying again will not help (404, 410, refused address, too large...)."""

    kind = "permanent"


class NotModified(FetchError):
    """The server answered 304 Not Modified."""

    kind = "not_modified"


class FeedParseError(IngestError):
    """The feed could not be parsed into any entry."""

    kind = "parse"


class SkipEntry(IngestError):
    """Drop one entry; ``reason`` is the counted label (e.g. ``no_text``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # crosses the worker-process boundary intact
        return (type(self), (self.reason, self.detail))


class SinkError(IngestError):
    """Output could not be written; nothing in this batch was marked seen."""

    kind = "sink"


class WorkerError(IngestError):
    """A job in a worker process gave no result."""

    kind = "worker"


class JobDeadline(WorkerError):
    """The job ran past its deadline; its worker was killed and replaced."""

    kind = "deadline"


class WorkerDied(WorkerError):
    """The worker process died under the job (out of memory, killed)."""

    kind = "worker_died"
