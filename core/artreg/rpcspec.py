"""The JSON-RPC method table: each sidecar method, its params and result wire types.

One table feeds the sidecar's dispatcher, ``schemas/openrpc.json`` and the TypeScript client's
generated types, so the three cannot disagree.

``artifactRegistry.*`` methods run on a binding (``bindingName``); ``image.*`` methods take
``host[:port]/repository`` references and use the credentials of the binding serving that host,
else Docker's keychain. Methods marked ``progress`` send ``$/progress`` notifications
(:class:`~artreg.types.TransferProgress`) tied to the call's id while they run, and stop (cleaning
up) when the client sends ``$/cancelRequest`` (:class:`~artreg.types.RequestCancel`) with that id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from artreg import types as t

__all__ = [
    "CANCEL_NOTIFICATION",
    "IMAGE_PREFIX",
    "METHODS",
    "METHOD_PREFIX",
    "PROGRESS_NOTIFICATION",
    "RpcMethod",
    "method_by_name",
]

METHOD_PREFIX: Final = "artifactRegistry."
IMAGE_PREFIX: Final = "image."
#: Server → client: progress of a call (params: ``TransferProgress``).
PROGRESS_NOTIFICATION: Final = "$/progress"
#: Client → server: stop a call (params: ``RequestCancel``).
CANCEL_NOTIFICATION: Final = "$/cancelRequest"

_INLINE: Final = (
    f"at most {t.MAX_INLINE_BYTES // 1024} KiB, larger content through image.pushLayout"
)


@dataclass(frozen=True, slots=True)
class RpcMethod:
    """One sidecar method: ``<prefix><name>`` calling ``<python_name>`` on the binding's
    ``ArtifactRegistry`` (``on="registry"``) or on :class:`artreg.imageops.ImageOps`
    (``on="images"``, the binding's registry passed first when the params name one)."""

    name: str
    python_name: str
    params: type[Any]
    result: Any
    summary: str
    prefix: str = METHOD_PREFIX
    on: str = "registry"
    #: Sends ``$/progress`` notifications and can be cancelled with ``$/cancelRequest``.
    progress: bool = False

    @property
    def rpc_name(self) -> str:
        return self.prefix + self.name

    @property
    def binds(self) -> bool:
        """Whether the params name a binding (``bindingName``)."""
        return "binding_name" in getattr(self.params, "__struct_fields__", ())


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
    RpcMethod(
        "uploadBlob",
        "upload_blob",
        t.UploadBlobParams,
        t.BlobUploadStatus,
        f"Upload one blob by digest (data base64, {_INLINE}); skipped when present.",
        on="images",
    ),
    RpcMethod(
        "putManifest",
        "put_manifest",
        t.PutManifestParams,
        str,
        f"PUT a manifest's exact bytes at a tag or digest (base64, {_INLINE}); returns its digest.",
        on="images",
    ),
    RpcMethod(
        "copy",
        "copy",
        t.ImageCopyParams,
        t.ImageCopyResult,
        "Copy an image or index between repositories or registries (every tag with allTags).",
        prefix=IMAGE_PREFIX,
        on="images",
        progress=True,
    ),
    RpcMethod(
        "pushLayout",
        "push_layout",
        t.ImagePushLayoutParams,
        t.ImageTransferResult,
        "Push an image or index from an OCI layout directory (an absolute path on the sidecar).",
        prefix=IMAGE_PREFIX,
        on="images",
        progress=True,
    ),
    RpcMethod(
        "pullLayout",
        "pull_layout",
        t.ImagePullLayoutParams,
        t.ImageTransferResult,
        "Pull an image or index into an OCI layout directory (an absolute path on the sidecar).",
        prefix=IMAGE_PREFIX,
        on="images",
        progress=True,
    ),
    RpcMethod(
        "listTags",
        "list_tags",
        t.ImageRefParams,
        list[str],
        "Every tag of a repository (host/repository).",
        prefix=IMAGE_PREFIX,
        on="images",
    ),
    RpcMethod(
        "digest",
        "digest",
        t.ImageRefParams,
        str,
        "The manifest digest a reference resolves to.",
        prefix=IMAGE_PREFIX,
        on="images",
    ),
)

_BY_NAME: Final = {m.rpc_name: m for m in METHODS}


def method_by_name(rpc_name: str) -> RpcMethod | None:
    """The method for an RPC name (``artifactRegistry.<name>``, ``image.<name>``), or None."""
    return _BY_NAME.get(rpc_name)
