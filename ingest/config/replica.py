"""A replica's name (``state.replica``): what it may be, and its default.

It goes into file names (``articles-….<replica>.jsonl``), so it is kept to letters,
digits, ``.``, ``_`` and ``-``, and a last label of digits is refused: it would read as a
part number (``articles-….1.jsonl``).
"""

from __future__ import annotations

import re
import socket

REPLICA_NAME = re.compile(r"[A-Za-z0-9._-]{1,63}")
_PART_LIKE = re.compile(r"(?:^|\.)[0-9]++$")


def usable_replica(name: str) -> bool:
    return REPLICA_NAME.fullmatch(name) is not None and _PART_LIKE.search(name) is None


def host_replica() -> str:
    """``state.replica``'s default: the host name, else its first label, else that label
    made usable (other characters as ``-``, ``host-`` before a number such as a
    container id of digits)."""
    name = socket.gethostname()
    label = name.split(".")[0]
    for candidate in (name, label):
        if usable_replica(candidate):
            return candidate
    label = re.sub(r"[^A-Za-z0-9_-]", "-", label)[:58] or "ingest"
    return label if usable_replica(label) else f"host-{label}"
