"""Gzip members for the sink: one whole member per batch, found again after a crash.

``articles-….jsonl.gz`` is a multi-member gzip stream (RFC 1952 allows members
to be concatenated; ``gzip -dc``, ``zcat`` and Python's ``gzip`` read it as one
file). Every batch is appended as one complete member, so every checkpoint is a
compressed byte offset at a member boundary, and a crash can only leave a torn
last member behind: `whole_end` finds the end of the last whole one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

_GZIP = 31  # zlib wbits for a gzip header and trailer
_MAGIC = b"\x1f\x8b\x08"  # ID1 ID2 CM=deflate: how every member starts
_TAIL_WINDOWS = (64 << 10, 16 << 20)  # bytes read from the end to find the last member
_CHUNK = 1 << 20


def member(data: bytes, level: int = 6) -> bytes:
    """``data`` as one complete gzip member."""
    packer = zlib.compressobj(level, zlib.DEFLATED, _GZIP)
    return packer.compress(data) + packer.flush()


def whole_end(path: Path) -> int:
    """The offset just past the last whole member of ``path`` (its size when intact).

    Cheap when the file is intact (only its tail is read); after a crash, the
    file is scanned from the start, member by member, so the cut is exact.
    """
    size = path.stat().st_size
    if size == 0 or _tail_is_whole(path, size):
        return size
    return _scan(path)


def iter_lines(path: Path, start: int) -> Iterator[bytes]:
    """The lines of the members from ``start`` (a member boundary) on."""
    rest = b""
    for block in _inflate(path, start):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _inflate(path: Path, start: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        unpack = zlib.decompressobj(_GZIP)
        while chunk := fh.read(_CHUNK):
            while chunk:
                yield unpack.decompress(chunk)
                if not unpack.eof:
                    break
                chunk = unpack.unused_data
                unpack = zlib.decompressobj(_GZIP)


def _tail_is_whole(path: Path, size: int) -> bool:
    """True when the last member, found by its magic near the end, ends at EOF.

    Scanning backwards, the first candidate that inflates to a complete member
    (CRC and length checked by zlib) is the last member's start: whole if
    nothing follows it. A false candidate inside compressed data fails to
    inflate. A small tail is tried first; batches are rarely larger.
    """
    with path.open("rb") as fh:
        for window in _TAIL_WINDOWS:
            fh.seek(max(0, size - window))
            whole = _last_member_ends_tail(fh.read())
            if whole is not None:
                return whole
            if window >= size:
                break
    return False


def _last_member_ends_tail(tail: bytes) -> bool | None:
    """Whether ``tail`` ends with a whole member; None if no member start is in it."""
    pos = tail.rfind(_MAGIC)
    while pos != -1:
        unpack = zlib.decompressobj(_GZIP)
        try:
            unpack.decompress(tail[pos:])
        except zlib.error:
            pass  # a false start inside compressed data
        else:
            if unpack.eof:
                return not unpack.unused_data
        pos = tail.rfind(_MAGIC, 0, pos)
    return None


def _scan(path: Path) -> int:
    """Walk the members from the start; return where the last whole one ends."""
    end = offset = 0
    unpack = zlib.decompressobj(_GZIP)
    with path.open("rb") as fh:
        pending = b""
        while chunk := pending or fh.read(_CHUNK):
            pending = b""
            try:
                unpack.decompress(chunk)
            except zlib.error:
                return end
            if unpack.eof:
                offset += len(chunk) - len(unpack.unused_data)
                end, pending = offset, unpack.unused_data
                unpack = zlib.decompressobj(_GZIP)
            else:
                offset += len(chunk)
    return end
