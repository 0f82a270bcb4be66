"""Loading an :class:`ArtifactRegistry` for a binding name from the environment
(docs-site: concepts/bindings.md)."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping
from typing import Final, Protocol, cast

from artreg.binding import (
    SERVICE_FEATURES,
    ArtifactRegistryBinding,
    binding_env_var_name,
    parse_binding,
    read_binding,
)
from artreg.errors import (
    ArtregError,
    BindingConfigInvalid,
    ClientConfigInvalid,
    FeatureNotEnabled,
)
from artreg.registry import ArtifactRegistry

__all__ = ["clear_cache", "load_artifact_registry", "registry_from_binding"]

#: Environment variables that configure cloud clients; they are part of the cache key.
_CONFIG_PREFIXES: Final = ("AWS_", "GOOGLE_", "GCP_", "AZURE_", "ARTREG_", "SSL_", "REQUESTS_")

_DISPLAY_NAMES: Final = {
    "ecr": "AWS ECR",
    "gar": "GCP Artifact Registry",
    "acr": "Azure Container Registry",
}


class _ProviderModule(Protocol):
    def from_binding(
        self, binding_name: str, binding: ArtifactRegistryBinding, env: Mapping[str, str]
    ) -> ArtifactRegistry: ...


_cache: dict[tuple[object, ...], ArtifactRegistry] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached instance (they are not closed)."""
    with _lock:
        _cache.clear()


def _provider_module(service: str) -> _ProviderModule:
    feature = SERVICE_FEATURES[service]
    try:
        module = importlib.import_module(f"artreg.providers.{service}")
    except ImportError as exc:
        raise FeatureNotEnabled(
            feature=feature,
            hint=f"install the extra: pip install 'artreg[{feature}]'"
            if feature != "local"
            else None,
        ) from exc
    return cast(_ProviderModule, module)


def registry_from_binding(
    binding_name: str, binding: ArtifactRegistryBinding, env: Mapping[str, str] | None = None
) -> ArtifactRegistry:
    """Build a provider for an already-parsed binding (no caching)."""
    env = os.environ if env is None else env
    service = type(binding).__struct_config__.tag
    assert isinstance(service, str)
    module = _provider_module(service)
    try:
        registry = module.from_binding(binding_name, binding, env)
    except (ClientConfigInvalid, FeatureNotEnabled):
        raise
    except ArtregError as exc:
        if service == "local":
            raise
        raise BindingConfigInvalid(
            binding_name=binding_name,
            env_var=binding_env_var_name(binding_name),
            reason=f"Failed to initialize {_DISPLAY_NAMES[service]} artifact registry",
        ) from exc
    registry.binding_name = binding_name
    return registry


def load_artifact_registry(
    binding_name: str, env: Mapping[str, str] | None = None
) -> ArtifactRegistry:
    """The registry a binding names, read from ``ALIEN_{NAME}_BINDING`` in ``env`` (default:
    the process environment). Instances are cached per binding name and configuration.

    Raises BINDING_NOT_CONFIGURED when the variable is unset, BINDING_CONFIG_INVALID for JSON
    or fields that do not fit, CLIENT_CONFIG_INVALID when the cloud's configuration is missing,
    and FEATURE_NOT_ENABLED when the cloud's extra is not installed.
    """
    env = os.environ if env is None else env
    raw = read_binding(binding_name, env)
    config = tuple(sorted((k, v) for k, v in env.items() if k.startswith(_CONFIG_PREFIXES)))
    key = ("artifact_registry", binding_name, raw, config)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    binding = parse_binding(binding_name, raw)
    registry = registry_from_binding(binding_name, binding, env)
    with _lock:
        return _cache.setdefault(key, registry)
