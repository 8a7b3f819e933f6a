"""Property tests of the dedup stage: any text, lone surrogates and every script included,
gives None or a well-formed fingerprint, the same one every time, within the profile's
deadline (bounded work), and a fingerprint is similar to itself only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.dedup.fingerprint import BANDS, NUM_PERM, fingerprint, similarity

pytestmark = pytest.mark.fuzz

_ANY_CHAR = st.characters(exclude_categories=())  # surrogates and unassigned too
_PIECES = ["新华社", "ผู้สื่อข่าว", "気象庁は", " ", "\n", "...", "2025", "e\u0301", "ＡＢＣ",
           "\ud800", "🙂", "word " * 40, "中" * 3000, "a" * 5000, ". " * 3000]
_TEXT = st.lists(st.one_of(st.text(_ANY_CHAR, max_size=30), st.sampled_from(_PIECES)),
                 max_size=12).map("".join)


@given(text=_TEXT, min_words=st.integers(0, 60))
def test_any_text_gives_none_or_a_well_formed_fingerprint(text, min_words):
    found = fingerprint(text, min_words)
    assert found == fingerprint(text, min_words)
    if found is None:
        return
    assert len(found.signature) == NUM_PERM * 4 and len(found.bands) == BANDS
    assert all(isinstance(b, int) and -(2**63) <= b < 2**63 for b in found.bands)
    assert similarity(found.signature, found.signature) == 1.0


@given(a=_TEXT, b=_TEXT)
def test_similarity_is_symmetric_and_bounded(a, b):
    fa, fb = fingerprint(a, 0), fingerprint(b, 0)
    if fa is None or fb is None:
        return
    s = similarity(fa.signature, fb.signature)
    assert 0.0 <= s <= 1.0 and s == similarity(fb.signature, fa.signature)
