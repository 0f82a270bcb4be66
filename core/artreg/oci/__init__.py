"""An async OCI distribution client: references, auth, blobs, manifests, tags, push primitives,
image/index read and write, OCI image layouts and a credentials keychain."""

from __future__ import annotations

from artreg.oci.auth import Anonymous, Auth, Basic, BearerToken, CredentialsProvider
from artreg.oci.blobs import UploadResult, bytes_source, file_source
from artreg.oci.client import RegistryClient
from artreg.oci.reference import Reference
from artreg.oci.retry import RetryPolicy

__all__ = [
    "Anonymous",
    "Auth",
    "Basic",
    "BearerToken",
    "CredentialsProvider",
    "Reference",
    "RegistryClient",
    "RetryPolicy",
    "UploadResult",
    "bytes_source",
    "file_source",
]
