"""Every outcome of a fetch, classified: a FetchResult, or one of ingest.errors' FetchErrors.

The fetch stage decides here and nowhere else what a status code, a library exception or
a refused URL means (``classify_response``, ``translate_error``, ``check_url``); callers
read the error's kind, never a status code:

    2xx                              FetchResult
    304                              NotModified
    404 / 410 / other 4xx            PermanentFetchError  http_<code>
    408 / 425 / 5xx                  TransientFetchError  http_<code>
    429, or 503 with Retry-After     HostBackoff          the host is left alone until then
    timeouts in a row from a host    HostBackoff          the host is left alone a while
      (ingest.fetch.hosts)
    redirect loop, too many hops     PermanentFetchError  too_many_redirects
    deadline (cfg.timeout) passed    TransientFetchError  timeout
    connect / read / protocol error  TransientFetchError  connection
    host name does not resolve       TransientFetchError  dns
    private address, on any hop      PermanentFetchError  private_address
    not an http(s) URL, or a host    PermanentFetchError  bad_url
      name that is not valid IDNA
    body over its cap (decoded, or   PermanentFetchError  too_large
      any layer of its codings)
    page that is not HTML/XML        PermanentFetchError  not_html
    body that does not decode, or    PermanentFetchError  decoding
      an unknown Content-Encoding
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping

import httpx

from ingest.config.model import HttpConfig
from ingest.errors import FetchError, HostBackoff, NotModified, PermanentFetchError, TransientFetchError
from ingest.fetch.netguard import AddressRefused, NetguardError
from ingest.urls import DEFAULT_PORTS

DEFAULT_RETRY_AFTER = 60.0  # seconds, for a 429 that does not say
MAX_RETRY_AFTER = 86400.0  # a server cannot park a host for more than a day
_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or HTTP-date), capped; None if absent."""
    value = (value or "").strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _server_now(headers: Mapping[str, str], now: float) -> float:
    """The server's idea of now (its Date header), so HTTP-date waits ignore clock skew."""
    try:
        return email.utils.parsedate_to_datetime(headers.get("date", "")).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return now


def classify_response(url: str, status: int, headers: Mapping[str, str],
                      now: float) -> FetchError | None:
    """The error a response means, or None for 2xx. ``now``: wall-clock epoch seconds."""
    if 200 <= status < 300:
        return None
    if status == 304:
        return NotModified(f"{url}: not modified (HTTP 304)", url=url)
    retry = parse_retry_after(headers.get("retry-after"), _server_now(headers, now))
    if status == 429 or (status == 503 and retry is not None):
        seconds = DEFAULT_RETRY_AFTER if retry is None else retry
        note = "" if retry is not None else ", by default"
        return HostBackoff(f"{url}: HTTP {status} (retry after {seconds:.0f}s{note})",
                           url=url, retry_after=seconds)
    kind = f"http_{status}"
    if status in (408, 425) or 500 <= status < 600:
        return TransientFetchError(f"{url}: HTTP {status}", url=url, kind=kind)
    return PermanentFetchError(f"{url}: HTTP {status}", url=url, kind=kind)


def translate_error(url: str, exc: BaseException, cfg: HttpConfig) -> FetchError:
    """The FetchError for a library exception raised while fetching ``url``."""
    if isinstance(exc, NetguardError):
        hop = "" if exc.url == url else f" redirect to {exc.url}"
        if isinstance(exc, AddressRefused):
            return PermanentFetchError(f"{url}:{hop} refused: {exc}", url=url,
                                       kind="private_address")
        return TransientFetchError(f"{url}:{hop} {exc}", url=url, kind="dns")
    if isinstance(exc, httpx.TooManyRedirects):
        return PermanentFetchError(f"{url}: too many redirects (a loop, or more than "
                                   f"{cfg.max_redirects})", url=url, kind="too_many_redirects")
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return TransientFetchError(f"{url}: timed out after {cfg.timeout:g}s", url=url,
                                   kind="timeout")
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return PermanentFetchError(f"{url}: bad URL: {_describe(exc)}", url=url, kind="bad_url")
    if isinstance(exc, UnicodeError):  # ``url`` itself was checked: a redirect's host
        return PermanentFetchError(f"{url}: bad URL: a redirect went to a host name that is "
                                   f"not valid IDNA ({_describe(exc)})", url=url, kind="bad_url")
    if isinstance(exc, httpx.DecodingError):
        return PermanentFetchError(f"{url}: body does not decode: {_describe(exc)}", url=url,
                                   kind="decoding")
    return TransientFetchError(f"{url}: connection failed: {_describe(exc)}", url=url,
                               kind="connection")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def is_page_type(content_type: str) -> bool:
    """True for HTML, XHTML and XML-ish media types, and for a missing type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or media in _PAGE_TYPES:
        return True
    return media.endswith("+xml") and not media.startswith(("image/", "audio/", "video/"))


def check_url(url: str) -> httpx.URL:
    """``url`` parsed, or PermanentFetchError(bad_url) unless it is an http(s) URL whose
    host httpx can use."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # an IDNA host is decoded here, as httpx does for every request
    except (httpx.InvalidURL, TypeError, ValueError) as exc:  # ValueError: UnicodeError too
        raise PermanentFetchError(f"{url}: bad URL: {_describe_url_error(exc)}", url=url,
                                  kind="bad_url") from exc
    if parsed.scheme not in DEFAULT_PORTS or not host:
        raise PermanentFetchError(f"{url}: bad URL: not an http(s) URL", url=url, kind="bad_url")
    return parsed


def _describe_url_error(exc: BaseException) -> str:
    if isinstance(exc, UnicodeError):  # idna's errors: a host httpx cannot send a request to
        return f"the host name is not valid IDNA ({_describe(exc)})"
    return _describe(exc)


def too_large(url: str, cap: int) -> PermanentFetchError:
    return PermanentFetchError(f"{url}: body larger than {cap} bytes", url=url, kind="too_large")


def not_a_page(url: str, content_type: str) -> PermanentFetchError:
    return PermanentFetchError(f"{url}: not a web page ({content_type})", url=url, kind="not_html")


def undecodable(url: str, exc: Exception) -> PermanentFetchError:
    """For a body whose Content-Encoding cannot be undone (``exc`` says why)."""
    return PermanentFetchError(f"{url}: body does not decode: {exc}", url=url, kind="decoding")
