"""Where bindings live in the environment: ``ALIEN_{NAME}_BINDING`` variables holding JSON.

Kept apart from :mod:`artreg.binding` (which parses the JSON with msgspec) so that a process
that only looks names up — the credential helper answering from its cache — starts fast. Import
these names from :mod:`artreg.binding`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

__all__ = ["binding_env_var_name", "binding_name_from_env_var", "bindings_from_env"]

_PREFIX: Final = "ALIEN_"
_SUFFIX: Final = "_BINDING"


def binding_env_var_name(binding_name: str) -> str:
    """``artifact-registry`` → ``ALIEN_ARTIFACT_REGISTRY_BINDING``."""
    return f"{_PREFIX}{binding_name.replace('-', '_').upper()}{_SUFFIX}"


def binding_name_from_env_var(env_var: str) -> str | None:
    """``ALIEN_ARTIFACT_REGISTRY_BINDING`` → ``artifact-registry``; None for other names."""
    if not (env_var.startswith(_PREFIX) and env_var.endswith(_SUFFIX)):
        return None
    core = env_var[len(_PREFIX) : len(env_var) - len(_SUFFIX)]
    return core.lower().replace("_", "-") if core else None


def bindings_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every binding in the environment: binding name → its raw JSON."""
    env = os.environ if env is None else env
    result: dict[str, str] = {}
    for key, value in env.items():
        name = binding_name_from_env_var(key)
        if name is not None:
            result[name] = value
    return result
