"""urls: the equivalences of normalize_url (see its module docstring), article keys, ids."""

import hashlib

import pytest

from ingest.urls import article_key, key_id, normalize_url, site_of


@pytest.mark.parametrize("raw, expected", [
    ("https://www.ansa.it/a.html", "https://www.ansa.it/a.html"),
    ("HTTPS://WWW.ANSA.IT/Path/A.html", "https://www.ansa.it/Path/A.html"),
    ("https://x.it/a?utm_source=rss&utm_medium=feed", "https://x.it/a"),
    ("https://x.it/a?id=3&utm_campaign=z#section-2", "https://x.it/a?id=3"),
    ("https://x.it/a?fbclid=abc&gclid=def&id=1", "https://x.it/a?id=1"),
    ("https://x.it/a?UTM_Source=x", "https://x.it/a"),
    ("https://x.it/a?utm%5Fsource=x&b=1", "https://x.it/a?b=1"),
    ("http://x.it:80/a", "http://x.it/a"),
    ("https://x.it:443/a", "https://x.it/a"),
    ("http://x.it:8080/a", "http://x.it:8080/a"),
    ("http://x.it", "http://x.it/"),
    ("http://x.it./a", "http://x.it/a"),
    ("http://user:pw@x.it/a", "http://x.it/a"),
    ("  https://x.it/a  ", "https://x.it/a"),
    ("https://x.it/a?b=%20c&a=1", "https://x.it/a?b=%20c&a=1"),  # kept as written, in order
    ("https://x.it/a?b=c+d&&a=1", "https://x.it/a?b=c+d&a=1"),
    ("https://x.it/a?page=2&ref_id=7", "https://x.it/a?page=2&ref_id=7"),
    ("https://x.it/A%2Fb", "https://x.it/A%2Fb"),  # "/" is reserved: stays encoded
    # percent-encoding: hex upper-cased, unreserved characters decoded (RFC 3986 2.3)
    ("https://x.it/%7euser/a%2fb", "https://x.it/~user/a%2Fb"),
    ("https://x.it/%41%62%2D%2e%5F%7E%30", "https://x.it/Ab-._~0"),
    ("https://x.it/caf%c3%a9?q=%c3%a9&r=%7e", "https://x.it/caf%C3%A9?q=%C3%A9&r=~"),
    ("https://x.it/100%25/%zz", "https://x.it/100%25/%zz"),  # "%25" is "%"; "%zz" not an escape
    # dot segments (RFC 3986 5.2.4)
    ("https://x.it/a/./b/../c", "https://x.it/a/c"),
    ("https://x.it/a/b/c/./../../g", "https://x.it/a/g"),
    ("https://x.it/a/b/..", "https://x.it/a/"),
    ("https://x.it/a/.", "https://x.it/a/"),
    ("https://x.it/../../a", "https://x.it/a"),
    ("https://x.it/a/%2E%2E/b", "https://x.it/b"),  # decoded first, then resolved
    ("https://x.it/a/.../b/.x", "https://x.it/a/.../b/.x"),  # only "." and ".." are special
    # hosts: IDNA, IPv6 literals
    ("https://Bücher.DE/Straße", "https://xn--bcher-kva.de/Straße"),
    ("https://ＥＸＡＭＰＬＥ.com/a", "https://example.com/a"),  # full-width letters (UTS #46)
    ("http://i❤.ws/", "http://xn--i-7iq.ws/"),  # IDNA 2008 refuses it; IDNA 2003 does not
    ("http://XN--I-7IQ.ws/", "http://xn--i-7iq.ws/"),
    ("http://[::1]:80/a", "http://[::1]/a"),
    ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
])
def test_normalize_url(raw, expected):
    assert normalize_url(raw) == expected
    assert normalize_url(expected) == expected


@pytest.mark.parametrize("spellings", [
    ("https://www.ansa.it/story.html", "https://WWW.ansa.it/story.html?utm_source=tw#comments",
     "HTTPS://www.ansa.it:443/story.html", "https://www.ansa.it./story.html"),
    ("https://x.it/~u/a", "https://x.it/%7Eu/a", "https://x.it/%7eu/a", "https://x.it/%7e%75/%61"),
    ("https://x.it/a?q=%C3%A9", "https://x.it/a?q=%c3%a9"),
    ("https://x.it/a/c", "https://x.it/a/./b/../c", "https://x.it/a/b/%2E%2e/c"),
    ("http://bücher.de/a", "http://xn--bcher-kva.de/a", "http://BÜCHER.de/a", "http://bücher.de./a"),
    ("http://i❤.ws/", "http://xn--i-7iq.ws/"),
    ("http://x.it", "http://x.it/", "http://x.it:80/#top"),
])
def test_equivalent_spellings_are_one_article(spellings):
    keys = {article_key(link, f"guid-{i}") for i, link in enumerate(spellings)}
    assert len(keys) == 1, keys
    assert len({key_id(k) for k in keys}) == 1


