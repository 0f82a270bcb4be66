"""Local stand-ins for Microsoft Entra ID (Azure AD) and an Azure Container Registry.

They follow the official definitions, not artreg's code:

* Entra ID: the Microsoft identity platform's OAuth 2.0 client-credentials flow ("Microsoft
  identity platform and the OAuth 2.0 client credentials flow"; tenant discovery through
  ``/.well-known/openid-configuration``), as azure-identity's ClientSecretCredential drives it;
  error replies carry ``AADSTS`` codes (7000215: a bad secret; 500011: a resource — audience —
  unknown in the tenant).
* ACR: the ``Azure/acr`` repository's ``docs/AAD-OAuth.md`` (``/oauth2/exchange`` turns an
  Entra ID access token into an ACR refresh token, ``/oauth2/token`` a refresh token into an
  access token for a scope) and azure-containerregistry's ``_exchange_client.py``
  (``grant_type=access_token``, ``service``, ``access_token``; the refresh token is a JWT whose
  ``exp`` the SDK reads); ``docker-credential-acr-env`` (a helper answers ``<token>`` and the
  refresh token, which Docker-style clients spend at ``/oauth2/token`` — distribution's
  ``docs/spec/auth/oauth.md``, with ``client_id`` and optionally ``access_type``); ACR's
  authentication overview for the audiences: tokens for ``https://containerregistry.azure.net``
  are always accepted, tokens for the cloud's ARM audience only while ARM-audience tokens are
  enabled on the registry (:attr:`FakeAcr.arm_audience_disabled` turns that off, as the
  ``azureADAuthenticationAsArmPolicy`` does); sovereign clouds serve ``{name}.azurecr.cn`` and
  ``{name}.azurecr.us`` with their own authority and ARM audience.

:class:`FakeAzureAd` serves, over HTTPS (azure-identity refuses anything else):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` — tenant discovery;
* ``POST /{tenant}/oauth2/v2.0/token`` — the client-credentials grant (form ``client_id``,
  ``client_secret``, ``grant_type=client_credentials``, ``scope``), answering
  ``{token_type, expires_in, ext_expires_in, access_token}``.

:class:`FakeAcr` serves a registry ``{name}.{azurecr.io|azurecr.cn|azurecr.us}``:

* ``POST /oauth2/exchange`` — form ``grant_type=access_token``, ``service``, ``access_token``,
  optional ``tenant`` → ``{refresh_token}`` (a JWT with ``exp``, three hours);
* ``POST /oauth2/token`` — form ``grant_type=refresh_token``, ``service``, ``scope`` (repeated
  or space-separated), ``refresh_token``, optional ``client_id``/``access_type`` →
  ``{access_token}``: a JWT whose ``access`` claim holds what was asked *and* granted to the
  identity (:attr:`FakeAcr.grants`), whose ``exp`` says when it expires (opaque tokens on
  request);
* ``GET``/``HEAD`` ``/v2/``, ``/v2/{repo}/manifests/{ref}``, ``/v2/{repo}/blobs/{digest}`` —
  bearer-checked: the token must grant ``pull`` on that repository; without one the reply is
  401 with ACR's ``WWW-Authenticate: Bearer realm=…,service=…`` challenge. With
  :attr:`FakeAcr.storage` set, a blob ``GET`` is answered with 307 to a pre-signed URL on that
  storage host, as ACR redirects to Azure Blob Storage.

:func:`docker_style_pull` is a client written from the Docker side (distribution's token
spec), independent of artreg: it spends a credential helper's ``<token>`` secret at the realm
as a refresh token. Both fakes record requests the real service would refuse in
``violations`` (and answer with the service's error shape); tests assert the list is empty at
teardown.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ACR_AUDIENCE",
    "ARM_AUDIENCES",
    "FakeAcr",
    "FakeAzureAd",
    "StaticTokenCredential",
    "docker_style_pull",
]

#: The ACR audience, the same in every cloud.
ACR_AUDIENCE = "https://containerregistry.azure.net"
#: Each cloud's ARM audience and ACR domain.
ARM_AUDIENCES = {
    "AzureCloud": "https://management.azure.com",
    "AzureChinaCloud": "https://management.chinacloudapi.cn",
    "AzureUSGovernment": "https://management.usgovcloudapi.net",
}
ACR_DOMAINS = {
    "AzureCloud": "azurecr.io",
    "AzureChinaCloud": "azurecr.cn",
    "AzureUSGovernment": "azurecr.us",
}
MANAGEMENT_SCOPE = "https://management.azure.com/.default"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """An HS256 JWT (signed with a throwaway key; nobody but the fake checks it)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    import hmac

    sig = hmac.new(b"fake-acr-key", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(sig)}"


