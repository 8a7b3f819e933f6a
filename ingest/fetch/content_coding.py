"""Undo a body's Content-Encoding in bounded pieces (fetch stage).

httpx's own decoders inflate each network read whole, so a few kilobytes of stacked
gzip, of brotli or of zstd become a gigabyte at once, whatever the size cap. Here each
coding of the header is one stage, and the stages undo the codings in reverse order of
the header. A stage hands on pieces of at most PIECE bytes however far its input
expands, and the raw body and every stage's output are counted against the caller's
limit as they are produced. A body therefore never holds more than the limit plus a few
pieces, besides the decoders' own windows (32 KiB for deflate, at most 16 MiB for brotli,
8 MiB for zstd).

    coding          undone with                    notes
    gzip, x-gzip    zlib                           a zlib header is taken too
    deflate         zlib                           zlib-wrapped (RFC 9110) or raw, as some
                                                   servers send it
    br              brotli >= 1.1, if installed
    zstd            zstandard, if installed        frames one after the other (RFC 8878),
                                                   windows up to 8 MiB (RFC 9659)
    identity        nothing to undo

Data after the end of a gzip or deflate stream is ignored, as zlib and browsers ignore
it; brotli and zstd refuse it. A body cut short gives what it decoded so far. An unknown
coding, more than MAX_CODINGS codings, a decoder that is not installed or data that does
not decode raise :class:`ContentCodingError`; a stage going past the limit raises
:class:`OverLimit`. ``ingest.fetch.client`` turns both into PermanentFetchError.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Protocol

from ingest.units import short_repr

PIECE = 256 * 1024  # the most bytes any stage hands on at once
MAX_CODINGS = 3  # stacked codings undone; real servers send one
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # RFC 9659: senders must stay within it
_BROTLI_LIMIT = PIECE // 2  # process() may give twice that: its buffer grows in steps
_ZSTD_SLICE = 8  # input bytes per zstd call: they end two blocks (128 KiB each) at most
_ALIASES = {"x-gzip": "gzip"}


class ContentCodingError(Exception):
    """The body's Content-Encoding cannot be undone (the message says why)."""


class OverLimit(Exception):
    """The body, or one of its layers, decoded to more than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"decoded to more than {limit} bytes")
        self.limit = limit


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]:
        """The pieces ``data`` decodes to, lazily, each at most PIECE bytes."""


def accept_encoding() -> str:
    """The Accept-Encoding value: the codings that can be undone here."""
    optional = (("br", _brotli()), ("zstd", _zstandard()))
    return ", ".join(["gzip", "deflate", *(coding for coding, module in optional if module)])


def parse_codings(header: str) -> list[str]:
    """The codings of a Content-Encoding value in the order they were applied: lower-cased,
    x-gzip as gzip, identity left out; ContentCodingError if they cannot all be undone."""
    names = (part.strip().lower() for part in header.split(","))
    codings = [_ALIASES.get(name, name) for name in names if name and name != "identity"]
    if len(codings) > MAX_CODINGS:
        raise ContentCodingError(f"{len(codings)} content codings stacked ({short_repr(header)}); "
                                 f"at most {MAX_CODINGS} are undone")
    for coding in codings:
        if coding not in _STAGES:
            raise ContentCodingError(f"unsupported Content-Encoding {short_repr(coding)} (ingest "
                                     f"undoes {', '.join(_STAGES)})")
    return codings


class BodyDecoder:
    """Undoes ``content_encoding`` on a body fed in raw pieces as they arrive; no stage
    may give more than ``limit`` bytes (OverLimit)."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = parse_codings(content_encoding)
        self._stages = [_STAGES[c]() for c in reversed(codings)] or [_Identity()]
        self._limit = limit
        self._counts = [0] * (len(self._stages) + 1)  # the raw body, then each stage

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces ``raw`` gives, lazily: a piece is only decoded when the one
        before it has been taken, so a caller that stops early stops the work too."""
        pieces = self._counted(0, (raw,))
        for index, stage in enumerate(self._stages, 1):
            pieces = self._counted(index, _through(stage, pieces))
        return pieces

    def _counted(self, index: int, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self._counts[index] += len(piece)
            if self._counts[index] > self._limit:
                raise OverLimit(self._limit)
            yield piece


def _through(stage: _Stage, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from stage.feed(piece)


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data


class _Inflate:
    """gzip, or deflate: zlib-wrapped, else raw (told apart by the first two bytes)."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)  # a gzip or a zlib header
        self._head = b"" if coding == "deflate" else None  # kept until the header is known

    def feed(self, data: bytes) -> Iterator[bytes]:
        more = bool(data)
        while more and not self._zlib.eof:  # after the end: dropped, not kept in unused_data
            out = self._inflate(data)
            data = self._zlib.unconsumed_tail
            more = bool(data) or len(out) == PIECE  # a full piece may leave output in zlib
            if out:
                yield out

    def _inflate(self, data: bytes) -> bytes:
        if self._head is None:
            return self._decompress(data)
        self._head += data
        try:
            out = self._zlib.decompress(data, PIECE)
        except zlib.error:  # no zlib header: raw deflate, from its first byte
            head, self._head = self._head, None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._decompress(head)
        if len(self._head) >= 2:  # the zlib header is whole and valid
            self._head = None
        return out

    def _decompress(self, data: bytes) -> bytes:
        try:
            return self._zlib.decompress(data, PIECE)
        except zlib.error as exc:
            raise ContentCodingError(f"bad {self._coding} data: {exc}") from exc


