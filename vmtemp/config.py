"""The user's config file ($XDG_CONFIG_HOME/vmtemp/config.yaml).

Keys: default_image, default_mode (ro|rw), smart_ro (true|false),
policy: {allow: [paths], deny: [paths]}.
"""

from __future__ import annotations

import functools
from typing import Any

from vmtemp import paths
from vmtemp.errors import UsageError

KNOWN_KEYS = {"default_image", "default_mode", "smart_ro", "policy"}


@functools.cache
def load() -> dict[str, Any]:
    path = paths.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise UsageError(f"cannot read config {path}: {e.strerror}", hint=f"check the file: ls -l {path}") from None
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(text) or {}
    except YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid YAML"
        raise UsageError(f"config {path} is not valid YAML: {first}", hint=f"fix or remove {path}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config {path} must be a mapping of keys", hint="e.g. default_mode: ro")
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise UsageError(
            f"config {path}: unknown key {sorted(unknown)[0]!r}", hint="known keys: " + ", ".join(sorted(KNOWN_KEYS))
        )
    mode = data.get("default_mode", "rw")
    if mode not in ("ro", "rw"):
        raise UsageError(f"config {path}: default_mode must be ro or rw, not {mode!r}", hint="default_mode: ro")
    return data