async def _form_pairs(request: Request) -> list[tuple[str, str]] | None:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    return parse_qsl((await request.body()).decode(), keep_blank_values=True)


async def _form(request: Request) -> dict[str, str] | None:
    pairs = await _form_pairs(request)
    return None if pairs is None else dict(pairs)


class FakeAzureAd:
    """The tenant's OAuth 2.0 endpoints; ``base_url`` must be set once the server runs."""

    def __init__(
        self, *, tenant_id: str, client_id: str, client_secret: str, cloud: str = "AzureCloud"
    ) -> None:
        self.cloud = cloud
        self.arm_audience = ARM_AUDIENCES[cloud]
        #: Audiences (resources) the tenant does not know: AADSTS500011, as for a tenant where
        #: the resource's service principal is not provisioned.
        self.unknown_audiences: set[str] = set()
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.base_url = ""
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.token_forms: list[dict[str, str]] = []
        self.issued: dict[str, tuple[str, float]] = {}  # token → (scope, expires)
        #: When set, the token endpoint holds its reply until the test opens this gate (proof
        #: that the client's event loop kept running while a token was being fetched).
        self.gate: threading.Event | None = None
        self.gate_reached = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/{path:path}", self._unexpected, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    def issue_token(self, scope: str = ACR_AUDIENCE + "/.default", lifetime: int = 3600) -> str:
        token = make_jwt(
            {
                "aud": scope.removesuffix("/.default"),
                "tid": self.tenant_id,
                "appid": self.client_id,
                "exp": int(time.time()) + lifetime,
                "jti": secrets.token_hex(8),
            }
        )
        self.issued[token] = (scope, time.time() + lifetime)
        return token

    def audience_of(self, token: str) -> str | None:
        """The audience of a token this tenant issued and that has not expired."""
        entry = self.issued.get(token)
        if entry is None or entry[1] <= time.time():
            return None
        return entry[0].removesuffix("/.default")

    def _violation(self, request: Request, message: str) -> None:
        self.violations.append(f"{request.method} {request.url.path}: {message}")

    async def _unexpected(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        self._violation(request, "unexpected request")
        return JSONResponse({"error": "invalid_request"}, 404)

    async def _discovery(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        tenant = request.path_params["tenant"]
        if tenant != self.tenant_id:
            return JSONResponse(
                {"error": "invalid_tenant", "error_description": f"Tenant '{tenant}' not found."},
                400,
            )
        base = f"{self.base_url}/{tenant}"
        return JSONResponse(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": None,
            }
        )

    async def _token(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if self.gate is not None:
            self.gate_reached.set()
            if not await asyncio.to_thread(self.gate.wait, 10):
                self._violation(request, "the gate was never opened: the client blocked its loop")
        form = await _form(request)
        if form is None:
            self._violation(request, "token request is not form-encoded")
            return JSONResponse({"error": "invalid_request"}, 400)
        self.token_forms.append({k: v for k, v in form.items() if k != "client_secret"})
        if request.path_params["tenant"] != self.tenant_id:
            self._violation(request, "wrong tenant")
            return JSONResponse({"error": "invalid_tenant"}, 400)
        if form.get("grant_type") != "client_credentials":
            self._violation(request, f"grant_type {form.get('grant_type')!r}")
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != self.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            # a wrong secret is not a protocol violation: AAD answers 401 invalid_client
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
                401,
            )
        scope = form.get("scope", "")
        known = {f"{ACR_AUDIENCE}/.default", f"{self.arm_audience}/.default"}
        if len(scope.split()) != 1 or scope not in known:
            # a client-credentials request names one resource's /.default scope
            self._violation(request, f"scope {scope!r}")
            return JSONResponse({"error": "invalid_scope"}, 400)
        if scope.removesuffix("/.default") in self.unknown_audiences:
            resource = scope.removesuffix("/.default")
            return JSONResponse(
                {
                    "error": "invalid_resource",
                    "error_description": f"AADSTS500011: The resource principal named {resource} "
                    f"was not found in the tenant named {self.tenant_id}.",
                    "error_codes": [500011],
                },
                400,
            )
        token = self.issue_token(scope)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )


