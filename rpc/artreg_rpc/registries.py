"""The registries the sidecar serves: one instance per binding name, loaded on first use from
the environment snapshot the sidecar was started with, closed at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from artreg.binding import read_binding
from artreg.loader import load_artifact_registry
from artreg.registry import ArtifactRegistry

__all__ = ["Loader", "RegistryPool"]

log = logging.getLogger("artreg_rpc")

Loader = Callable[[str, Mapping[str, str]], ArtifactRegistry]


class RegistryPool:
    """Registries by binding name. Unknown bindings raise BINDING_NOT_CONFIGURED each time
    (nothing is cached for them); a binding is loaded once, off the event loop."""

    def __init__(self, env: Mapping[str, str], loader: Loader = load_artifact_registry) -> None:
        self._env = dict(env)
        self._loader = loader
        self._loaded: dict[str, ArtifactRegistry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    async def get(self, binding_name: str) -> ArtifactRegistry:
        registry = self._loaded.get(binding_name)
        if registry is not None:
            return registry
        read_binding(binding_name, self._env)  # BINDING_NOT_CONFIGURED, before any state
        lock = self._locks.setdefault(binding_name, asyncio.Lock())
        async with lock:
            registry = self._loaded.get(binding_name)
            if registry is None:
                registry = await asyncio.to_thread(self._loader, binding_name, self._env)
                self._loaded[binding_name] = registry
            return registry

    async def aclose(self) -> None:
        """Close every loaded registry (errors are logged, not raised)."""
        loaded, self._loaded = list(self._loaded.items()), {}
        for name, registry in loaded:
            try:
                await registry.aclose()
            except Exception:
                log.warning("closing the registry of binding %r failed", name, exc_info=True)
