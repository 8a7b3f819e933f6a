"""Fuzzing the body decoder (ingest.fetch.content_coding), alone and through HttpClient.

Any Content-Encoding header and any body, valid, cut short, corrupted, stacked or a bomb,
gives either the body's bytes (the very bytes encoded, when the input was valid) or a
FetchError saying ``too_large`` or ``decoding``; never another exception, and always
within the hypothesis profile's deadline (bounded work).

Bodies reach the client over httpx.MockTransport as a stream of raw pieces, as from the
network: a response built with ``content=`` would be decoded by httpx itself.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from functools import cache

import brotli
import httpx
import pytest
import zstandard
from hypothesis import event, given
from hypothesis import strategies as st

from helpers.faultserver import gzip_bomb, zstd_bomb
from ingest.config.model import HttpConfig
from ingest.errors import FetchError
from ingest.fetch.client import HttpClient
from ingest.fetch.content_coding import MAX_CODINGS, BodyDecoder, ContentCodingError, OverLimit

pytestmark = pytest.mark.fuzz

CAP = 200_000
ENCODERS = {
    "gzip": lambda data: gzip.compress(data, 6),
    "deflate": zlib.compress,
    "raw-deflate": lambda data: zlib.compress(data)[2:-4],  # sent as "deflate"
    "br": lambda data: brotli.compress(data, quality=4),
    "zstd": zstandard.ZstdCompressor().compress,
}
SENT_AS = {"raw-deflate": "deflate"}


@cache
def bombs() -> dict[str, bytes]:
    """Small inputs that decode far past CAP, with the coding that undoes them."""
    return {"gzip": gzip_bomb(16), "zstd": zstd_bomb(),
            "br": brotli.compress(bytes(16 << 20), quality=1)}


async def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


class Chunks(httpx.AsyncByteStream):
    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    async def __aiter__(self):
        for start in range(0, len(self.data), self.size):
            yield self.data[start:start + self.size]


def fetched(data: bytes, header: bytes, chunk: int) -> bytes:
    """The content HttpClient gives for ``data`` sent with Content-Encoding ``header``."""
    chunk = max(chunk, len(data) // 2000)  # one-byte reads of a big body only cost time

    def handler(request):
        return httpx.Response(200, headers=[(b"Content-Encoding", header)],
                              stream=Chunks(data, chunk))

    async def main() -> bytes:
        async with HttpClient(HttpConfig(per_host_delay=0.0, max_page_bytes=CAP, robots=False),
                              transport=httpx.MockTransport(handler), resolver=_public) as http:
            return (await http.fetch_page("https://n.example/a")).content

    return asyncio.run(main())


bodies = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda word, n: word * n, st.binary(min_size=1, max_size=20),
              st.integers(1, 12_000)),  # compressible, up to past CAP
    st.integers(CAP - 2, CAP + 2).map(bytes),  # at the cap
)
codings = st.lists(st.sampled_from(sorted(ENCODERS)), max_size=MAX_CODINGS + 1)
spelled = st.builds(lambda name, upper, pad: (name.upper() if upper else name).center(pad),
                    st.sampled_from(["identity"]), st.booleans(), st.integers(0, 12))


@st.composite
def valid_bodies(draw):
    """(body, the bytes sent, Content-Encoding, the size of every layer of the encoding)"""
    body = draw(bodies)
    applied = draw(codings)
    data, sizes, names = body, [len(body)], []
    for coding in applied:
        data = ENCODERS[coding](data)
        sizes.append(len(data))
        names.append(SENT_AS.get(coding, coding))
        if draw(st.booleans()):
            names.append(draw(spelled))  # identity, in any case and padding: no layer
    header = ",".join(draw(st.sampled_from([n, n.upper(), f" {n} "])) for n in names)
    if "gzip" in names and draw(st.booleans()):
        header = header.replace("gzip", "x-gzip", 1)
    return body, data, header, sizes, len(applied)


@given(case=valid_bodies(), chunk=st.integers(1, 70_000))
def test_a_valid_body_decodes_to_its_bytes_or_is_refused_as_documented(case, chunk):
    body, data, header, sizes, layers = case
    try:
        content = fetched(data, header.encode(), chunk)
    except FetchError as exc:
        event(f"refused: {exc.kind}")
        expected = "decoding" if layers > MAX_CODINGS else "too_large"
        assert exc.kind == expected, exc
        assert layers > MAX_CODINGS or max(sizes) > CAP
    else:
        event(f"decoded: {layers} layers")
        assert layers <= MAX_CODINGS and max(sizes) <= CAP
        assert content == body


@st.composite
def damaged_bodies(draw):
    """(bytes sent, Content-Encoding): a valid or bomb body, then cut, flipped or extended."""
    if draw(st.booleans()):
        coding = draw(st.sampled_from(sorted(bombs())))
        data, names = bombs()[coding], [coding]
    else:
        applied = draw(st.lists(st.sampled_from(sorted(ENCODERS)), min_size=1, max_size=2))
        data, names = draw(bodies), []
        for coding in applied:
            data = ENCODERS[coding](data)
            names.append(SENT_AS.get(coding, coding))
    for coding in draw(st.lists(st.sampled_from(sorted(ENCODERS)), max_size=2)):
        data = ENCODERS[coding](data)  # stacked on top, a bomb included
        names.append(SENT_AS.get(coding, coding))
    damage = draw(st.sampled_from(["cut", "flip", "extend", "none"]))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if damage == "cut":
        data = data[:at]
    elif damage == "flip" and data:
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    elif damage == "extend":
        data += draw(st.binary(min_size=1, max_size=2000))
    return data, ", ".join(names)


@given(case=damaged_bodies(), chunk=st.integers(1, 70_000))
def test_a_damaged_body_gives_bytes_or_a_decoding_error(case, chunk):
    data, header = case
    try:
        content = fetched(data, header.encode(), chunk)
    except FetchError as exc:
        event(f"refused: {exc.kind}")
        assert exc.kind in ("too_large", "decoding"), exc
    else:
        event("decoded")
        assert len(content) <= CAP


HEADER_WORDS = ["gzip", "x-gzip", "deflate", "br", "zstd", "identity", "", " ", "GZip",
                "compress", "x-zstd", ";q=1", "gzip;q=0"]
headers = st.one_of(st.text(max_size=80),
                    st.lists(st.sampled_from(HEADER_WORDS), max_size=6).map(",".join))


@given(header=headers, data=st.binary(max_size=2000))
def test_any_header_and_bytes_give_bytes_or_the_decoders_own_errors(header, data):
    try:
        decoder = BodyDecoder(header, CAP)
        half = len(data) // 2
        pieces = list(decoder.feed(data[:half])) + list(decoder.feed(data[half:]))
    except (ContentCodingError, OverLimit):
        return
    assert sum(map(len, pieces)) <= CAP