@dataclass
class _AcrToken:
    access: list[tuple[str | None, list[str]]]  # (repository, actions); None: the catalog
    expires: float


@dataclass
class _Manifest:
    body: bytes
    media_type: str
    digest: str


@dataclass
class _Repo:
    manifests: dict[str, _Manifest] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


class FakeAcr:
    """A registry ``{registry_name}.azurecr.io`` that trusts tokens from ``aad``."""

    def __init__(
        self,
        *,
        registry_name: str,
        aad: FakeAzureAd,
        arm_audience_disabled: bool = False,
        grants: dict[str, set[str]] | None = None,
        storage: Any = None,
    ) -> None:
        self.registry_name = registry_name
        self.service = f"{registry_name}.{ACR_DOMAINS[aad.cloud]}"
        self.aad = aad
        #: Refuse Entra ID tokens for the ARM audience at the exchange (the registry's
        #: ``azureADAuthenticationAsArmPolicy`` disabled, a common landing-zone policy).
        self.arm_audience_disabled = arm_audience_disabled
        #: What the identity may do, by repository (None: everything, as with AcrPush);
        #: a token grants what was asked and is allowed.
        self.grants = grants
        #: When set (a :class:`tests.fakes.blob_storage.FakeBlobStorage`), blob GETs are
        #: redirected (307) to a pre-signed URL on that storage host.
        self.storage = storage
        self.exchange_audiences: list[str] = []
        self.base_url = ""
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.exchange_forms: list[dict[str, str]] = []
        self.token_forms: list[dict[str, str]] = []
        self.refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, _AcrToken] = {}
        self.repositories: dict[str, _Repo] = {}
        #: Issue opaque (non-JWT) access tokens.
        self.opaque_tokens = False
        #: Answer the next exchange/token call with this (status, body) instead.
        self.exchange_reply: tuple[int, str] | None = None
        self.token_reply: tuple[int, str] | None = None
        self.token_lifetime = 1200
        self.app = Starlette(
            routes=[
                Route("/oauth2/exchange", self._exchange, methods=["POST"]),
                Route("/oauth2/token", self._token, methods=["POST"]),
                Route("/v2/", self._v2_root, methods=["GET", "HEAD"]),
                Route("/v2/{rest:path}", self._v2, methods=["GET", "HEAD"]),
                Route(
                    "/{path:path}",
                    self._unexpected,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                ),
            ]
        )

    # -- content --------------------------------------------------------------------------------

    def put_manifest(self, repo: str, tag: str, body: bytes, media_type: str) -> str:
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        entry = _Manifest(body, media_type, digest)
        store = self.repositories.setdefault(repo, _Repo())
        store.manifests[tag] = entry
        store.manifests[digest] = entry
        return digest

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.repositories.setdefault(repo, _Repo()).blobs[digest] = data
        return digest

    def scope_of(self, token: str) -> tuple[str | None, list[str]] | None:
        """The (repository, actions) of a single-scope access token; None when unknown."""
        entry = self.access_tokens.get(token)
        return None if entry is None or not entry.access else entry.access[0]

    def refresh_token_valid(self, token: str) -> bool:
        return token in self.refresh_tokens

    # -- helpers --------------------------------------------------------------------------------

    def _violation(self, request: Request, message: str) -> None:
        self.violations.append(f"{request.method} {request.url.path}: {message}")

    @staticmethod
    def _acr_error(
        status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        return JSONResponse(
            {"errors": [{"code": code, "message": message, "detail": None}]},
            status,
            headers=headers,
        )

    def _challenge(self, scope: str | None) -> dict[str, str]:
        value = f'Bearer realm="{self.base_url}/oauth2/token",service="{self.service}"'
        if scope:
            value += f',scope="{scope}"'
        return {"WWW-Authenticate": value}

    async def _unexpected(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        self._violation(request, "unexpected request")
        return self._acr_error(404, "NOT_FOUND", "not found")

    def _check_form(
        self, request: Request, form: dict[str, str] | None, required: set[str], optional: set[str]
    ) -> bool:
        if form is None:
            self._violation(request, "not form-encoded")
            return False
        missing = required - set(form)
        extra = set(form) - required - optional
        if missing or extra:
            self._violation(
                request, f"form fields: missing {sorted(missing)}, extra {sorted(extra)}"
            )
            return False
        if form["service"] != self.service:
            self._violation(request, f"service {form['service']!r}, expected {self.service!r}")
            return False
        return True

    # -- OAuth ----------------------------------------------------------------------------------

    async def _exchange(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        form = await _form(request)
        if form is not None:
            self.exchange_forms.append(dict(form))
        if not self._check_form(
            request, form, {"grant_type", "service", "access_token"}, {"tenant"}
        ):
            return self._acr_error(400, "BAD_REQUEST", "invalid request")
        assert form is not None
        if form["grant_type"] != "access_token":
            self._violation(request, f"grant_type {form['grant_type']!r}")
            return self._acr_error(400, "BAD_REQUEST", "unsupported grant type")
        if self.exchange_reply is not None:
            status, body = self.exchange_reply
            self.exchange_reply = None
            return Response(body, status, media_type="application/json")
        audience = self.aad.audience_of(form["access_token"])
        if audience not in (ACR_AUDIENCE, self.aad.arm_audience):
            return self._acr_error(401, "UNAUTHORIZED", "the AAD access token is invalid")
        if audience == self.aad.arm_audience and self.arm_audience_disabled:
            return self._acr_error(
                401,
                "UNAUTHORIZED",
                "ARM audience tokens are disabled for this registry; "
                f"use a token for {ACR_AUDIENCE}",
            )
        self.exchange_audiences.append(audience)
        refresh = make_jwt(
            {
                "grant_type": "refresh_token",
                "exp": int(time.time()) + 10800,
                "jti": secrets.token_hex(8),
            }
        )
        self.refresh_tokens.add(refresh)
        return JSONResponse({"refresh_token": refresh})

    async def _token(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        pairs = await _form_pairs(request)
        form = None if pairs is None else dict(pairs)
        if form is not None:
            self.token_forms.append(dict(form))
        if not self._check_form(
            request,
            form,
            {"grant_type", "service", "scope", "refresh_token"},
            {"client_id", "access_type"},
        ):
            return self._acr_error(400, "BAD_REQUEST", "invalid request")
        assert form is not None and pairs is not None
        if form["grant_type"] != "refresh_token":
            self._violation(request, f"grant_type {form['grant_type']!r}")
            return self._acr_error(400, "BAD_REQUEST", "unsupported grant type")
        if self.token_reply is not None:
            status, body = self.token_reply
            self.token_reply = None
            return Response(body, status, media_type="application/json")
        if form["refresh_token"] not in self.refresh_tokens:
            return self._acr_error(401, "UNAUTHORIZED", "the refresh token is invalid")
        scopes = [part for key, value in pairs if key == "scope" for part in value.split()]
        access: list[tuple[str | None, list[str]]] = []
        for scope in scopes:
            parts = scope.split(":")
            if scope == "registry:catalog:*":
                access.append((None, ["*"]))
            elif (
                len(parts) == 3
                and parts[0] == "repository"
                and parts[1]
                and set(parts[2].split(",")) <= {"pull", "push", "delete", "metadata_read"}
            ):
                asked = parts[2].split(",")
                allowed = None if self.grants is None else self.grants.get(parts[1], set())
                access.append((parts[1], [a for a in asked if allowed is None or a in allowed]))
            else:
                self._violation(request, f"unexpected scope {scope!r}")
                return self._acr_error(400, "BAD_REQUEST", "invalid scope")
        expires = int(time.time()) + self.token_lifetime
        if self.opaque_tokens:
            token = "opaque-" + secrets.token_urlsafe(32)
        else:
            token = make_jwt(
                {
                    "jti": secrets.token_hex(8),
                    "sub": "fake-client",
                    "nbf": int(time.time()) - 5,
                    "exp": expires,
                    "iat": int(time.time()),
                    "iss": "Azure Container Registry",
                    "aud": self.service,
                    "version": "1.0",
                    "grant_type": "refresh_token",
                    "access": [
                        {
                            "type": "registry" if repository is None else "repository",
                            "name": "catalog" if repository is None else repository,
                            "actions": actions,
                        }
                        for repository, actions in access
                    ],
                }
            )
        self.access_tokens[token] = _AcrToken(access, expires)
        return JSONResponse({"access_token": token})

    # -- registry API ---------------------------------------------------------------------------

    def _authorized(self, request: Request, repository: str | None) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        entry = self.access_tokens.get(header[len("Bearer ") :])
        if entry is None or entry.expires < time.time():
            return False
        if repository is None:
            return True
        return any(name == repository and "pull" in actions for name, actions in entry.access)

    async def _v2_root(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if not self._authorized(request, None):
            return self._acr_error(
                401, "UNAUTHORIZED", "authentication required", self._challenge(None)
            )
        return JSONResponse({}, headers={"Docker-Distribution-API-Version": "registry/2.0"})

    async def _v2(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        rest: str = request.path_params["rest"]
        for kind in ("/manifests/", "/blobs/"):
            repo, sep, ref = rest.rpartition(kind)
            if sep:
                break
        else:
            self._violation(request, "unexpected registry path")
            return self._acr_error(404, "NOT_FOUND", "not found")
        scope = f"repository:{repo}:pull"
        if not self._authorized(request, repo):
            return self._acr_error(
                401, "UNAUTHORIZED", "authentication required", self._challenge(scope)
            )
        head = request.method == "HEAD"
        store = self.repositories.get(repo)
        if kind == "/manifests/":
            if not request.headers.get("accept"):
                self._violation(request, "manifest request without Accept")
            manifest = store.manifests.get(ref) if store else None
            if manifest is None:
                return self._acr_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            headers = {
                "Docker-Content-Digest": manifest.digest,
                "Content-Length": str(len(manifest.body)),
            }
            return Response(
                b"" if head else manifest.body, 200, headers=headers, media_type=manifest.media_type
            )
        blob = store.blobs.get(ref) if store else None
        if blob is None:
            return self._acr_error(404, "BLOB_UNKNOWN", "blob unknown")
        if self.storage is not None and not head:
            # ACR serves blob content from Azure Blob Storage through a short-lived SAS URL
            location = self.storage.presign(self.storage.put(blob))
            return Response(status_code=307, headers={"Location": location})
        headers = {"Docker-Content-Digest": ref, "Content-Length": str(len(blob))}
        return Response(
            b"" if head else blob, 200, headers=headers, media_type="application/octet-stream"
        )


class StaticTokenCredential:
    """A minimal azure-identity-style credential for unit tests: ``get_token`` returns a token
    the fake AAD issued (and records the scopes asked for)."""

    def __init__(self, aad: FakeAzureAd) -> None:
        self.aad = aad
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls.append(scopes)
        return AccessToken(self.aad.issue_token(scopes[0]), int(time.time()) + 3600)


def docker_style_pull(
    base_url: str,
    secret: str,
    repository: str,
    reference: str,
    *,
    verify: Any = True,
) -> tuple[int, bytes]:
    """Fetch a manifest the way Docker does with a credential helper's identity token
    (Username ``<token>``): ping ``/v2/``, read the Bearer challenge, spend ``secret`` at the
    realm as a refresh token (distribution's ``docs/spec/auth/oauth.md``: ``grant_type=
    refresh_token``, ``client_id``, ``service``, ``scope``), then GET the manifest with the
    access token. Returns the manifest's status and body."""
    import ssl

    import httpx

    from artreg.oci.auth import parse_challenges

    if isinstance(verify, str):
        verify = ssl.create_default_context(cafile=verify)
    with httpx.Client(base_url=base_url, verify=verify, timeout=30) as client:
        ping = client.get("/v2/")
        assert ping.status_code == 401, ping.status_code
        (challenge,) = parse_challenges(ping.headers["www-authenticate"])
        assert challenge.scheme == "bearer"
        reply = client.post(
            challenge.params["realm"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": secret,
                "client_id": "docker",
                "service": challenge.params["service"],
                "scope": f"repository:{repository}:pull",
            },
        )
        if reply.status_code != 200:
            return reply.status_code, reply.content
        token = reply.json()["access_token"]
        manifest = client.get(
            f"/v2/{repository}/manifests/{reference}",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.oci.image.manifest.v1+json",
            },
        )
        return manifest.status_code, manifest.content
