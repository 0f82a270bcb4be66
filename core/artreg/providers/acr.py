"""Azure Container Registry (ACR) provider on azure-identity (reference §3.3, with fixes).

Repositories in ACR are implicit: create, get and delete make no call. Routable names are the
logical name, or ``{repositoryPrefix}/{logical}`` when the binding sets a prefix.
``generate_credentials`` runs ACR's stateless three-step OAuth flow: an Entra ID (AAD) token for
``https://management.azure.com/.default`` → ``POST /oauth2/exchange`` (a refresh token) →
``POST /oauth2/token`` (an access token scoped to the repository), used as a bearer token.

Configuration, read from the environment given to :func:`from_binding`:

``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``
    A service principal (ClientSecretCredential). With none of them set, azure-identity's
    DefaultAzureCredential chain is used; with only some, the configuration is invalid.
``AZURE_AUTHORITY_HOST``
    The Entra ID authority (default ``login.microsoftonline.com``). For a host that is not a
    known Azure cloud, instance discovery is turned off.
``ARTREG_AZURE_DISABLE_INSTANCE_DISCOVERY``
    ``true``/``false``: force instance discovery off or on.
``ARTREG_AZURE_CA_BUNDLE``
    A PEM file of CAs to trust for Entra ID, the OAuth calls and registry reads. Without it,
    azure-identity honours ``REQUESTS_CA_BUNDLE`` and the registry calls ``SSL_CERT_FILE``
    (both read from the process environment), else the system's CAs.
``ARTREG_ACR_LOGIN_SERVER``
    Base URL of the login server, e.g. ``https://127.0.0.1:8443`` (default
    ``https://{registryName}.azurecr.io``); the OAuth ``service`` stays
    ``{registryName}.azurecr.io``.

azure-identity is synchronous: token requests run in a worker thread. No error message ever
holds a token: reply bodies are redacted before they are quoted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import ssl
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx

from artreg.binding import AcrBinding, resolve_value
from artreg.errors import (
    AuthenticationError,
    ClientConfigInvalid,
    Other,
)
from artreg.providers._naming import check_repository_path
from artreg.providers._no_cross_account import NoCrossAccountAccess
from artreg.providers._oci import RegistryDataMixin
from artreg.providers._per_loop import PerLoopClient
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
    RepositoryResponse,
    format_timestamp,
    utc_now,
)

__all__ = [
    "MANAGEMENT_SCOPE",
    "AcrArtifactRegistry",
    "TokenCredential",
    "acr_scope",
    "from_binding",
    "redact",
]

#: The AAD scope whose token ACR's ``/oauth2/exchange`` accepts.
MANAGEMENT_SCOPE: Final = "https://management.azure.com/.default"
#: How long an ACR access token is assumed to live when it is not a JWT (ACR's default).
DEFAULT_TOKEN_SECONDS: Final = 300
_CROSS_ACCOUNT_REASON: Final = (
    "Azure Container Registry uses token-based access via generate_credentials - "
    "cross-account permissions are not supported"
)
_KNOWN_AUTHORITY_HOSTS: Final = frozenset(
    {"login.microsoftonline.com", "login.chinacloudapi.cn", "login.microsoftonline.us"}
)
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_TOKEN_FIELD: Final = re.compile(
    r'("?[A-Za-z_]*(?:token|secret|password)[A-Za-z_]*"?\s*[:=]\s*"?)[^"&,\s}]+', re.IGNORECASE
)
_MAX_QUOTED_BODY: Final = 500


class _AccessTokenLike(Protocol):
    @property
    def token(self) -> str: ...


class TokenCredential(Protocol):
    """What azure-identity credentials offer (and what tests may inject)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> _AccessTokenLike: ...


def acr_scope(repo_id: str, permissions: ArtifactRegistryPermissions) -> str:
    """The ACR token scope: the catalog for ``""``, else pull (or pull,push) on the repo."""
    if repo_id == "":
        return "registry:catalog:*"
    actions = "pull" if permissions == ArtifactRegistryPermissions.PULL else "pull,push"
    return f"repository:{repo_id}:{actions}"


def redact(body: str, secrets: Iterable[str] = ()) -> str:
    """A reply body safe to quote in an error: known secrets, JWT-shaped strings and the values
    of token/secret/password fields are replaced, and the text is cut short."""
    for secret in secrets:
        if secret:
            body = body.replace(secret, "[redacted]")
    body = _JWT.sub("[redacted]", body)
    body = _TOKEN_FIELD.sub(r"\1[redacted]", body)
    if len(body) > _MAX_QUOTED_BODY:
        body = body[:_MAX_QUOTED_BODY] + "…"
    return body


