"""``INGEST_<SECTION>_<KEY>`` environment variables override config.yaml settings.

Text settings (``env="raw"`` in ingest.config.schema) are taken as is; the others
are read as one YAML scalar. A bad value is an error, and so is a variable for a
setting that may only be set in the file (``INGEST_FEEDS``,
``INGEST_FOOTERS_SITES``). Any other ``INGEST_*`` name is not an error but one
warning (logger ``ingest.config``) naming them all: Kubernetes puts
``INGEST_PORT``, ``INGEST_SERVICE_HOST``... into every pod when a Service is
named ``ingest`` (its "service links"), and an error would stop every start of
the pod. The warning offers "did you mean" for a likely typo and says which
names are service links. INGEST_CONFIG is read by the CLI and skipped here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ingest.config.schema import SECTION_FIELDS
from ingest.config.secrets import expand
from ingest.config.source import BadValue, RawSetting, closest_match, config_error
from ingest.config.yaml_reader import round_trip_reader, yaml_problem
from ingest.errors import ConfigError
from ingest.units import short_repr

log = logging.getLogger("ingest.config")

_ENV_PREFIX = "INGEST_"
_ENV_RESERVED = frozenset({"INGEST_CONFIG"})  # read by the CLI, not a setting
_ENV_NAMES = {f"{_ENV_PREFIX}{section.upper()}_{key.upper()}": (section, key)
              for section, schema in SECTION_FIELDS.items()
              for key, spec in schema.items() if spec.env}
_ENV_FILE_ONLY = {"INGEST_FEEDS": "feeds", "INGEST_FOOTERS_SITES": "footers.sites"}
_ENV_MEANT = frozenset({*_ENV_NAMES, *_ENV_RESERVED, *_ENV_FILE_ONLY})  # no warning for these
# What Kubernetes puts after a Service's name (upper case, '-' as '_'): _SERVICE_HOST,
# _SERVICE_PORT[_<port name>], _PORT[_<number>_<protocol>[_PROTO|_PORT|_ADDR]].
_SERVICE_LINK_START = re.compile(r"_(?=SERVICE_|PORT)")
_SERVICE_LINK_TAIL = re.compile(r"_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]++)?+"
                                r"|PORT(?:_\d++_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?+)?+)")
_SERVICE_LINK_VALUE = re.compile(r"(?:tcp|udp|sctp)://", re.IGNORECASE)
_LONGEST_NAME = 200  # characters of a variable name worth a hint


def apply_env_overrides(raws: dict[str, dict[str, RawSetting]], env: Mapping[str, str]) -> None:
    """Let ``INGEST_<SECTION>_<KEY>`` replace the file's ``section.key`` in ``raws``;
    other names are left to `warn_unknown_env`."""
    for name in sorted(env):
        if not name.startswith(_ENV_PREFIX):
            continue
        if name.upper() in _ENV_FILE_ONLY:
            raise ConfigError(f"env {name}: {_ENV_FILE_ONLY[name.upper()]} can only be set in "
                              "the config file; remove the variable and set it there")
        if name.upper() in _ENV_NAMES and not _is_service_link(name, env[name]):
            section, key = _ENV_NAMES[name.upper()]
            value = _env_value(name, env[name], section, key)
            raws[section][key] = RawSetting(value, f"env {name}", None, None)
    _expand_references(raws, env)


def _expand_references(raws: dict[str, dict[str, RawSetting]], env: Mapping[str, str]) -> None:
    """``${NAME}`` in the settings that take it, from the file or a variable alike."""
    for section, schema in SECTION_FIELDS.items():
        for key, spec in schema.items():
            raw = raws[section].get(key)
            if not spec.expand or raw is None:
                continue
            try:
                value = expand(raw.value, env)
            except BadValue as exc:
                raise config_error(raw.where, raw.line, f"{section}.{key}", str(exc)) from None
            raws[section][key] = RawSetting(value, raw.where, raw.line, raw.base)


def warn_unknown_env(env: Mapping[str, str]) -> None:
    """One warning naming every ``INGEST_*`` variable that sets nothing, if any."""
    unknown = [name for name in sorted(env) if name.startswith(_ENV_PREFIX) and (
        name.upper() not in _ENV_MEANT or _is_service_link(name, env[name]))]
    if unknown:
        log.warning("%s", unknown_env_message(unknown))


def unknown_env_message(names: Iterable[str]) -> str:
    """``config: ignoring unknown environment variables ...`` on one line."""
    links = {name: service for name in names if (service := _service_of_link(name))}
    others = [name for name in names if name not in links]
    parts = []
    if others:
        parts.append(f"ignoring unknown environment variables {', '.join(map(_hinted, others))}"
                     f": a setting's variable is {_ENV_PREFIX}<SECTION>_<KEY>")
    if links:
        services = ", ".join(sorted(set(links.values())))
        parts.append(f"ignoring {', '.join(links)}: Kubernetes service links of the Service "
                     f"{services}, which set nothing here (enableServiceLinks: false in the "
                     "pod spec leaves them out)")
    return "config: " + "; ".join(parts)


def _hinted(name: str) -> str:
    """``name``, with ``(did you mean INGEST_X?)`` if it is close to a setting's name."""
    if len(name) > _LONGEST_NAME:
        return short_repr(name)
    suffixes = [known[len(_ENV_PREFIX):] for known in _ENV_NAMES]
    near = closest_match(name[len(_ENV_PREFIX):].upper(), suffixes)
    return f"{name} (did you mean {_ENV_PREFIX}{near}?)" if near else name


def _service_of_link(name: str) -> str | None:
    """The Service whose Kubernetes link variable ``name`` looks like
    (``INGEST_PORT_8080_TCP`` -> ``ingest``), else None."""
    if len(name) > _LONGEST_NAME:
        return None
    for start in _SERVICE_LINK_START.finditer(name):
        if _SERVICE_LINK_TAIL.fullmatch(name, start.start()):
            return name[:start.start()].lower().replace("_", "-")
    return None


def _is_service_link(name: str, value: str) -> bool:
    """A Service named ``ingest-server`` puts ``INGEST_SERVER_PORT=tcp://…`` into the pod:
    the name of a setting, with a value meant for nobody here."""
    return _service_of_link(name) is not None and _SERVICE_LINK_VALUE.match(value) is not None


def _env_value(name: str, text: str, section: str, key: str) -> Any:
    """Text settings are taken as is; others are read as one YAML scalar."""
    if SECTION_FIELDS[section][key].env == "raw":
        return text
    try:
        value = round_trip_reader().load(text)
    except Exception as exc:  # a YAMLError, or the library's own failure
        _, problem = yaml_problem(exc)
        raise ConfigError(f"env {name}: {section}.{key}: expected a single value, "
                          f"got {short_repr(text)} ({problem})") from exc
    if isinstance(value, (dict, list)):
        raise ConfigError(f"env {name}: {section}.{key}: expected a single value, "
                          f"got {short_repr(text)}")
    return value
