"""Article identity: links normalised without network access, and stable ids.

Two links are the same article when their normalised forms are equal. `normalize_url`
treats these spellings of a web address (one with a host) as equal:

- scheme and host in any case (``HTTPS://WWW.Site.IT`` is ``https://www.site.it``);
- a host with or without its trailing dot;
- an internationalised host and its ASCII ``xn--`` form: non-ASCII hosts are written
  in the ``xn--`` form (IDNA 2008 with UTS #46 mapping, as browsers do; IDNA 2003 where
  IDNA 2008 refuses the name, e.g. ``i❤.ws``); a host neither accepts stays lower-cased;
- the scheme's default port written or not (``:80`` for http, ``:443`` for https);
- with or without a fragment (``#comments``);
- with or without tracking parameters (``utm_*``, ``fbclid``...); the other query
  parameters keep their order and spelling;
- percent-encodings in any hex case (``%7e`` is ``%7E``), and an unreserved character
  percent-encoded or not (``%7E`` is ``~``, ``%41`` is ``A``; RFC 3986 2.3), in the path
  and the query;
- dot segments (``/a/./b/../c`` is ``/a/c``; RFC 3986 5.2.4);
- no path and ``/``.

Userinfo (``user:pw@``) is dropped. Everything else is kept as written: path case, the
other percent-encodings, ``+`` signs in the query. A string that is not a web address with a host (no
host, a malformed IPv6 literal, a host that urllib refuses) comes back stripped and
otherwise unchanged; `article_key` then identifies the entry by its GUID instead.
"""

from __future__ import annotations

import hashlib
import re
import string
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

import idna

# Query parameters that only track the reader, never select the article.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|gclsrc|dclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl"
    r"|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|wt_mc|wt\.mc_id|ns_campaign"
    r"|ns_mchannel|ns_source|ns_linkname|ns_fee|rss|xtor|at_medium|at_campaign|cmpid"
    r"|ito|s_cid|sr_share|ocid)$",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_MAX_HOST = 253  # DNS's limit: a longer "host" is not a name IDNA should spend time on
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """Canonical form of a link for de-duplication (the equivalences are listed above).

    Never raises: a string that is not a web address with a host comes back stripped.
    """
    return _normalized(url) or url.strip()


def _normalized(url: str) -> str | None:
    """The canonical form, or None when ``url`` has no host urllib can read."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname  # validates bracketed IPv6 literals, raises on bad ones
    except ValueError:
        return None
    # The trailing dot goes after IDNA too, which maps "。" (and its kin) to ".".
    host = _ascii_host((host or "").rstrip(".")).rstrip(".")
    if not host:
        return None
    scheme = parts.scheme.lower()
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    port = _port(parts)
    if port not in (None, DEFAULT_PORTS.get(scheme)):
        netloc = f"{netloc}:{port}"
    path = _remove_dot_segments(_normalize_percent(parts.path)) or "/"
    return urlunsplit((scheme, netloc, path, _kept_query(parts.query), ""))


def _ascii_host(host: str) -> str:
    """A lower-cased host, non-ASCII names in their IDNA ``xn--`` form."""
    host = host.lower()
    if host.isascii() or len(host) > _MAX_HOST:
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one; the name is outside IDNA 2008
        pass
    try:
        return host.encode("idna").decode("ascii")  # IDNA 2003: wider (symbols, emoji)
    except UnicodeError:
        return host


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # not a number, or out of range: not a port we can keep
        return None


def _kept_query(query: str) -> str:
    """The query without tracking parameters; kept pairs stay in order, as written
    (but for the percent-encoding normalisation)."""
    return "&".join(_normalize_percent(pair) for pair in query.split("&")
                    if pair and not _TRACKING.match(unquote_plus(pair.split("=", 1)[0])))


def _normalize_percent(text: str) -> str:
    """Upper-case hex in percent-encodings; decode those of unreserved characters."""
    return _PERCENT.sub(_percent_octet, text) if "%" in text else text


def _percent_octet(match: re.Match) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 on an absolute path: ``.`` and ``..`` segments resolved."""
    if not path.startswith("/") or "." not in path:
        return path
    segments = path.split("/")[1:]
    kept: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
            continue
        if last:  # "/a/b/.." is "/a/": the directory, with its slash
            kept.append("")
    return "/" + "/".join(kept)


def site_of(url: str) -> str:
    """The site an article belongs to, for footer learning: host without ``www.``."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed IPv6 literal: no site to learn for
        return ""
    return without_www(host)


def without_www(host: str) -> str:
    """A host as one site: ``www.ansa.it`` and ``ansa.it`` are the same site."""
    return host.removeprefix("www.")


def article_key(link: str | None, guid: str | None) -> str | None:
    """The identity string of an entry: its normalised web link, else its GUID.

    A link that is not an http(s) address with a host (a tag: URI, a malformed IPv6
    literal...) does not identify the entry; its GUID does, if it has one.
    """
    key = _normalized(link) if link else None
    if key and key.startswith(("http://", "https://")):
        return key
    if guid and guid.strip():
        return "guid:" + guid.strip()
    return None


def key_id(key: str) -> str:
    """Stable id of an identity string (128 bits of SHA-256, hex)."""
    # surrogatepass: a lone surrogate (from a broken feed) still has an id; every other
    # string encodes exactly as in UTF-8, so its id stays the one pinned by tests/test_urls.py.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
