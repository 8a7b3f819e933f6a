"""X-Hub-Signature: parsed within bounds, every accepted method checked, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ingest.websub import signature
from ingest.websub.signature import MAX_HEADER, parse_signature, sign, signature_ok

SECRET = "s3cr3t-of-the-subscription"
BODY = b"<feed>pushed</feed>"


def _hmac(method: str, body: bytes = BODY, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()


@pytest.mark.parametrize("header, ok", [
    (f"sha1={_hmac('sha1')}", True),
    (f"sha256={_hmac('sha256')}", True),
    (f"sha384={_hmac('sha384')}", True),
    (f"sha512={_hmac('sha512')}", True),
    (f"SHA256={_hmac('sha256').upper()}", True),  # case of method and hex digits
    (f" sha256={_hmac('sha256')} ", True),
    (None, False),  # unsigned
    ("", False),
    (f"sha256={_hmac('sha256', secret='another secret')}", False),  # another secret
    (f"sha256={_hmac('sha256', body=BODY + b' ')}", False),  # another body
    (f"md5={hashlib.md5(BODY).hexdigest()}", False),  # unknown method
    (f"sha1024={_hmac('sha512')}", False),
    (f"sha256={_hmac('sha256')[:-1]}", False),  # odd length
    (f"sha256={_hmac('sha256')[:-2]}", False),  # a whole byte short
    (f"sha256={_hmac('sha256')}00", False),  # a byte too many
    (f"sha1={_hmac('sha256')}", False),  # another method's length
    (f"sha256={'g' * 64}", False),  # not hex
    (f"sha256={_hmac('sha256')[:-2]}+1", False),  # hex of fromhex's liking only
    (_hmac("sha256"), False),  # no method
    (f"sha256:{_hmac('sha256')}", False),
    ("sha256=" + "a" * MAX_HEADER, False),  # over the bound, refused before any parse
])
def test_a_signature_is_accepted_only_when_it_is_the_bodys_hmac(header, ok):
    assert signature_ok(header, SECRET, BODY) is ok


def test_sign_gives_what_the_check_accepts():
    for method in signature.METHODS:
        assert signature_ok(sign(SECRET, BODY, method), SECRET, BODY)


def test_parse_gives_method_and_digest():
    assert parse_signature(f"sha256={_hmac('sha256')}") == (
        "sha256", bytes.fromhex(_hmac("sha256")))
    assert parse_signature("sha256=" + " " * (MAX_HEADER + 1)) is None


def test_the_digests_are_compared_in_constant_time(monkeypatch):
    calls, original = [], hmac.compare_digest

    def compare(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", compare)
    assert signature_ok(sign(SECRET, BODY), SECRET, BODY)
    assert not signature_ok(sign("wrong", BODY), SECRET, BODY)
    assert len(calls) == 2
