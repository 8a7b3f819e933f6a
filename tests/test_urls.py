"""urls: the equivalences of normalize_url (see its module docstring), article keys, ids."""

import subprocess
import sys

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


def test_key_ids_do_not_depend_on_the_process():
    """Ids are stored in the state file: another interpreter (another hash seed) must
    compute the same ones, and different keys must get different ids."""
    keys = ["https://x.it/a", "https://x.it/b", "guid:urn:uuid:1", "https://bücher.de/ä"]
    script = ("import sys; from ingest.urls import key_id; "
              "print(' '.join(key_id(k) for k in sys.argv[1:]))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script, *keys], capture_output=True,
                             text=True, check=True, env={"PYTHONHASHSEED": seed}).stdout
        assert out.split() == [key_id(k) for k in keys]
    ids = [key_id(k) for k in keys]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)


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
