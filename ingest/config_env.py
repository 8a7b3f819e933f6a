"""``INGEST_<SECTION>_<KEY>`` environment variables override config.yaml settings.

Text settings (``env="raw"`` in config_schema.py) are taken as is; the others
are read as one YAML scalar. Unknown names, and settings that may only be set
in the file (``feeds``, ``footers.sites``), are errors; INGEST_CONFIG is read by
the CLI and skipped here.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ingest.config_schema import SECTION_FIELDS
from ingest.config_source import RawSetting
from ingest.errors import ConfigError

_ENV_PREFIX = "INGEST_"
_ENV_RESERVED = frozenset({"INGEST_CONFIG"})  # read by the CLI, not a setting
_ENV_NAMES = {f"{_ENV_PREFIX}{section.upper()}_{key.upper()}": (section, key)
              for section, schema in SECTION_FIELDS.items()
              for key, spec in schema.items() if spec.env}


def apply_env_overrides(raws: dict[str, dict[str, RawSetting]], env: Mapping[str, str]) -> None:
    """Let ``INGEST_<SECTION>_<KEY>`` replace the file's ``section.key`` in ``raws``."""
    for name in sorted(env):
        if name.startswith(_ENV_PREFIX) and name not in _ENV_RESERVED:
            section, key = _env_target(name)
            value = _env_value(name, env[name], section, key)
            raws[section][key] = RawSetting(value, f"env {name}", None, None)


def _env_target(name: str) -> tuple[str, str]:
    if name.upper() in _ENV_NAMES:
        return _ENV_NAMES[name.upper()]
    section, _, key = name[len(_ENV_PREFIX):].lower().partition("_")
    if section == "feeds" or key in SECTION_FIELDS.get(section, {}):
        what = f"{section}.{key}" if key else section
        raise ConfigError(f"env {name}: {what} can only be set in the config file")
    suffixes = [known[len(_ENV_PREFIX):] for known in _ENV_NAMES]
    near = difflib.get_close_matches(name[len(_ENV_PREFIX):].upper(), suffixes, n=1)
    hint = (f"did you mean {_ENV_PREFIX}{near[0]}?" if near else
            "names are INGEST_<SECTION>_<KEY> for a setting of the config file")
    raise ConfigError(f"env {name}: unknown setting; {hint}")


def _env_value(name: str, text: str, section: str, key: str) -> Any:
    """Text settings are taken as is; others are read as one YAML scalar."""
    if SECTION_FIELDS[section][key].env == "raw":
        return text
    try:
        value = YAML(typ="rt").load(text)
    except YAMLError:
        value = [text]  # not one scalar either
    if isinstance(value, (dict, list)):
        raise ConfigError(f"env {name}: {section}.{key}: expected a single value, got {text!r}")
    return value