@pytest.mark.parametrize("a, b", [
    ("https://x.it/A", "https://x.it/a"),  # path case
    ("https://x.it/a%2Fb", "https://x.it/a/b"),  # a reserved character encoded or not
    ("https://x.it/a?a=1&b=2", "https://x.it/a?b=2&a=1"),  # parameter order
    ("https://x.it/a?q=a+b", "https://x.it/a?q=a%20b"),  # "+" is a space only to some servers
    ("http://x.it/a", "https://x.it/a"),
    ("http://x.it/a", "http://x.it:8080/a"),
    ("https://x.it/a/", "https://x.it/a"),
    ("http://faß.de/", "http://fass.de/"),  # IDNA 2008 keeps ß (IDNA 2003 mapped it to ss)
])
def test_different_addresses_stay_apart(a, b):
    assert article_key(a, None) != article_key(b, None)


@pytest.mark.parametrize("link", [
    "http://example.com\uff03/a",  # full-width "#": urllib refuses the host (NFKC check)
    "http://[::1",  # an unclosed IPv6 literal
    "http://[x]/",  # not an IP address in brackets
    "http:///a", "http://./a", "http:foo",  # no host
])
def test_a_link_that_is_not_a_web_address_falls_back_to_the_guid(link):
    assert article_key(link, " g-1 ") == "guid:g-1"
    assert article_key(link, None) is None
    assert normalize_url(f" {link} ") == link  # returned as written, never raised


@pytest.mark.parametrize("link, guid, expected", [
    ("https://x.it/a", "g1", "https://x.it/a"),
    (None, "urn:uuid:1", "guid:urn:uuid:1"),
    ("tag:github.com,2008:1", "g2", "guid:g2"),  # not a web link: the GUID identifies it
    ("ftp://x.it/a", "g3", "guid:g3"),
    (None, None, None),
    ("", "  ", None),
])
def test_article_key(link, guid, expected):
    assert article_key(link, guid) == expected


# A record's id is key_id(article_key(link, guid)), as the pipeline claims entries. Ids are
# kept in the state file and written in every record: if the way they are made changed,
# every article already written would be taken for a new one. Hence literal digests.
ANSA = "https://www.ansa.it/sito/notizie/mondo/2024/05/01/articolo_123.html"
ANSA_ID = "9b7b763fa485993f0f43988898ae1863"


@pytest.mark.parametrize("link, guid, record_id", [
    (ANSA, None, ANSA_ID),
    (ANSA + "?utm_source=rss&utm_medium=feed#comments", "g-1", ANSA_ID),
    ("HTTPS://WWW.ANSA.IT:443/sito/notizie/mondo/2024/05/01/articolo_123.html", None, ANSA_ID),
    ("https://Bücher.DE/Straße", None, "1a607d85c24c2e988292e8fd1bf43fda"),
    ("https://xn--bcher-kva.de/Straße", None, "1a607d85c24c2e988292e8fd1bf43fda"),
    ("https://x.it/%7euser/a%2fb", None, "d0ac9245bc60c149230c26cd499b7580"),
    ("https://x.it/~user/a%2Fb", None, "d0ac9245bc60c149230c26cd499b7580"),
    (None, "urn:uuid:0b5a8c1e-7f3a-4d2b-9c1e-2f4a6b8d0e1f", "3355534ab2ce133599a2bfcf8b97f2d4"),
    ("tag:example.org,2024:entry-1", " urn:uuid:1 ", "f037dcd1b88364644c8c4a96a55059ad"),
], ids=["plain", "tracking-and-fragment", "upper-case-default-port", "idn", "idn-ascii",
        "percent-lower", "percent-decoded", "guid-only", "guid-for-a-non-web-link"])
def test_record_ids_are_pinned(link, guid, record_id):
    assert key_id(article_key(link, guid)) == record_id


@pytest.mark.parametrize("link, guid, hashed, record_id", [
    (ANSA + "?utm_source=rss#comments", None,
     b"https://www.ansa.it/sito/notizie/mondo/2024/05/01/articolo_123.html", ANSA_ID),
    ("https://Bücher.DE/Straße", None, b"https://xn--bcher-kva.de/Stra\xc3\x9fe",
     "1a607d85c24c2e988292e8fd1bf43fda"),
    (None, " urn:uuid:1 ", b"guid:urn:uuid:1", "f037dcd1b88364644c8c4a96a55059ad"),
], ids=["tracking-and-fragment", "idn", "guid-only"])
def test_a_record_id_is_128_bits_of_the_sha256_of_the_normalised_key(link, guid, hashed,
                                                                     record_id):
    """What is hashed: the normalised link, or "guid:" and the stripped GUID, in UTF-8."""
    assert article_key(link, guid).encode("utf-8") == hashed
    assert hashlib.sha256(hashed).hexdigest()[:32] == record_id
    assert key_id(article_key(link, guid)) == record_id


def test_a_lone_surrogate_has_an_id_of_its_own():
    assert key_id("guid:\ud800") != key_id("guid:\ufffd")


@pytest.mark.parametrize("url, site", [
    ("https://www.ansa.it/x", "ansa.it"),
    ("https://Ansa.IT/x", "ansa.it"),
    ("https://m.ansa.it/x", "m.ansa.it"),
    ("http://[::1", ""),
])
def test_site_of(url, site):
    assert site_of(url) == site
