"""Wire types: the single source of truth for every JSON shape artreg reads or writes.

Attribute names are snake_case; JSON keys are camelCase. Optional fields encode as ``null`` and
never vanish, except in :class:`ErrorData`, whose absent optional keys are omitted (as alien does).
``schemas/``, ``schemas/openrpc.json`` and the TypeScript types are generated from this module.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import msgspec

__all__ = [
    "AddCrossAccountAccessParams",
    "ArtifactRegistryCredentials",
    "ArtifactRegistryPermissions",
    "AwsCrossAccountAccess",
    "BindingParams",
    "BlobDownloadUrlParams",
    "BlobParams",
    "BlobUploadStatus",
    "ComputeServiceType",
    "CreateRepositoryParams",
    "CrossAccountAccess",
    "CrossAccountPermissions",
    "ErrorData",
    "GcpCrossAccountAccess",
    "GenerateCredentialsParams",
    "ImageCopyParams",
    "ImageCopyResult",
    "ImagePullLayoutParams",
    "ImagePushLayoutParams",
    "ImageRefParams",
    "ImageTransferResult",
    "ManifestHead",
    "ManifestParams",
    "ManifestResponse",
    "PutManifestParams",
    "RegistryAuthMethod",
    "RemoveCrossAccountAccessParams",
    "RepoIdParams",
    "RepositoryResponse",
    "RequestCancel",
    "TransferProgress",
    "TransferStatus",
    "UploadBlobParams",
    "convert",
    "decode",
    "encode",
    "format_timestamp",
    "parse_timestamp",
    "utc_now",
]


class ArtifactRegistryPermissions(enum.StrEnum):
    """What generated credentials may do."""

    PULL = "pull"
    PUSH_PULL = "push-pull"


class RegistryAuthMethod(enum.StrEnum):
    """How credentials are presented: ``basic`` (username + password) or ``bearer`` (token)."""

    BASIC = "basic"
    BEARER = "bearer"


class ComputeServiceType(enum.StrEnum):
    """Compute services that may be granted pull access across accounts."""

    WORKER = "worker"


Timestamp = Annotated[
    str | None,
    msgspec.Meta(description="RFC 3339 timestamp in UTC, written with a +00:00 offset"),
]


class RepositoryResponse(msgspec.Struct, rename="camel", frozen=True):
    """A repository. ``name`` is the routable name: pass it back as ``repo_id`` unchanged."""

    name: str
    uri: str | None = None
    created_at: Timestamp = None


class ArtifactRegistryCredentials(msgspec.Struct, rename="camel", frozen=True):
    """Short-lived registry credentials. ``repr()`` and ``str()`` never show the password."""

    auth_method: RegistryAuthMethod
    username: str
    password: str
    expires_at: Timestamp = None

    def __repr__(self) -> str:
        return (
            f"ArtifactRegistryCredentials(auth_method={self.auth_method.value!r}, "
            f"username={self.username!r}, password='***', expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    def __rich_repr__(self) -> Any:
        yield "auth_method", self.auth_method.value
        yield "username", self.username
        yield "password", "***"
        yield "expires_at", self.expires_at


class AwsCrossAccountAccess(
    msgspec.Struct, rename="camel", tag_field="type", tag="aws", frozen=True
):
    """Pull access for other AWS accounts, their roles, and Lambda in the given regions."""

    account_ids: list[str]
    regions: list[str]
    role_arns: list[str]
    allowed_service_types: list[ComputeServiceType]


class GcpCrossAccountAccess(
    msgspec.Struct, rename="camel", tag_field="type", tag="gcp", frozen=True
):
    """Pull access for Cloud Run in other projects and for service accounts."""

    project_numbers: list[str]
    service_account_emails: list[str]
    allowed_service_types: list[ComputeServiceType]


CrossAccountAccess = AwsCrossAccountAccess | GcpCrossAccountAccess
"""Tagged by ``type`` (``"aws"``/``"gcp"``); decoding also accepts alien's ``platform`` tag."""


class CrossAccountPermissions(msgspec.Struct, rename="camel", frozen=True):
    """The cross-account access currently granted on a repository."""

    access: CrossAccountAccess
    last_updated: Timestamp = None


class ManifestResponse(msgspec.Struct, rename="camel", frozen=True):
    """A manifest as stored: its exact bytes (base64 in JSON) and its media type."""

    manifest: bytes
    content_type: str


class ManifestHead(msgspec.Struct, rename="camel", frozen=True):
    """What a HEAD of a manifest tells: its media type and digest."""

    content_type: str
    digest: str


