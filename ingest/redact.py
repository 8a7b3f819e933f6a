"""Keep the secrets of feed URLs out of what people and collectors read.

    redact_url(url)     for display (logs, status, errors, `ingest check`): the userinfo
                        and every query value become ``***``; scheme, host, path and
                        parameter names stay, so an operator still recognises the feed
    record_url(url)     for the record's ``feed_url``: the userinfo is dropped and the
                        values of parameters named like credentials (`is_credential_name`)
                        become ``***``; other parameters identify the feed and stay
    Redactor(urls)      ``redactor(text)``: each configured URL's secrets (the URL itself,
                        its userinfo, password and query values of 4 or more characters, in
                        the forms libraries print them) replaced anywhere in ``text``, and
                        the userinfo and credential parameters of any other URL too
    conninfo_secrets(c), describe_conninfo(c), mask_conninfo(c)   a libpq connection
                        string's (``state.url``) passwords, for a Redactor's ``secrets``; its
                        database as ``user@host:port/dbname``; itself with passwords ``***``

None of them raises on any text. No pattern here has an ambiguous repeat, and the
secrets are looked up by their first characters at word boundaries, so the work is
linear in the text whatever it holds; building a Redactor compiles no pattern per
feed, and a URL with nothing to hide (no userinfo, query or fragment) costs nothing.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"
MIN_SECRET = 4  # shorter values ("1", "rss", "it") are everywhere in text: not replaced alone

# Parameter names that carry credentials: compared lower-cased, "-" and "." read as "_".
CREDENTIAL_NAMES = frozenset({
    "key", "sig", "sid", "auth", "pass", "pwd", "jwt", "otp", "hmac", "session", "ticket",
})
CREDENTIAL_SUFFIXES = (
    "token", "secret", "password", "passwd", "apikey", "api_key", "_key", "signature", "_sig",
    "sessionid", "session_id", "sessid", "credential", "credentials", "auth",
)

# The userinfo of an http(s) or PostgreSQL URL in running text; a raw "@" inside a
# password is taken in too (as urlsplit does: the host follows the last "@").
_USERINFO_IN_TEXT = re.compile(r"(?i)(?<![a-z])((?:https?|postgres(?:ql)?)://)(?:[^\s/?#@]*+@)++")
# One name=value parameter of a query or fragment in running text.
_PARAM_IN_TEXT = re.compile(r"([?&;#])([^\s=&#?;\"'<>]++)=([^\s&#;\"'<>]*+)")
# Percent-escapes as httpx writes them (upper case) and as some servers echo them.
_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*+")
_SUB_DELIMS = "!$'()*+,;=:@~"  # kept as they are in userinfo and query values by some encoders
# An http(s) URL in running text, up to a space, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"(?i)(?<![a-z])https?://[^\s\"'<>]++")
_TRAILING = ".,:;!?)]}"  # sentence punctuation after a URL, not part of it


def is_credential_name(name: str) -> bool:
    """Whether a query parameter named ``name`` (raw or percent-encoded) holds a credential."""
    plain = unquote_plus(name).lower().replace("-", "_").replace(".", "_")
    return plain in CREDENTIAL_NAMES or plain.endswith(CREDENTIAL_SUFFIXES)


def redact_url(url: str) -> str:
    """``url`` with its userinfo and every query (and fragment) value replaced by ``***``."""
    head, userinfo, rest = _split_authority(url)
    return head + (MASK + "@" if userinfo is not None else "") + _map_params(rest, _mask_any)


def record_url(url: str) -> str:
    """``url`` without userinfo, with the values of credential-named parameters masked."""
    head, _userinfo, rest = _split_authority(url)
    return head + _map_params(rest, _mask_credential)


def _split_authority(url: str) -> tuple[str, str | None, str]:
    """``(scheme://, userinfo or None, host and the rest)``; no scheme: ``("", None, url)``."""
    scheme_end = url.find("://")
    if not _is_scheme(url[:max(scheme_end, 0)]):
        return "", None, url
    start = scheme_end + 3
    end = min((i for i in (url.find(c, start) for c in "/?#") if i >= 0), default=len(url))
    at = url.rfind("@", start, end)
    if at < 0:
        return url[:start], None, url[start:]
    return url[:start], url[start:at], url[at + 1:]


def _is_scheme(text: str) -> bool:
    bare = text.replace("+", "").replace("-", "").replace(".", "")
    return bare.isascii() and bare.isalnum() and text[:1].isalpha()


def _map_params(rest: str, mask: Callable[[str | None, str], str]) -> str:
    """``rest`` with each ``name=value`` of its query and fragment passed through ``mask``."""
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    out, tail = [rest[:cut]], rest[cut:]
    for part in re.split(r"([?&;#])", tail):
        if part in ("?", "&", ";", "#", ""):
            out.append(part)
        else:
            name, eq, value = part.partition("=")
            out.append(name + eq + mask(name, value) if eq else mask(None, part))
    return "".join(out)


def _mask_any(_name: str | None, value: str) -> str:
    return MASK if value else value


def _mask_credential(name: str | None, value: str) -> str:
    return MASK if value and name is not None and is_credential_name(name) else value


class Redactor:
    """Replaces the secrets of known URLs (and of any credential-bearing URL) in text.

    ``secrets`` are other values to hide wherever they appear (the ops server's token).
    A known URL found whole becomes its display form; a secret found alone becomes
    ``***`` when it is not part of a longer run of letters and digits. Building one
    is a few dictionaries (no pattern is compiled per feed), so every command can.
    """

    def __init__(self, urls: Iterable[str] = (), secrets: Iterable[str | None] = ()) -> None:
        self._urls: dict[str, str] = {}  # a known URL, as written or printed -> display form
        found: set[str] = set()
        for url in urls:
            found |= _add_url(self._urls, url)
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                found |= _forms(secret)
        self._by_prefix: dict[str, list[str]] = {}  # first MIN_SECRET chars -> longest first
        for secret in sorted(found, key=len, reverse=True):
            self._by_prefix.setdefault(secret[:MIN_SECRET], []).append(secret)
        self._starts = _start_pattern({s[0] for s in found}) if found else None

    def __call__(self, text: str) -> str:
        if self._urls:
            text = _URL_IN_TEXT.sub(self._known_url, text)
        if self._starts is not None:
            text = self._mask_secrets(text, self._starts)
        text = _USERINFO_IN_TEXT.sub(lambda m: m.group(1) + MASK + "@", text)
        return _PARAM_IN_TEXT.sub(_mask_param_in_text, text)

    def _known_url(self, m: re.Match) -> str:
        span = m.group()
        if span in self._urls:
            return self._urls[span]
        url = span.rstrip(_TRAILING)  # punctuation of the sentence around the URL
        shown = self._urls.get(url)
        return span if shown is None else shown + span[len(url):]

    def _mask_secrets(self, text: str, starts: re.Pattern) -> str:
        """Each secret that starts (where ``starts`` matches) and ends at a boundary,
        replaced left to right."""
        out, done = [], 0
        for m in starts.finditer(text):
            i = m.start()
            if i < done:
                continue
            for secret in self._by_prefix.get(text[i:i + MIN_SECRET], ()):
                end = i + len(secret)
                if text.startswith(secret, i) and not _is_alnum(text[end:end + 1]):
                    out += [text[done:i], MASK]
                    done = end
                    break
        out.append(text[done:])
        return "".join(out)


@functools.lru_cache(maxsize=4)
def redactor_for(urls: tuple[str, ...], secrets: tuple[str | None, ...] = ()) -> Redactor:
    """A shared Redactor for these URLs: /status builds the same one on every request."""
    return Redactor(urls, secrets)


def _mask_param_in_text(m: re.Match) -> str:
    lead, name, value = m.groups()
    core = value.rstrip(_TRAILING)
    if not core or core == MASK or not is_credential_name(name):
        return m.group()
    return f"{lead}{name}={MASK}{value[len(core):]}"


def _add_url(urls: dict[str, str], url: str) -> set[str]:
    """Put the URL's forms in ``urls`` (to its display form); return its secrets' forms."""
    if not any(c in url for c in "@?#"):  # most feeds: nothing to hide, nothing to do
        return set()
    head, userinfo, rest = _split_authority(url)
    # Libraries often print the URL without its userinfo, some with lower-case escapes.
    for form in {url, head + rest, _lower_escapes(url), _lower_escapes(head + rest)}:
        urls[form] = redact_url(form)
    pieces = [value for _name, value in _params(rest)]
    if userinfo:
        user, colon, password = userinfo.partition(":")
        plain = f"{unquote(user)}{colon}{unquote(password)}"
        pieces += [userinfo, password,  # and as a Basic Authorization header carries it
                   base64.b64encode(plain.encode("utf-8", "replace")).decode()]
    found: set[str] = set()
    for piece in pieces:
        if len(unquote_plus(piece)) >= MIN_SECRET:
            found |= _forms(piece)
    return found


def _params(rest: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def collect(name: str | None, value: str) -> str:
        found.append((name or "", value))
        return value

    _map_params(rest, collect)
    return found


def _forms(text: str) -> set[str]:
    """``text`` as written, decoded and re-encoded the ways HTTP libraries and servers
    do, with upper- and lower-case percent-escapes; forms shorter than MIN_SECRET are
    left out (they would match ordinary words)."""
    if _UNRESERVED.fullmatch(text):  # every encoding leaves it as it is
        return {text} if len(text) >= MIN_SECRET else set()
    forms = {text}
    for plain in {unquote(text), unquote_plus(text)}:
        forms |= {plain, quote(plain, safe=""), quote(plain, safe=_SUB_DELIMS),
                  quote_plus(plain, safe="")}
    forms |= {_lower_escapes(f) for f in forms}
    return {f for f in forms if len(f) >= MIN_SECRET}


def _lower_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: m.group().lower(), text)


def _is_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _start_pattern(first_chars: set[str]) -> re.Pattern:
    """Where a secret may start: a boundary (not after a letter or digit, or just after a
    percent-escape) before one of the secrets' first characters."""
    chars = "".join(sorted(re.escape(c) for c in first_chars))
    return re.compile(rf"(?:(?<![0-9A-Za-z])|(?<=%[0-9A-Fa-f]{{2}}))(?=[{chars}])")


# -- libpq connection strings (state.url): URL or key=value form ----------------------
_PASSWORD_KEYS = ("password", "sslpassword")


def _conninfo_params(conninfo: str) -> dict[str, str] | None:
    """libpq's reading of ``conninfo``; None if it cannot read it."""
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(conninfo).items()}
    except Error:
        return None


