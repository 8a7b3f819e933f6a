"""The ``X-Hub-Signature`` of a WebSub delivery: parsed within bounds, checked in constant time.

A hub signs each delivery's body with the subscription's secret: ``X-Hub-Signature:
sha256=<hex HMAC(secret, body)>`` (sha1, sha384 and sha512 are accepted too). The header
is untrusted: its length is checked before anything else, the method must be one of the
four, and the digest exactly that method's length in hex digits. A missing, malformed or
wrong signature is the same answer for the caller: not signed by our hub.
"""

from __future__ import annotations

import hashlib
import hmac
import string

METHODS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
           "sha512": hashlib.sha512}
MAX_HEADER = 7 + 128 + 16  # "sha512=" + its hex digest, and some room for blanks
_HEX = frozenset(string.hexdigits)


def parse_signature(header: str | None) -> tuple[str, bytes] | None:
    """``(method, digest)`` from an ``X-Hub-Signature`` value; None when there is none or
    it is not ``method=hex`` with a known method and a digest of that method's length."""
    if not header or len(header) > MAX_HEADER:
        return None
    method, sep, digest = header.strip().partition("=")
    method = method.strip().lower()
    digest = digest.strip()
    if not sep or method not in METHODS:
        return None
    if len(digest) != 2 * METHODS[method]().digest_size or not _HEX.issuperset(digest):
        return None
    return method, bytes.fromhex(digest)


def signature_ok(header: str | None, secret: str, body: bytes) -> bool:
    """True when ``header`` is a valid signature of ``body`` with ``secret``."""
    parsed = parse_signature(header)
    if parsed is None:
        return False
    method, digest = parsed
    expected = hmac.new(secret.encode(), body, METHODS[method]).digest()
    # compare_digest: the time taken tells nothing about how much of a forgery was right
    return hmac.compare_digest(expected, digest)


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value a hub sends for ``body`` (for tests and tools)."""
    return f"{method}={hmac.new(secret.encode(), body, METHODS[method]).hexdigest()}"
