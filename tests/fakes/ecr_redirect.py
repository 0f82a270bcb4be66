"""An ECR-shaped registry host whose blob downloads redirect to object storage.

It follows Amazon ECR's documented registry behaviour, not artreg's code ("Private registry
authentication" and "Pulling an image" in the Amazon ECR User Guide; the Docker Registry HTTP
API V2 it implements): the registry ``{account}.dkr.ecr.{region}.amazonaws.com`` takes HTTP
Basic auth with user ``AWS`` and the password ``GetAuthorizationToken`` hands out, answers an
unauthenticated request with 401 and ``WWW-Authenticate: Basic realm="https://{host}/",
service="ecr.amazonaws.com"``, serves manifests itself and answers a blob ``GET`` with a
redirect to an Amazon S3 pre-signed URL (``HEAD`` is answered directly). Layer bytes therefore
come from another host, which refuses a request carrying the registry's ``Authorization``
header (see :mod:`tests.fakes.blob_storage`).

moto's server mode serves no registry API, so this stands in for the registry host of an ECR
binding (``ARTREG_ECR_REGISTRY_ENDPOINT``) while moto serves the ECR API itself. Requests the
real registry would refuse are recorded in ``violations``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.fakes.blob_storage import FakeBlobStorage

__all__ = ["FakeEcrRegistry"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeEcrRegistry:
    """Repositories of images, readable with ``AWS:{password}``; blob GETs go to ``storage``."""

    def __init__(self, *, password: str, storage: FakeBlobStorage, host: str = "") -> None:
        self.password = password
        self.storage = storage
        self.host = host or "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        self.violations: list[str] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._blobs: dict[tuple[str, str], bytes] = {}
        self.app = Starlette(
            routes=[
                Route("/v2/", self._root, methods=["GET", "HEAD"]),
                Route("/v2/{rest:path}", self._v2, methods=["GET", "HEAD"]),
            ]
        )

    # -- content --------------------------------------------------------------------------------

    def put_image(self, repository: str, tag: str, layers: list[bytes]) -> dict[str, bytes]:
        """Store an OCI image; returns its manifest, config and layers by digest."""
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [_digest(b) for b in layers]},
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _digest(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": _digest(b),
                        "size": len(b),
                    }
                    for b in layers
                ],
            },
            indent=2,
        ).encode()
        blobs = {_digest(b): b for b in (config, *layers)}
        for digest, data in blobs.items():
            self._blobs[(repository, digest)] = data
        for reference in (tag, _digest(manifest)):
            self._manifests[(repository, reference)] = (manifest, OCI_MANIFEST)
        return {"manifest": manifest, **blobs}

    # -- helpers --------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == "AWS" and secrets.compare_digest(password, self.password)

    def _denied(self) -> Response:
        return JSONResponse(
            {"errors": [{"code": "DENIED", "message": "Not Authorized"}]},
            401,
            headers={
                "WWW-Authenticate": f'Basic realm="https://{self.host}/",service="ecr.amazonaws.com"'
            },
        )

    # -- routes ---------------------------------------------------------------------------------

    async def _root(self, request: Request) -> Response:
        status = 200 if self._authorized(request) else 401
        self.requests.append((request.method, request.url.path, status))
        if status == 401:
            return self._denied()
        return Response(headers={"Docker-Distribution-API-Version": "registry/2.0"})

    async def _v2(self, request: Request) -> Response:
        rest: str = request.path_params["rest"]
        if not self._authorized(request):
            self.requests.append((request.method, request.url.path, 401))
            return self._denied()
        for kind in ("/manifests/", "/blobs/"):
            repository, sep, reference = rest.rpartition(kind)
            if sep:
                break
        else:
            self.violations.append(f"{request.method} {request.url.path}: unexpected path")
            return Response(status_code=404)
        head = request.method == "HEAD"
        if kind == "/manifests/":
            if not request.headers.get("accept"):
                self.violations.append(f"{request.method} {request.url.path}: no Accept")
            found = self._manifests.get((repository, reference))
            if found is None:
                self.requests.append((request.method, request.url.path, 404))
                return JSONResponse(
                    {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}, 404
                )
            body, media_type = found
            self.requests.append((request.method, request.url.path, 200))
            return Response(
                b"" if head else body,
                headers={"Docker-Content-Digest": _digest(body), "Content-Length": str(len(body))},
                media_type=media_type,
            )
        data = self._blobs.get((repository, reference))
        if data is None:
            self.requests.append((request.method, request.url.path, 404))
            return JSONResponse(
                {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}, 404
            )
        if head:
            self.requests.append((request.method, request.url.path, 200))
            return Response(
                headers={"Docker-Content-Digest": reference, "Content-Length": str(len(data))}
            )
        self.requests.append((request.method, request.url.path, 307))
        location = self.storage.presign(self.storage.put(data))
        return Response(status_code=307, headers={"Location": location})