def jwt_expiry(token: str) -> int | None:
    """The ``exp`` claim of a JWT (read, not verified), or None when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return int(exp)


class AcrArtifactRegistry(NoCrossAccountAccess, RegistryDataMixin, ArtifactRegistry):
    """Repositories of one ACR registry, with bearer tokens from ACR's OAuth endpoints."""

    cross_account_reason = _CROSS_ACCOUNT_REASON

    def __init__(
        self,
        *,
        registry_name: str,
        resource_group_name: str,
        credential: TokenCredential,
        repository_prefix: str | None = None,
        binding_name: str = "",
        login_server_url: str | None = None,
        verify: str | bool = True,
        http_client: httpx.AsyncClient | None = None,
        owns_credential: bool = False,
    ) -> None:
        self.registry_name = registry_name
        self.resource_group_name = resource_group_name
        self.repository_prefix = repository_prefix or ""
        self.binding_name = binding_name
        self._credential = credential
        self._owns_credential = owns_credential
        self._login_server_url = (login_server_url or "").rstrip("/") or None
        self._verify = verify
        self._http = PerLoopClient(
            lambda: httpx.AsyncClient(verify=self._ssl_context(), timeout=httpx.Timeout(30.0)),
            http_client,
        )

    def __repr__(self) -> str:
        return (
            f"AcrArtifactRegistry(registry_name={self.registry_name!r}, "
            f"repository_prefix={self.repository_prefix!r})"
        )

    # -- names -----------------------------------------------------------------------------------

    @property
    def login_server(self) -> str:
        """``{registry}.azurecr.io``: the host in image URIs and the OAuth ``service``."""
        return f"{self.registry_name}.azurecr.io"

    def registry_endpoint(self) -> str:
        return f"https://{self.login_server}"

    def registry_data_endpoint(self) -> str:
        """Where the registry and its OAuth endpoints are reached (overridable for tests)."""
        return self._login_server_url or self.registry_endpoint()

    def upstream_repository_prefix(self) -> str:
        return self.repository_prefix

    def _response(self, name: str) -> RepositoryResponse:
        return RepositoryResponse(name=name, uri=f"{self.login_server}/{name}", created_at=None)

    # -- repositories (implicit) -----------------------------------------------------------------

    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        """No API call: ACR creates a repository on first push."""
        name = f"{self.repository_prefix}/{repo_name}" if self.repository_prefix else repo_name
        check_repository_path(name, operation="create_repository", field_name="repo_name")
        return self._response(name)

    async def get_repository(self, repo_id: str) -> RepositoryResponse:
        """No API call; ``repo_id`` is the routable name, used as it is."""
        check_repository_path(repo_id, operation="get_repository", field_name="repo_id")
        return self._response(repo_id)

    async def delete_repository(self, repo_id: str) -> None:
        """A no-op: the registry (and its repositories) are never deleted from here."""
        return None

    # -- credentials -----------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext | bool:
        """The CA bundle when one is configured; else the defaults (``SSL_CERT_FILE`` honoured)."""
        if isinstance(self._verify, str):
            return ssl.create_default_context(cafile=self._verify)
        if self._verify is False:
            return False
        return httpx.create_ssl_context(trust_env=True)

    def registry_data_transport(self) -> httpx.AsyncBaseTransport:
        """Registry reads trust the same CAs as the OAuth calls."""
        return httpx.AsyncHTTPTransport(verify=self._ssl_context())

    async def aclose(self) -> None:
        await self._http.aclose()
        await super().aclose()
        close = getattr(self._credential, "close", None)
        if self._owns_credential and callable(close):
            await asyncio.to_thread(close)

    async def _aad_token(self) -> str:
        try:
            access = await asyncio.to_thread(self._credential.get_token, MANAGEMENT_SCOPE)
        except Exception as exc:  # azure-identity raises several unrelated types
            summary = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AuthenticationError(
                operation_context="Getting an Azure AD token for ACR",
                details=redact(summary),
            ) from None
        return str(access.token)

    async def _post_form(
        self, path: str, form: dict[str, str], step: str, secrets: list[str]
    ) -> dict[str, Any]:
        url = f"{self.registry_data_endpoint()}{path}"
        try:
            response = await self._http.get().post(url, data=form)
        except httpx.HTTPError as exc:
            raise Other(
                message=f"ACR OAuth2 {step} request failed ({type(exc).__name__})"
            ) from None
        if response.status_code // 100 != 2:
            raise Other(
                message=(
                    f"ACR OAuth2 {step} failed with {response.status_code}: "
                    f"{redact(response.text, secrets)}"
                )
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}

    async def generate_credentials(
        self,
        repo_id: str,
        permissions: ArtifactRegistryPermissions,
        ttl_seconds: int | None = None,
    ) -> ArtifactRegistryCredentials:
        """A bearer token for the repository (``""``: the catalog), from ACR's OAuth flow.
        ``ttl_seconds`` is not used: ACR decides the lifetime, read from the token itself."""
        if repo_id:
            check_repository_path(repo_id, operation="generate_credentials", field_name="repo_id")
        aad_token = await self._aad_token()
        exchanged = await self._post_form(
            "/oauth2/exchange",
            {"grant_type": "access_token", "service": self.login_server, "access_token": aad_token},
            "exchange",
            [aad_token],
        )
        refresh_token = exchanged.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise Other(message="Failed to parse ACR exchange response")
        issued = await self._post_form(
            "/oauth2/token",
            {
                "grant_type": "refresh_token",
                "service": self.login_server,
                "scope": acr_scope(repo_id, permissions),
                "refresh_token": refresh_token,
            },
            "token",
            [aad_token, refresh_token],
        )
        access_token = issued.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise Other(message="Failed to parse ACR token response")
        exp = jwt_expiry(access_token)
        expires_at = (
            format_timestamp(exp)
            if exp is not None
            else format_timestamp(utc_now() + timedelta(seconds=DEFAULT_TOKEN_SECONDS))
        )
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BEARER,
            username="",
            password=access_token,
            expires_at=expires_at,
        )


