"""Secrets kept out of the config file: ``${ENV_VAR}`` references in the values that take them.

A value that may hold a secret (a feed's headers, cookies, user_agent, username, password
and proxy; ``http.proxy``) may name an environment variable instead: ``${API_TOKEN}``
is replaced by its value when the config is loaded, anywhere in the text; ``$${``
stands for a literal ``${``. A variable that is not set is a config error naming the
key and the variable, never a silent empty value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ingest.config.source import BadValue, key_line

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]{0,199})\}|\$\{")


def expand(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with its ``${NAME}`` references replaced from ``env``: text, or the values
    of a mapping (each error then names its key). Anything else is returned as it is."""
    if isinstance(value, str):
        return _expand_text(value, env)
    if isinstance(value, Mapping):
        expanded = _Lined()
        expanded.lc = getattr(value, "lc", None)  # the lines of the keys, for later messages
        for name, item in value.items():
            try:
                expanded[name] = _expand_text(item, env) if isinstance(item, str) else item
            except BadValue as exc:
                raise BadValue(str(exc), f".{name}", key_line(value, name)) from None
        return expanded
    return value


class _Lined(dict):
    """A mapping that keeps the lines of the mapping it was made from."""

    lc: Any


def _expand_text(text: str, env: Mapping[str, str]) -> str:
    if "$" not in text:
        return text

    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            raise BadValue("'${' starts a reference to an environment variable, written "
                           "${NAME} (letters, digits, _); write $${ for a literal ${")
        if name not in env:
            raise BadValue(f"environment variable {name} (from ${{{name}}}) is not set; set "
                           "it, or write $${ for a literal ${")
        return env[name]
    return _REFERENCE.sub(replace, text)