class _Brotli:
    def __init__(self, brotli: ModuleType) -> None:
        self._decoder = brotli.Decompressor()
        self._error = brotli.error

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._process(data)
        while out:  # until the input is used up and nothing is left inside
            yield out
            out = self._process(b"")

    def _process(self, data: bytes) -> bytes:
        try:
            return self._decoder.process(data, output_buffer_limit=_BROTLI_LIMIT)
        except self._error as exc:
            raise ContentCodingError(f"bad br data: {exc}") from exc


class _Zstd:
    """zstd fed a few bytes at a time: its decompressobj has no output limit, but a block
    gives at most 128 KiB and takes at least 4 bytes, so a slice of input gives a
    bounded amount of output."""

    def __init__(self, zstandard: ModuleType) -> None:
        decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._decoder = decompressor.decompressobj(read_across_frames=True)
        self._error = zstandard.ZstdError

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = bytearray()  # slices mostly give nothing: gathered into whole pieces
        view = memoryview(data)
        for start in range(0, len(view), _ZSTD_SLICE):
            pending += self._decompress(view[start:start + _ZSTD_SLICE])
            while len(pending) >= PIECE:
                yield bytes(pending[:PIECE])
                del pending[:PIECE]
        if pending:
            yield bytes(pending)

    def _decompress(self, data: memoryview) -> bytes:
        try:
            return self._decoder.decompress(data)
        except self._error as exc:
            raise ContentCodingError(f"bad zstd data: {exc}") from exc


def _brotli() -> ModuleType | None:
    """The brotli module if installed and able to bound its output (>= 1.1), else None."""
    try:
        import brotli  # noqa: PLC0415  (optional: br is neither offered nor undone without it)
    except ImportError:
        return None
    return brotli if hasattr(brotli.Decompressor, "can_accept_more_data") else None


def _zstandard() -> ModuleType | None:
    try:
        import zstandard  # noqa: PLC0415  (optional, as brotli)
    except ImportError:
        return None
    return zstandard


def _required(module: ModuleType | None, package: str, coding: str) -> ModuleType:
    if module is None:
        raise ContentCodingError(f"Content-Encoding {coding} needs {package}, which is not "
                                 f"installed here (pip install '{package}')")
    return module


_STAGES: dict[str, Callable[[], _Stage]] = {
    "gzip": lambda: _Inflate("gzip"),
    "deflate": lambda: _Inflate("deflate"),
    "br": lambda: _Brotli(_required(_brotli(), "brotli>=1.1", "br")),
    "zstd": lambda: _Zstd(_required(_zstandard(), "zstandard", "zstd")),
}