def conninfo_secrets(conninfo: str) -> tuple[str, ...]:
    """The passwords in ``conninfo``, as libpq reads them and as written in a URL."""
    params = _conninfo_params(conninfo) or {}
    _head, userinfo, _rest = _split_authority(conninfo)
    written = (userinfo or "").partition(":")[2]
    return tuple(sorted({written, *(params.get(k, "") for k in _PASSWORD_KEYS)} - {""}))


def describe_conninfo(conninfo: str) -> str:
    """``user@host:port/dbname``, libpq's defaults (and PG* variables) filling the gaps."""
    from psycopg import pq

    if (params := _conninfo_params(conninfo)) is None:
        return "a PostgreSQL database (connection string unreadable)"
    defaults = {o.keyword.decode(): (o.val or b"").decode() for o in pq.Conninfo.get_defaults()}
    user, host, port, dbname = (params.get(k) or defaults.get(k) or ""
                                for k in ("user", "host", "port", "dbname"))
    return f"{user}@{host or 'localhost'}:{port or 5432}/{dbname or user}"


def mask_conninfo(conninfo: str) -> str:
    """``conninfo`` with its passwords as ``***`` (a URL keeps its form; the key=value form
    is written again by libpq's rules); wholly ``***`` if libpq cannot read it."""
    from psycopg.conninfo import make_conninfo

    if (params := _conninfo_params(conninfo)) is None:
        return MASK
    head, userinfo, rest = _split_authority(conninfo)
    if not head:
        return make_conninfo(**{k: MASK if k in _PASSWORD_KEYS else v for k, v in params.items()})
    user, colon, _password = (userinfo or "").partition(":")
    shown = "" if userinfo is None else f"{user}{colon and ':' + MASK}@"
    return head + shown + _map_params(
        rest, lambda name, value: MASK if value and unquote(name or "") in _PASSWORD_KEYS else value)
