"""artreg: one interface to container registries (ECR, Artifact Registry, ACR, any OCI registry).

registry = artreg.load_artifact_registry("artifacts")
repo = await registry.create_repository("my-app")
creds = await registry.generate_credentials(repo.name, ArtifactRegistryPermissions.PULL)
"""

from __future__ import annotations

import importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING, Any

from artreg._lazy import lazy_exports

if TYPE_CHECKING:
    from artreg.errors import ArtregError
    from artreg.loader import clear_cache, load_artifact_registry, registry_from_binding
    from artreg.registry import ArtifactRegistry
    from artreg.types import (
        ArtifactRegistryCredentials,
        ArtifactRegistryPermissions,
        AwsCrossAccountAccess,
        ComputeServiceType,
        CrossAccountAccess,
        CrossAccountPermissions,
        GcpCrossAccountAccess,
        ManifestHead,
        RegistryAuthMethod,
        RepositoryResponse,
    )

__version__ = "0.1.0"


def _defer_httpx_cli() -> None:
    """httpx's package imports its own command line (click, rich, pygments) only to offer
    ``httpx.main``; artreg never calls it, and that import is about 40 % of httpx's. Until
    something calls it, ``httpx.main`` is a stand-in that loads the real one first."""
    if "httpx" in _sys.modules or "httpx._main" in _sys.modules:
        return
    stand_in = _types.ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        _sys.modules.pop("httpx._main", None)
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]
    _sys.modules["httpx._main"] = stand_in


_defer_httpx_cli()

# The public names are imported on first use (PEP 562), so that `import artreg.digest` or the
# command line's `--help` do not pay for msgspec, the loader and every type up front.
_LAZY: dict[str, str] = {
    "ArtregError": "artreg.errors",
    "clear_cache": "artreg.loader",
    "load_artifact_registry": "artreg.loader",
    "registry_from_binding": "artreg.loader",
    "ArtifactRegistry": "artreg.registry",
    **dict.fromkeys(
        (
            "ArtifactRegistryCredentials",
            "ArtifactRegistryPermissions",
            "AwsCrossAccountAccess",
            "ComputeServiceType",
            "CrossAccountAccess",
            "CrossAccountPermissions",
            "GcpCrossAccountAccess",
            "ManifestHead",
            "RegistryAuthMethod",
            "RepositoryResponse",
        ),
        "artreg.types",
    ),
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "ArtifactRegistry",
    "ArtifactRegistryCredentials",
    "ArtifactRegistryPermissions",
    "ArtregError",
    "AwsCrossAccountAccess",
    "ComputeServiceType",
    "CrossAccountAccess",
    "CrossAccountPermissions",
    "GcpCrossAccountAccess",
    "ManifestHead",
    "RegistryAuthMethod",
    "RepositoryResponse",
    "__version__",
    "clear_cache",
    "load_artifact_registry",
    "registry_from_binding",
]
