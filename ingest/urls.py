"""Article identity: links normalised without network access, and stable ids."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Query parameters that only track the reader, never select the article.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|gclsrc|dclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl"
    r"|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|wt_mc|wt\.mc_id|ns_campaign"
    r"|ns_mchannel|ns_source|ns_linkname|ns_fee|rss|xtor|at_medium|at_campaign|cmpid"
    r"|ito|s_cid|sr_share|ocid)$",
    re.IGNORECASE,
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """Canonical form of a link for de-duplication.

    Lower-cases scheme and host, drops the default port, the fragment and
    tracking parameters; keeps everything else (path case, parameter order).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):  # IPv6 literal
        netloc = f"[{host}]" + (f":{port}" if port not in (None, DEFAULT_PORTS.get(scheme)) else "")
    # Filter the raw pairs so the kept ones stay byte-for-byte as the feed wrote them.
    query = "&".join(pair for pair in parts.query.split("&")
                     if pair and not _TRACKING.match(unquote_plus(pair.split("=", 1)[0])))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def site_of(url: str) -> str:
    """The site an article belongs to, for footer learning: host without ``www.``."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def article_key(link: str | None, guid: str | None) -> str | None:
    """The identity string of an entry: its normalised link, else its GUID."""
    if link and urlsplit(link).scheme in ("http", "https"):
        return normalize_url(link)
    if guid and guid.strip():
        return "guid:" + guid.strip()
    return None


def key_id(key: str) -> str:
    """Stable id of an identity string (128 bits of SHA-256, hex)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