# -- construction from a binding -----------------------------------------------------------------


def _azure_config_error(message: str) -> ClientConfigInvalid:
    return ClientConfigInvalid(platform="azure", message=message)


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise _azure_config_error(f"ARTREG_AZURE_DISABLE_INSTANCE_DISCOVERY={value!r} is not a boolean")


def credential_from_env(env: Mapping[str, str]) -> TokenCredential:
    """ClientSecretCredential from ``AZURE_TENANT_ID``/``AZURE_CLIENT_ID``/
    ``AZURE_CLIENT_SECRET``; DefaultAzureCredential when none is set."""
    from azure.identity import ClientSecretCredential, DefaultAzureCredential

    names = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
    values = {name: env.get(name) or "" for name in names}
    missing = [name for name in names if not values[name]]
    options: dict[str, Any] = {}
    authority = env.get("AZURE_AUTHORITY_HOST")
    if authority:
        host = urlsplit(authority if "://" in authority else f"https://{authority}").hostname
        options["authority"] = authority
        discovery_off = _flag(env.get("ARTREG_AZURE_DISABLE_INSTANCE_DISCOVERY"))
        if discovery_off is None:
            discovery_off = host not in _KNOWN_AUTHORITY_HOSTS
        if discovery_off:
            options["disable_instance_discovery"] = True
    elif (flag := _flag(env.get("ARTREG_AZURE_DISABLE_INSTANCE_DISCOVERY"))) is not None:
        options["disable_instance_discovery"] = flag
    ca_bundle = env.get("ARTREG_AZURE_CA_BUNDLE")
    if ca_bundle:
        options["connection_verify"] = ca_bundle
    if len(missing) == len(names):
        credential: TokenCredential = DefaultAzureCredential(**options)
        return credential
    if missing:
        raise _azure_config_error(f"Azure config not available: {', '.join(missing)} not set")
    try:
        return ClientSecretCredential(
            values["AZURE_TENANT_ID"],
            values["AZURE_CLIENT_ID"],
            values["AZURE_CLIENT_SECRET"],
            **options,
        )
    except ValueError as exc:  # e.g. an http:// authority or a malformed tenant id
        raise _azure_config_error(f"Azure config invalid: {exc}") from None


def from_binding(
    binding_name: str,
    binding: AcrBinding,
    env: Mapping[str, str],
    *,
    credential: TokenCredential | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> AcrArtifactRegistry:
    """An ACR provider for an ``acr`` binding, configured from ``env`` (see the module doc).
    ``credential`` (anything with azure-identity's ``get_token``) replaces the environment's."""
    registry_name = resolve_value(binding_name, "registry_name", binding.registry_name)
    resource_group = resolve_value(binding_name, "resource_group_name", binding.resource_group_name)
    prefix = resolve_value(
        binding_name, "repository_prefix", binding.repository_prefix, required=False
    )
    assert registry_name is not None and resource_group is not None
    owns = credential is None
    if credential is None:
        credential = credential_from_env(env)
    ca_bundle = env.get("ARTREG_AZURE_CA_BUNDLE")
    return AcrArtifactRegistry(
        registry_name=registry_name,
        resource_group_name=resource_group,
        repository_prefix=prefix,
        credential=credential,
        binding_name=binding_name,
        login_server_url=env.get("ARTREG_ACR_LOGIN_SERVER") or None,
        verify=ca_bundle or True,
        http_client=http_client,
        owns_credential=owns,
    )
