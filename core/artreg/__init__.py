"""artreg: one interface to container registries (ECR, Artifact Registry, ACR, any OCI registry).

    registry = artreg.load_artifact_registry("artifacts")
    repo = await registry.create_repository("my-app")
    creds = await registry.generate_credentials(repo.name, ArtifactRegistryPermissions.PULL)
"""

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
