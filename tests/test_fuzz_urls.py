"""Property tests of the URL keys: no string breaks them, and the documented equivalences
(ingest/urls.py's docstring) hold for generated addresses and their respellings."""

from __future__ import annotations

import string

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.urls import article_key, key_id, normalize_url

pytestmark = pytest.mark.fuzz

# Characters that make urllib and IDNA work: delimiters, brackets, percent signs,
# full-width and compatibility forms, dots, controls, surrogates.
_TRICKY = "/?#@:[]%.-_~+&=;\\ \t\n\x00\uff03\uff0f\u2100\u3002\ufe52ß❤İ\ud800\U0001f600"
_URLISH = st.text(alphabet=st.sampled_from(string.ascii_letters + string.digits + _TRICKY),
                  max_size=60)


def _anything_like_a_link():
    prefix = st.sampled_from(["", "http://", "https://", "HTTP://", "//", "http:", "tag:",
                              "http://[", "https://[::1]", "http://xn--"])
    return st.one_of(st.text(max_size=80), st.builds(str.__add__, prefix, _URLISH))


@given(link=_anything_like_a_link(), guid=st.one_of(st.none(), st.text(max_size=20)))
def test_no_string_breaks_the_keys(link, guid):
    normalized = normalize_url(link)
    assert normalize_url(normalized) == normalized  # idempotent
    key = article_key(link, guid)
    assert key is None or key.startswith(("http://", "https://", "guid:"))
    if key is not None:
        assert len(key_id(key)) == 32


# A web address from parts; then spellings of it that the docstring calls equal.
_LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8)
_IDN_LABEL = st.text(alphabet="abcäöüéñçø", min_size=1, max_size=8)
_SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$'()*,;=@",
                   min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-._~", max_size=6)


@st.composite
def addresses(draw):
    scheme = draw(st.sampled_from(["http", "https"]))
    labels = draw(st.lists(st.one_of(_LABEL, _IDN_LABEL), min_size=1, max_size=3))
    host = ".".join([*labels, draw(st.sampled_from(["it", "com", "de"]))])
    if not idna_ok(host):
        host = "x.it"
    segments = draw(st.lists(_SEGMENT, max_size=4))
    pairs = draw(st.lists(st.tuples(_LABEL.map("p{}".format), _VALUE), max_size=3))
    return scheme, host, segments, pairs


def idna_ok(host: str) -> bool:
    try:
        idna.encode(host, uts46=True)
    except idna.IDNAError:
        return False
    return True


def _build(scheme, host, segments, pairs, port="", fragment=""):
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return (f"{scheme}://{host}{port}/" + "/".join(segments)
            + (f"?{query}" if query else "") + fragment)


@st.composite
def respelled(draw, address):
    """``address`` written another way: case, ports, escapes, dot segments, tracking, #."""
    scheme, host, segments, pairs = address
    scheme = "".join(c.upper() if draw(st.booleans()) else c for c in scheme)
    host = draw(st.sampled_from([host, host.upper(), host + ".",
                                 idna.encode(host, uts46=True).decode()]))
    port = draw(st.sampled_from(["", {"http": ":80", "https": ":443"}[scheme.lower()]]))
    spelled = [_escape_some(draw, segment) for segment in segments]
    if spelled and draw(st.booleans()):  # a detour before a segment resolves to nothing
        at = draw(st.integers(0, len(spelled) - 1))
        spelled[at:at] = [draw(st.sampled_from([".", "%2E", "detour/..", "d/%2e%2E"]))]
    pairs = [(k, _escape_some(draw, v)) for k, v in pairs]
    tracking = draw(st.lists(st.tuples(st.sampled_from(["utm_source", "fbclid", "UTM_Medium"]),
                                       _VALUE), max_size=2))
    for pair in tracking:
        pairs.insert(draw(st.integers(0, len(pairs))), pair)
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?b=c"]))
    return _build(scheme, host, spelled, pairs, port, fragment)


def _escape_some(draw, text: str) -> str:
    """Percent-encode some unreserved characters, in either hex case."""
    out = []
    for char in text:
        if char in string.ascii_letters + string.digits + "-._~" and draw(st.booleans()):
            hex_ = f"{ord(char):02X}"
            out.append("%" + (hex_.lower() if draw(st.booleans()) else hex_))
        else:
            out.append(char)
    return "".join(out)


@given(data=st.data(), address=addresses())
def test_equivalent_spellings_give_the_same_key(data, address):
    canonical = _build(*address)
    variant = data.draw(respelled(address))
    assert article_key(variant, None) == article_key(canonical, None), (variant, canonical)
    assert key_id(article_key(variant, None)) == key_id(article_key(canonical, None))
