"""The effective settings made safe to print (``ingest check``): passwords, cookie values,
the values of credential-like headers and a proxy's password as ``***``. A feed's request
settings are shown as the file writes them (its keys, only those set).

No YAML here: ingest.config.model, which pure code imports, uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import fields

from ingest.config.proxy_url import masked_proxy, parse_proxy
from ingest.models import Feed
from ingest.redact import MASK

# A header whose name says it carries a credential; its value is never shown.
_SECRET_HEADER = re.compile(r"(?i)cookie|auth|token|key|secret|session|passw|signature|cred")


# Left out when at their defaults, as the file leaves them.
_FEED_DEFAULTS = tuple((f.name, f.default) for f in fields(Feed)
                       if f.name in ("fetch_pages", "type", "feed_content"))


def mask_secrets(plain: dict) -> dict:
    """The effective settings (`ingest.config.model.effective_config`), secrets as ``***``."""
    http = plain.get("http", {})
    if http.get("proxy") is not None:
        http["proxy"] = shown_proxy(http["proxy"])
    for feed in plain.get("feeds", ()):
        access = feed.pop("access", None)
        if isinstance(access, dict):
            feed.update(masked_access(access))
        for key, default in _FEED_DEFAULTS:
            if key in feed and feed[key] == default:
                del feed[key]
    return plain


def masked_access(access: dict) -> dict:
    """A feed's plain ``access`` as the file writes it (mappings; only the settings given),
    secrets masked."""
    shown = {key: value for key, value in access.items() if value}
    if "headers" in shown:
        shown["headers"] = {name: MASK if _SECRET_HEADER.search(name) else value
                            for name, value in shown["headers"]}
    if "cookies" in shown:
        shown["cookies"] = {name: MASK for name, _ in shown["cookies"]}
    if "password" in shown:
        shown["password"] = MASK
    if "proxy" in shown:
        shown["proxy"] = shown_proxy(shown["proxy"])
    return shown


def shown_proxy(value: str) -> str:
    """A proxy URL with its password as ``***``."""
    try:
        return parse_proxy(value).masked
    except ValueError:
        return masked_proxy(value)


def access_secrets(feeds: Iterable[Feed], proxy: str | None) -> tuple[str, ...]:
    """Every secret of the feeds' request settings and of ``proxy`` (``http.proxy``), in
    the forms they travel in (a Basic credential base64-encoded too): for a log
    `ingest.redact.Redactor`'s ``secrets``, so that no log line shows one."""
    found = [_proxy_password(proxy)]
    for feed in feeds:
        access = feed.access
        found += [value for _, value in access.cookies]
        found += [value for name, value in access.headers if _SECRET_HEADER.search(name)]
        found += [access.password, _proxy_password(access.proxy), access.basic_credential]
    return tuple(dict.fromkeys(secret for secret in found if secret))


def _proxy_password(text: str | None) -> str | None:
    try:
        return None if text is None else parse_proxy(text).password
    except ValueError:
        return None
