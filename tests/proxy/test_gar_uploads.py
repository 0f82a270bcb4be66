"""GAR's upload sessions through the proxy: Artifact Registry answers ``POST
/v2/{project}/{repo}/{image}/blobs/uploads/`` with a *relative* ``Location`` under
``/artifacts-uploads/namespaces/{project}/repositories/{repo}/uploads/{id}`` (alien's
reference, §6 of the behaviour notes), and wants its bearer token on every request there.

:class:`GarUploads` plays that registry: a small Starlette app checking ``Authorization:
Bearer`` on each request. The binding is a test double of the interface (registry endpoint,
prefix, bearer credentials), since a real GAR binding's endpoint is the cloud's host."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from artreg.proxy import ProxyApp, ProxyConfig
from artreg.proxy import start_in_thread as start_proxy
from artreg.proxy.auth import ClientAuth
from artreg.proxy.location import UploadSigner
from artreg.proxy.routing import RoutingTable
from artreg.proxy.tokens import TokenIssuer
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
)
from tests.fakes.tls import LoopbackServer
from tests.proxy.test_units import Minting

TOKEN = "ya29.gar-access-token"


class GarUploads:
    """Blob uploads the way Artifact Registry serves them (in memory)."""

    def __init__(self) -> None:
        self.sessions: dict[str, bytearray] = {}
        self.blobs: dict[str, bytes] = {}
        self.unauthorized: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/v2/{repo:path}/blobs/uploads/", self.start, methods=["POST"]),
                Route("/v2/{repo:path}/blobs/{digest}", self.blob, methods=["GET", "HEAD"]),
                Route(
                    "/artifacts-uploads/namespaces/{project}/repositories/{repo}/uploads/{uid}",
                    self.session,
                    methods=["PATCH", "PUT"],
                ),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        if request.headers.get("authorization") == f"Bearer {TOKEN}":
            return True
        self.unauthorized.append(request.url.path)
        return False

    async def start(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(status_code=401)
        project, repo, _ = request.path_params["repo"].split("/", 2)
        uid = uuid.uuid4().hex
        self.sessions[uid] = bytearray()
        location = f"/artifacts-uploads/namespaces/{project}/repositories/{repo}/uploads/{uid}"
        return Response(status_code=202, headers={"location": location, "range": "0-0"})

    async def session(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(status_code=401)
        data = self.sessions.get(request.path_params["uid"])
        if data is None:
            return JSONResponse({"errors": [{"code": "BLOB_UPLOAD_UNKNOWN"}]}, status_code=404)
        async for chunk in request.stream():
            data.extend(chunk)
        if request.method == "PATCH":
            return Response(
                status_code=202,
                headers={"location": request.url.path, "range": f"0-{len(data) - 1}"},
            )
        digest = request.query_params["digest"]
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            return JSONResponse({"errors": [{"code": "DIGEST_INVALID"}]}, status_code=400)
        self.blobs[digest] = bytes(data)
        return Response(status_code=201, headers={"docker-content-digest": digest})

    async def blob(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(status_code=401)
        data = self.blobs.get(request.path_params["digest"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")


class GarDouble(Minting):
    def __init__(self, endpoint: str) -> None:
        super().__init__("gar", "my-project/docker")
        self.endpoint = endpoint

    def registry_endpoint(self) -> str:
        return self.endpoint

    async def generate_credentials(
        self, repo_id: str, permissions: ArtifactRegistryPermissions, ttl_seconds: int | None = None
    ) -> ArtifactRegistryCredentials:
        self.calls.append((repo_id, permissions, ttl_seconds))
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BEARER, username="", password=TOKEN
        )


@pytest.fixture
def gar() -> Iterator[tuple[GarUploads, str]]:
    fake = GarUploads()
    with LoopbackServer(fake.app) as server:
        yield fake, server.base_url


def test_gar_upload_sessions_are_signed_and_routed_by_their_signature(
    gar: tuple[GarUploads, str],
) -> None:
    fake, url = gar
    registry = GarDouble(url)
    key = b"k" * 32
    app = ProxyApp(
        RoutingTable.build([("gar", registry)]),
        ClientAuth(None, TokenIssuer(key, service="artreg-proxy"), None),
        UploadSigner(key),
    )
    repo = "my-project/docker/team/web"
    blob = os.urandom(50_000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with start_proxy(ProxyConfig(port=0), app=app) as proxy, httpx.Client(timeout=30) as client:
        start = client.post(f"{proxy.url}/v2/{repo}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["location"]
        prefix = f"{proxy.url}/artifacts-uploads/namespaces/my-project/repositories/docker/uploads/"
        assert location.startswith(prefix)
        assert "_artreg_repo=my-project%2Fdocker%2Fteam%2Fweb" in location
        patch = client.patch(location, content=blob[:20_000])
        assert patch.status_code == 202, patch.text
        location = patch.headers["location"]
        assert location.startswith(prefix) and "_artreg_sig=" in location
        patch = client.patch(location, content=blob[20_000:])
        unsigned = location.split("?", 1)[0]
        assert client.put(f"{unsigned}?digest={digest}").status_code == 403
        done = client.put(f"{patch.headers['location']}&digest={digest}")
        assert done.status_code == 201, done.text
        fetched = client.get(f"{proxy.url}/v2/{repo}/blobs/{digest}")
        assert fetched.content == blob
    assert fake.blobs[digest] == blob
    assert fake.unauthorized == []  # every upstream request carried the bearer token
    assert {c[0] for c in registry.calls} == {repo}
