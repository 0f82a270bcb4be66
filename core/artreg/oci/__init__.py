"""An async OCI distribution client: references, auth, blobs, manifests, tags, push primitives,
image/index read and write, OCI image layouts and a credentials keychain."""

from __future__ import annotations

from artreg.oci.auth import Anonymous, Auth, Basic, BearerToken, CredentialsProvider
from artreg.oci.blobs import UploadResult, bytes_source, file_source
from artreg.oci.client import RegistryClient
from artreg.oci.copy import (
    CopyResult,
    Location,
    copy,
    copy_layout_to_registry,
    copy_registry_to_layout,
    copy_registry_to_registry,
    parse_location,
)
from artreg.oci.descriptor import Descriptor, parse_manifest
from artreg.oci.image import Image, ImageRegistry, Index, ProgressEvent, Taggable
from artreg.oci.keychain import Keychain
from artreg.oci.layout import OciLayout
from artreg.oci.push import PushTarget, RecordingPushTarget, RegistryPushTarget
from artreg.oci.reference import Reference
from artreg.oci.retry import RetryPolicy

__all__ = [
    "Anonymous",
    "Auth",
    "Basic",
    "BearerToken",
    "CopyResult",
    "CredentialsProvider",
    "Descriptor",
    "Image",
    "ImageRegistry",
    "Index",
    "Keychain",
    "Location",
    "OciLayout",
    "ProgressEvent",
    "PushTarget",
    "RecordingPushTarget",
    "Reference",
    "RegistryClient",
    "RegistryPushTarget",
    "RetryPolicy",
    "Taggable",
    "UploadResult",
    "bytes_source",
    "copy",
    "copy_layout_to_registry",
    "copy_registry_to_layout",
    "copy_registry_to_registry",
    "file_source",
    "parse_location",
    "parse_manifest",
]
