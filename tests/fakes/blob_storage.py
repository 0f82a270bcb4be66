"""A loopback stand-in for the object storage cloud registries send blob downloads to.

Real ECR answers ``GET /v2/{repo}/blobs/{digest}`` with a redirect to an Amazon S3 pre-signed
URL, and ACR with a redirect to an Azure Blob Storage SAS URL. Both storage services
authenticate such a request by its query string alone and refuse one that also carries an
``Authorization`` header: S3 answers 400 ``InvalidArgument`` ("Only one auth mechanism
allowed", Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters"), Azure
Storage refuses the request as well ("Grant limited access with shared access signatures";
a SAS request is not also signed with a key). A client that forwards the registry's credentials
to the storage host therefore fails against the real clouds — and here.

:class:`FakeBlobStorage` keeps blobs by key and answers ``GET /{key}?expires=…&sig=…`` (an
HMAC over the key and expiry, as a pre-signed URL carries its signature) with the bytes, or 403
for a bad or expired signature. Registries of the same test build their redirects with
:meth:`FakeBlobStorage.presign`; serve it on a host name other than the registry's (the
registry on ``127.0.0.1``, storage on ``localhost``), since HTTP clients drop credentials only
when a redirect leaves the host. Requests a real service would refuse are recorded in
``violations``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["FakeBlobStorage"]


class FakeBlobStorage:
    """Blobs behind signed URLs; ``base_url`` (``https://localhost:PORT``) set by whoever serves
    ``app``."""

    def __init__(self) -> None:
        self.base_url = ""
        self.violations: list[str] = []
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, had Authorization)
        self._key = secrets.token_bytes(32)
        self._blobs: dict[str, bytes] = {}
        self.app = Starlette(
            routes=[Route("/{key:path}", self._get, methods=["GET", "HEAD", "PUT", "POST"])]
        )

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its key."""
        key = "blobs/" + hashlib.sha256(data).hexdigest()
        self._blobs[key] = data
        return key

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def presign(self, key: str, lifetime: int = 600) -> str:
        """A URL that reads ``key`` without credentials until it expires."""
        expires = int(time.time()) + lifetime
        return f"{self.base_url}/{key}?expires={expires}&sig={self._signature(key, expires)}"

    async def _get(self, request: Request) -> Response:
        key = request.path_params["key"]
        authorized = "authorization" in request.headers
        self.requests.append((request.method, request.url.path, authorized))
        if request.method not in ("GET", "HEAD"):
            self.violations.append(f"{request.method} {request.url.path}: not a download")
            return Response(status_code=405)
        if authorized:
            # the registry's credentials were forwarded to the storage host
            self.violations.append(f"{request.method} {request.url.path}: Authorization header")
            return Response(
                b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                b"</Message></Error>",
                400,
                media_type="application/xml",
            )
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            expires = 0
        signature = request.query_params.get("sig", "")
        if expires < time.time() or not hmac.compare_digest(
            signature, self._signature(key, expires)
        ):
            return Response(
                b"<Error><Code>AccessDenied</Code><Message>Request has expired or the signature "
                b"does not match</Message></Error>",
                403,
                media_type="application/xml",
            )
        data = self._blobs.get(key)
        if data is None:
            return Response(b"<Error><Code>NoSuchKey</Code></Error>", 404)
        headers = {"Content-Length": str(len(data)), "ETag": f'"{hashlib.md5(data).hexdigest()}"'}
        body = b"" if request.method == "HEAD" else data
        return Response(body, 200, headers=headers, media_type="application/octet-stream")