class ErrorData(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """The serialized shape of every artreg error; ``context`` keys are snake_case, absent
    optional keys are omitted, ``source`` is the wrapped cause in the same shape."""

    code: str
    message: str
    context: dict[str, Any] | None = None
    hint: str | None = None
    retryable: bool
    internal: bool
    http_status_code: int | None = None
    source: ErrorData | None = None


# -- JSON-RPC params (named params of the sidecar's methods) -------------------------------------


class BindingParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """Params that name only a binding."""

    binding_name: str


class CreateRepositoryParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    binding_name: str
    repo_name: str


class RepoIdParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    binding_name: str
    repo_id: str


class AddCrossAccountAccessParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    binding_name: str
    repo_id: str
    access: CrossAccountAccess


class RemoveCrossAccountAccessParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    binding_name: str
    repo_id: str
    access: CrossAccountAccess


class GenerateCredentialsParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    binding_name: str
    repo_id: str
    permissions: ArtifactRegistryPermissions
    ttl_seconds: Annotated[int, msgspec.Meta(ge=0, le=4294967295)] | None = None


class ManifestParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    binding_name: str
    repo_name: str
    reference: str


class BlobParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    binding_name: str
    repo_name: str
    digest: str


class BlobDownloadUrlParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    binding_name: str
    repo_name: str
    digest: str
    ttl_seconds: Annotated[int, msgspec.Meta(ge=0, le=4294967295)]


# -- image operations (``image.*`` and the push primitives) --------------------------------------

#: Blobs moved at once by a transfer, when ``jobs`` is not given.
DEFAULT_TRANSFER_JOBS: Final = 4
#: The largest ``data`` of ``uploadBlob`` and ``manifest`` of ``putManifest``, in bytes (before
#: base64). Larger content goes through ``image.pushLayout``, which streams from disk.
MAX_INLINE_BYTES: Final = 512 * 1024

AbsolutePath = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        description="An absolute path on the sidecar's file system (not the caller's)",
    ),
]
ImageRef = Annotated[
    str, msgspec.Meta(min_length=1, description="host[:port]/repository[:tag][@digest]")
]
Platforms = Annotated[
    list[str] | None,
    msgspec.Meta(
        description="Of a multi-platform index, only these os/arch[/variant] (default: all)"
    ),
]
Jobs = (
    Annotated[
        int, msgspec.Meta(ge=1, le=64, description="Blobs transferred in parallel (default 4)")
    ]
    | None
)


class ImageCopyParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """Copy ``src`` to ``dst`` (the destination tag defaults to the source's). With ``all_tags``,
    ``src`` and ``dst`` name repositories and every tag of ``src`` is copied."""

    src: ImageRef
    dst: ImageRef
    all_tags: bool = False
    platforms: Platforms = None
    jobs: Jobs = None


class ImagePushLayoutParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    """Push the image or index of the OCI layout ``dir`` to ``ref`` (tag default ``latest``).
    ``source_tag`` picks it in the layout (default: ``ref``'s tag when the layout has it, else
    the layout's only image)."""

    dir: AbsolutePath
    ref: ImageRef
    source_tag: str | None = None
    platforms: Platforms = None
    jobs: Jobs = None


class ImagePullLayoutParams(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True
):
    """Pull ``ref`` into the OCI layout ``dir`` (created when missing), tagged ``tag`` there
    (default: ``ref``'s tag)."""

    ref: ImageRef
    dir: AbsolutePath
    tag: str | None = None
    platforms: Platforms = None
    jobs: Jobs = None


class ImageRefParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """Params that name only an image or repository reference."""

    ref: ImageRef


class ImageTransferResult(msgspec.Struct, rename="camel", frozen=True):
    """One image or index moved: its root manifest's digest and media type, where it went, and
    how many blobs and bytes were moved (``skipped``: already there; ``mounted``: linked from
    another repository of the same registry)."""

    source: str
    destination: str
    digest: str
    media_type: str
    blobs: int
    bytes: int
    skipped: int
    mounted: int


class ImageCopyResult(msgspec.Struct, rename="camel", frozen=True):
    """What ``image.copy`` moved: one entry, or one per tag with ``allTags``."""

    images: list[ImageTransferResult]


class UploadBlobParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """Upload ``data`` (base64 in JSON, at most 512 KiB) as the blob ``digest``."""

    binding_name: str
    repo_name: str
    digest: str
    data: Annotated[bytes, msgspec.Meta(description="The blob's bytes, base64; at most 512 KiB")]


class BlobUploadStatus(enum.StrEnum):
    """What ``uploadBlob`` did: uploaded the bytes, or found the blob already there."""

    UPLOADED = "uploaded"
    EXISTS = "exists"


