"""artreg: one interface to container registries (ECR, Artifact Registry, ACR, any OCI registry).

registry = artreg.load_artifact_registry("artifacts")
repo = await registry.create_repository("my-app")
creds = await registry.generate_credentials(repo.name, ArtifactRegistryPermissions.PULL)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'artreg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
