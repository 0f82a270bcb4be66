"""An async OCI distribution client: references, auth, blobs, manifests, tags, push primitives,
image/index read and write, OCI image layouts and a credentials keychain."""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from artreg._lazy import lazy_exports

if TYPE_CHECKING:
    from artreg.oci.auth import (
        Anonymous,
        Auth,
        Basic,
        BearerToken,
        CredentialsProvider,
        IdentityToken,
    )
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

# Imported on first use (PEP 562): `from artreg.oci.reference import Reference` and the command
# line's start-up need not load httpx and the whole client.
_LAZY: dict[str, str] = {
    "Anonymous": "artreg.oci.auth",
    "Auth": "artreg.oci.auth",
    "Basic": "artreg.oci.auth",
    "BearerToken": "artreg.oci.auth",
    "CredentialsProvider": "artreg.oci.auth",
    "IdentityToken": "artreg.oci.auth",
    "UploadResult": "artreg.oci.blobs",
    "bytes_source": "artreg.oci.blobs",
    "file_source": "artreg.oci.blobs",
    "RegistryClient": "artreg.oci.client",
    "CopyResult": "artreg.oci.copy",
    "Location": "artreg.oci.copy",
    "copy": "artreg.oci.copy",
    "copy_layout_to_registry": "artreg.oci.copy",
    "copy_registry_to_layout": "artreg.oci.copy",
    "copy_registry_to_registry": "artreg.oci.copy",
    "parse_location": "artreg.oci.copy",
    "Descriptor": "artreg.oci.descriptor",
    "parse_manifest": "artreg.oci.descriptor",
    "Image": "artreg.oci.image",
    "ImageRegistry": "artreg.oci.image",
    "Index": "artreg.oci.image",
    "ProgressEvent": "artreg.oci.image",
    "Taggable": "artreg.oci.image",
    "Keychain": "artreg.oci.keychain",
    "OciLayout": "artreg.oci.layout",
    "PushTarget": "artreg.oci.push",
    "RecordingPushTarget": "artreg.oci.push",
    "RegistryPushTarget": "artreg.oci.push",
    "Reference": "artreg.oci.reference",
    "RetryPolicy": "artreg.oci.retry",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


class _Package(types.ModuleType):
    """Importing the submodule ``artreg.oci.copy`` binds it as this package's ``copy``; the
    public ``artreg.oci.copy`` is the function, as it was when this package imported it eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "copy" and isinstance(value, types.ModuleType):
            value = value.copy
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Anonymous",
    "Auth",
    "Basic",
    "BearerToken",
    "CopyResult",
    "CredentialsProvider",
    "Descriptor",
    "IdentityToken",
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