class PutManifestParams(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """PUT ``manifest`` (base64 in JSON, at most 512 KiB) verbatim at ``reference`` (a tag or
    digest) with ``Content-Type: content_type``."""

    binding_name: str
    repo_name: str
    reference: str
    manifest: Annotated[
        bytes, msgspec.Meta(description="The manifest's exact bytes, base64; at most 512 KiB")
    ]
    content_type: str


class TransferStatus(enum.StrEnum):
    """Where one blob of a transfer stands."""

    TRANSFERRING = "transferring"
    COMPLETE = "complete"
    EXISTS = "exists"
    MOUNTED = "mounted"


class TransferProgress(msgspec.Struct, rename="camel", frozen=True):
    """The params of a ``$/progress`` notification: progress of the call ``id`` (the request's
    id), ``seq`` counting up from 1 per call. One blob's ``done`` of ``total`` bytes to
    ``target``; ``bytes_done``/``bytes_total`` and ``blobs_done``/``blobs_total`` for the call."""

    id: int | str
    seq: int
    target: str
    digest: str
    status: TransferStatus
    done: int
    total: int | None
    bytes_done: int
    bytes_total: int
    blobs_done: int
    blobs_total: int


class RequestCancel(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True):
    """The params of a ``$/cancelRequest`` notification: stop the call whose request id is ``id``."""

    id: int | str


#: Every wire type that gets a JSON Schema file in ``schemas/``, by schema name.
WIRE_TYPES: Final[dict[str, Any]] = {
    "RepositoryResponse": RepositoryResponse,
    "ArtifactRegistryPermissions": ArtifactRegistryPermissions,
    "RegistryAuthMethod": RegistryAuthMethod,
    "ArtifactRegistryCredentials": ArtifactRegistryCredentials,
    "ComputeServiceType": ComputeServiceType,
    "AwsCrossAccountAccess": AwsCrossAccountAccess,
    "GcpCrossAccountAccess": GcpCrossAccountAccess,
    "CrossAccountAccess": CrossAccountAccess,
    "CrossAccountPermissions": CrossAccountPermissions,
    "ManifestResponse": ManifestResponse,
    "ManifestHead": ManifestHead,
    "ErrorData": ErrorData,
    "ImageTransferResult": ImageTransferResult,
    "ImageCopyResult": ImageCopyResult,
    "BlobUploadStatus": BlobUploadStatus,
    "TransferStatus": TransferStatus,
    "TransferProgress": TransferProgress,
    "RequestCancel": RequestCancel,
}

#: The sidecar's params types, by schema name (used for the OpenRPC document).
PARAMS_TYPES: Final[dict[str, Any]] = {
    "BindingParams": BindingParams,
    "CreateRepositoryParams": CreateRepositoryParams,
    "RepoIdParams": RepoIdParams,
    "AddCrossAccountAccessParams": AddCrossAccountAccessParams,
    "RemoveCrossAccountAccessParams": RemoveCrossAccountAccessParams,
    "GenerateCredentialsParams": GenerateCredentialsParams,
    "ManifestParams": ManifestParams,
    "BlobParams": BlobParams,
    "BlobDownloadUrlParams": BlobDownloadUrlParams,
    "ImageCopyParams": ImageCopyParams,
    "ImagePushLayoutParams": ImagePushLayoutParams,
    "ImagePullLayoutParams": ImagePullLayoutParams,
    "ImageRefParams": ImageRefParams,
    "UploadBlobParams": UploadBlobParams,
    "PutManifestParams": PutManifestParams,
}


# -- encoding and decoding -----------------------------------------------------------------------

T = TypeVar("T")

_encoder: Final = msgspec.json.Encoder()
_ACCESS_KEYS: Final = frozenset(
    {"accountIds", "projectNumbers", "roleArns", "serviceAccountEmails"}
)


def _normalize(obj: Any) -> Any:
    """Rewrite alien's ``platform``-tagged CrossAccountAccess into the ``type``-tagged form."""
    if isinstance(obj, dict):
        out = {k: _normalize(v) for k, v in obj.items()}
        if "platform" in out and "type" not in out and _ACCESS_KEYS & out.keys():
            out = {"type": out.pop("platform"), **out}
        return out
    if isinstance(obj, list):
        return [_normalize(v) for v in obj]
    return obj


def decode(data: bytes | str, type: type[T]) -> T:
    """Decode JSON into a wire type. Raises ``msgspec.ValidationError`` when the JSON does not
    fit the type, or ``msgspec.DecodeError`` for malformed JSON; both name the offending path."""
    return convert(msgspec.json.decode(data), type)


def convert(obj: Any, type: type[T]) -> T:
    """Convert already-parsed JSON (dicts, lists, scalars) into a wire type."""
    return msgspec.convert(_normalize(obj), type, strict=True)


def encode(value: Any) -> bytes:
    """Canonical JSON for a wire value: camelCase keys in declaration order, no whitespace."""
    return _encoder.encode(value)


def to_builtins(value: Any) -> Any:
    """A wire value as plain JSON-compatible Python objects."""
    return msgspec.to_builtins(value)


# -- timestamps ----------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime | float | int) -> str:
    """RFC 3339 in UTC with a ``+00:00`` offset. Epoch seconds are truncated to whole seconds;
    naive datetimes are taken as UTC."""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(int(value), UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def cross_account_access_platform(access: CrossAccountAccess) -> str:
    """``"aws"`` or ``"gcp"``."""
    return "aws" if isinstance(access, AwsCrossAccountAccess) else "gcp"
