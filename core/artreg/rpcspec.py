"""The JSON-RPC method table: each sidecar method, its params and result wire types.

One table feeds the sidecar's dispatcher, ``schemas/openrpc.json`` and the TypeScript client's
generated types, so the three cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from artreg import types as t

__all__ = ["METHODS", "METHOD_PREFIX", "RpcMethod", "method_by_name"]

METHOD_PREFIX: Final = "artifactRegistry."


@dataclass(frozen=True, slots=True)
class RpcMethod:
    """One sidecar method: ``artifactRegistry.<name>`` calling ``ArtifactRegistry.<python_name>``."""

    name: str
    python_name: str
    params: type[Any]
    result: Any
    summary: str

    @property
    def rpc_name(self) -> str:
        return METHOD_PREFIX + self.name


METHODS: Final[tuple[RpcMethod, ...]] = (
    RpcMethod(
        "createRepository",
        "create_repository",
        t.CreateRepositoryParams,
        t.RepositoryResponse,
        "Create a repository from a logical name; the result's name is the routable name.",
    ),
    RpcMethod(
        "getRepository",
        "get_repository",
        t.RepoIdParams,
        t.RepositoryResponse,
        "Describe a repository by its routable name.",
    ),
    RpcMethod(
        "deleteRepository",
        "delete_repository",
        t.RepoIdParams,
        None,
        "Delete a repository and its images (never the parent registry).",
    ),
    RpcMethod(
        "addCrossAccountAccess",
        "add_cross_account_access",
        t.AddCrossAccountAccessParams,
        None,
        "Grant other accounts or projects pull access, merged with what is granted.",
    ),
    RpcMethod(
        "removeCrossAccountAccess",
        "remove_cross_account_access",
        t.RemoveCrossAccountAccessParams,
        None,
        "Revoke cross-account access.",
    ),
    RpcMethod(
        "getCrossAccountAccess",
        "get_cross_account_access",
        t.RepoIdParams,
        t.CrossAccountPermissions,
        "The cross-account access currently granted.",
    ),
    RpcMethod(
        "generateCredentials",
        "generate_credentials",
        t.GenerateCredentialsParams,
        t.ArtifactRegistryCredentials,
        "Short-lived credentials to pull, or push and pull, a repository.",
    ),
    RpcMethod(
        "cleanupCredentials",
        "cleanup_credentials",
        t.RepoIdParams,
        None,
        "Clean up anything generateCredentials created (a no-op on most providers).",
    ),
    RpcMethod(
        "registryEndpoint",
        "registry_endpoint",
        t.BindingParams,
        str,
        "The upstream registry's base URL with its scheme.",
    ),
    RpcMethod(
        "upstreamRepositoryPrefix",
        "upstream_repository_prefix",
        t.BindingParams,
        str,
        "The OCI path prefix of the binding's repositories.",
    ),
    RpcMethod(
        "getManifest",
        "get_manifest",
        t.ManifestParams,
        t.ManifestResponse,
        "A manifest's exact bytes (base64) and content type, by tag or digest.",
    ),
    RpcMethod(
        "headManifest",
        "head_manifest",
        t.ManifestParams,
        t.ManifestHead | None,
        "A manifest's content type and digest, or null when it does not exist.",
    ),
    RpcMethod(
        "headBlob",
        "head_blob",
        t.BlobParams,
        int | None,
        "A blob's size in bytes, or null when it does not exist.",
    ),
    RpcMethod(
        "generateBlobDownloadUrl",
        "generate_blob_download_url",
        t.BlobDownloadUrlParams,
        str | None,
        "A pre-signed URL that downloads a blob directly, or null when unsupported.",
    ),
)

_BY_NAME: Final = {m.rpc_name: m for m in METHODS}


def method_by_name(rpc_name: str) -> RpcMethod | None:
    """The method for ``artifactRegistry.<name>``, or None."""
    return _BY_NAME.get(rpc_name)
