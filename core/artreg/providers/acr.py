"""Azure Container Registry (ACR) provider on azure-identity.

Repositories in ACR are implicit: create, get and delete make no call. Routable names are the
logical name, or ``{repositoryPrefix}/{logical}`` when the binding sets a prefix.
``generate_credentials`` runs ACR's three-step OAuth flow (the ``Azure/acr`` repository's
``docs/AAD-OAuth.md``; azure-containerregistry's ``_exchange_client.py`` is the SDK's side): an
Entra ID token → ``POST /oauth2/exchange`` (an ACR refresh token, kept until shortly before its
``exp``) → ``POST /oauth2/token`` (an access token scoped to the repository), used as a bearer
token. :meth:`AcrArtifactRegistry.identity_token` hands out the refresh token itself, which is
what Docker-style clients expect from a credential helper (``docker-credential-acr-env``).

The Entra ID token is asked for the ACR audience ``https://containerregistry.azure.net``
(accepted by every registry, including those with ARM-audience tokens disabled), then — only
when Entra ID or the exchange refuses it — the cloud's ARM audience. The cloud (public, China,
US Government) comes from the authority host and decides the login server's domain and the
ARM audience.

Configuration, read from the environment given to :func:`from_binding`:

``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``
    A service principal (ClientSecretCredential). With none of them set, azure-identity's
    DefaultAzureCredential chain is used; with only some, the configuration is invalid.
``AZURE_AUTHORITY_HOST``
    The Entra ID authority (default ``login.microsoftonline.com``); ``login.chinacloudapi.cn``
    and ``login.microsoftonline.us`` select the China and US Government clouds. For a host that
    is not a known Azure cloud, instance discovery is turned off.
``ARTREG_AZURE_CLOUD``
    ``AzureCloud``, ``AzureChinaCloud`` or ``AzureUSGovernment`` (the names ``az cloud`` uses):
    the cloud, when the authority host does not tell (a private authority, a test).
``ARTREG_ACR_AUDIENCES``
    Comma-separated Entra ID audiences tried in order (default: the ACR audience, then the
    cloud's ARM audience). A ``/.default`` suffix is added when missing.
``ARTREG_AZURE_DISABLE_INSTANCE_DISCOVERY``
    ``true``/``false``: force instance discovery off or on.
``ARTREG_AZURE_CA_BUNDLE``
    A PEM file of CAs to trust for Entra ID, the OAuth calls and registry reads. Without it,
    azure-identity honours ``REQUESTS_CA_BUNDLE`` and the registry calls ``SSL_CERT_FILE``
    (both read from the process environment), else the system's CAs.
``ARTREG_ACR_LOGIN_SERVER``
    Base URL of the login server, e.g. ``https://127.0.0.1:8443`` (default
    ``https://{registryName}.{cloud's ACR domain}``); the OAuth ``service`` stays the login
    server's host name.

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
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx

from artreg.binding import AcrBinding, resolve_value
from artreg.errors import (
    AuthenticationError,
    ClientConfigInvalid,
    RemoteServiceUnavailable,
    Timeout,
    UnexpectedResponseFormat,
    error_for_status,
)
from artreg.oci.transport import trusted_ssl_context
from artreg.providers._naming import check_repository_path
from artreg.providers._no_cross_account import NoCrossAccountAccess
from artreg.providers._oci import RegistryDataMixin
from artreg.providers._per_loop import PerLoop, PerLoopClient
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
    "ACR_AUDIENCE",
    "CLOUDS",
    "AcrArtifactRegistry",
    "AcrOptions",
    "AzureCloud",
    "TokenCredential",
    "acr_scope",
    "cloud_for",
    "from_binding",
    "redact",
]

#: The Entra ID audience of ACR itself, the same in every cloud (azure-sdk-for-go's
#: ``azcontainerregistry`` ``defaultAudience``); registries accept it by default, and it is the
#: only one left when ARM-audience tokens are disabled on the registry.
ACR_AUDIENCE: Final = "https://containerregistry.azure.net"
#: How long an ACR access token is assumed to live when it is not a JWT (ACR's default).
DEFAULT_TOKEN_SECONDS: Final = 300
#: A refresh token is not used within this many seconds of its ``exp``.
_REFRESH_MARGIN: Final = 300.0
#: How long a refresh token that is not a JWT is kept (ACR's refresh tokens live 3 hours).
_OPAQUE_REFRESH_SECONDS: Final = 3600.0
_CROSS_ACCOUNT_REASON: Final = (
    "Azure Container Registry uses token-based access via generate_credentials - "
    "cross-account permissions are not supported"
)
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_TOKEN_FIELD: Final = re.compile(
    r'("?[A-Za-z_]*(?:token|secret|password)[A-Za-z_]*"?\s*[:=]\s*"?)[^"&,\s}]+', re.IGNORECASE
)
_MAX_QUOTED_BODY: Final = 500
#: Docker's username for an identity token (a refresh token the client spends itself).
IDENTITY_TOKEN_USERNAME: Final = "<token>"


@dataclass(frozen=True)
class AzureCloud:
    """An Azure cloud: its ``az cloud`` name, Entra ID authority host, ACR login-server domain
    and ARM audience."""

    name: str
    authority_host: str
    acr_domain: str
    arm_audience: str


#: The clouds ACR runs in, by name (Azure CLI's cloud definitions; the ARM audiences are
#: azure-sdk-for-go's ``cloud.AzurePublic``/``AzureChina``/``AzureGovernment``).
CLOUDS: Final = {
    cloud.name: cloud
    for cloud in (
        AzureCloud(
            "AzureCloud", "login.microsoftonline.com", "azurecr.io", "https://management.azure.com"
        ),
        AzureCloud(
            "AzureChinaCloud",
            "login.chinacloudapi.cn",
            "azurecr.cn",
            "https://management.chinacloudapi.cn",
        ),
        AzureCloud(
            "AzureUSGovernment",
            "login.microsoftonline.us",
            "azurecr.us",
            "https://management.usgovcloudapi.net",
        ),
    )
}
_KNOWN_AUTHORITY_HOSTS: Final = frozenset(c.authority_host for c in CLOUDS.values())


def _authority_hostname(authority: str) -> str:
    return urlsplit(authority if "://" in authority else f"https://{authority}").hostname or ""


def cloud_for(env: Mapping[str, str]) -> AzureCloud:
    """The cloud ``ARTREG_AZURE_CLOUD`` names, else the one whose authority is
    ``AZURE_AUTHORITY_HOST``, else the public cloud."""
    named = env.get("ARTREG_AZURE_CLOUD")
    if named:
        cloud = next((c for n, c in CLOUDS.items() if n.lower() == named.strip().lower()), None)
        if cloud is None:
            raise _azure_config_error(
                f"ARTREG_AZURE_CLOUD={named!r} is not one of {', '.join(CLOUDS)}"
            )
        return cloud
    host = _authority_hostname(env.get("AZURE_AUTHORITY_HOST") or "")
    return next((c for c in CLOUDS.values() if c.authority_host == host), CLOUDS["AzureCloud"])


def _scope(audience: str) -> str:
    audience = audience.strip().rstrip("/")
    return audience if audience.endswith("/.default") else f"{audience}/.default"


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


@dataclass(frozen=True, slots=True)
class AcrOptions:
    """How an :class:`AcrArtifactRegistry` reaches the registry: the login server URL (None:
    ``https://{name}.{cloud domain}``), TLS verification (a CA bundle path, or a bool), the
    HTTP client to use, and whether closing the provider closes the credential too."""

    login_server_url: str | None = None
    verify: str | bool = True
    http_client: httpx.AsyncClient | None = None
    owns_credential: bool = False


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
        cloud: AzureCloud | None = None,
        audiences: Sequence[str] | None = None,
        options: AcrOptions | None = None,
    ) -> None:
        options = options or AcrOptions()
        self.registry_name = registry_name
        self.resource_group_name = resource_group_name
        self.repository_prefix = repository_prefix or ""
        self.binding_name = binding_name
        self.cloud = cloud or CLOUDS["AzureCloud"]
        #: Entra ID audiences tried in order; the one that worked is tried first next time.
        self.audiences = tuple(audiences or (ACR_AUDIENCE, self.cloud.arm_audience))
        self._credential = credential
        self._owns_credential = options.owns_credential
        self._login_server_url = (options.login_server_url or "").rstrip("/") or None
        self._verify = options.verify
        self._http = PerLoopClient(
            lambda: httpx.AsyncClient(verify=self._ssl_context(), timeout=httpx.Timeout(30.0)),
            options.http_client,
        )
        self._refresh: tuple[str, float] | None = None  # (token, exp)
        self._refresh_lock = PerLoop(asyncio.Lock)
        self._audience_first = 0

    def __repr__(self) -> str:
        return (
            f"AcrArtifactRegistry(registry_name={self.registry_name!r}, "
            f"repository_prefix={self.repository_prefix!r}, cloud={self.cloud.name!r})"
        )

    # -- names -----------------------------------------------------------------------------------

    @property
    def login_server(self) -> str:
        """``{registry}.azurecr.io`` (``.azurecr.cn``, ``.azurecr.us`` in the sovereign clouds):
        the host in image URIs and the OAuth ``service``."""
        return f"{self.registry_name}.{self.cloud.acr_domain}"

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

    # -- HTTP --------------------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext | bool:
        """The CA bundle when one is configured; else the defaults (``SSL_CERT_FILE`` honoured)."""
        if isinstance(self._verify, str):
            return ssl.create_default_context(cafile=self._verify)
        if self._verify is False:
            return False
        return trusted_ssl_context()

    def registry_data_transport(self) -> httpx.AsyncBaseTransport:
        """Registry reads trust the same CAs as the OAuth calls."""
        return httpx.AsyncHTTPTransport(verify=self._ssl_context())

    async def aclose(self) -> None:
        await self._http.aclose()
        await super().aclose()
        close = getattr(self._credential, "close", None)
        if self._owns_credential and callable(close):
            await asyncio.to_thread(close)

    async def _post_form(
        self, path: str, form: dict[str, str], step: str, field: str, secrets: list[str]
    ) -> str:
        """POST a form to the login server; the string ``field`` of the JSON reply. A refusal
        is the status table's error (401: AUTHENTICATION_ERROR), never with a token in it."""
        operation = f"ACR OAuth2 {step}"
        url = f"{self.registry_data_endpoint()}{path}"
        try:
            response = await self._http.get().post(url, data=form)
        except httpx.TimeoutException as exc:
            raise Timeout(operation_context=operation, details=type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise RemoteServiceUnavailable(
                operation_context=operation, details=f"request failed ({type(exc).__name__})"
            ) from None
        if response.status_code // 100 != 2:
            raise error_for_status(
                response.status_code,
                operation=operation,
                resource_type="registry",
                resource_name=self.login_server,
                details=f"HTTP {response.status_code}: {redact(response.text, secrets)}",
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        value = data.get(field) if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise UnexpectedResponseFormat(
                provider="acr",
                binding_name=self.binding_name,
                field=field,
                response_json=redact(response.text, secrets),
            )
        return value

    # -- tokens ------------------------------------------------------------------------------------

    async def _aad_token(self, audience: str) -> str:
        try:
            access = await asyncio.to_thread(self._credential.get_token, _scope(audience))
        except Exception as exc:  # azure-identity raises several unrelated types
            summary = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AuthenticationError(
                operation_context=f"Getting an Entra ID token for {audience}",
                details=redact(summary),
            ) from None
        return str(access.token)

    async def _exchange(self) -> tuple[str, float]:
        """A fresh ACR refresh token and its ``exp``: an Entra ID token for each audience in
        turn (starting with the one that worked last), exchanged at ``/oauth2/exchange``. A
        refusal (Entra ID's, or the exchange's 401) moves on to the next audience."""
        failures: list[tuple[str, AuthenticationError]] = []
        count = len(self.audiences)
        for step in range(count):
            index = (self._audience_first + step) % count
            audience = self.audiences[index]
            try:
                aad_token = await self._aad_token(audience)
                refresh = await self._post_form(
                    "/oauth2/exchange",
                    {
                        "grant_type": "access_token",
                        "service": self.login_server,
                        "access_token": aad_token,
                    },
                    "exchange",
                    "refresh_token",
                    [aad_token],
                )
            except AuthenticationError as exc:
                failures.append((audience, exc))
                continue
            self._audience_first = index
            exp = jwt_expiry(refresh)
            return refresh, float(exp) if exp is not None else time.time() + _OPAQUE_REFRESH_SECONDS
        if len(failures) == 1:
            raise failures[0][1]
        raise AuthenticationError(
            operation_context="Getting an ACR refresh token",
            details="; ".join(f"{a}: {e.message}" for a, e in failures),
        )

    async def _refresh_token(self) -> tuple[str, float, bool]:
        """The ACR refresh token, its ``exp``, and whether it was just minted; kept until
        shortly before it expires (one exchange at a time)."""
        async with self._refresh_lock.get():
            cached = self._refresh
            if cached is not None and cached[1] - _REFRESH_MARGIN > time.time():
                return cached[0], cached[1], False
            token, exp = await self._exchange()
            self._refresh = (token, exp)
            return token, exp, True

    async def identity_token(self) -> ArtifactRegistryCredentials:
        """The ACR refresh token, as Docker-style clients expect it from a credential helper
        (``docker-credential-acr-env``: username ``<token>``): they spend it at
        ``/oauth2/token`` for tokens scoped to each repository they touch. It is good for every
        repository the identity may read (or write), and expires at its ``exp``."""
        token, exp, _ = await self._refresh_token()
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BEARER,
            username=IDENTITY_TOKEN_USERNAME,
            password=token,
            expires_at=format_timestamp(int(exp)),
        )

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
        refresh, _, fresh = await self._refresh_token()
        try:
            access_token = await self._access_token(refresh, repo_id, permissions)
        except AuthenticationError:
            if fresh:
                raise
            # a kept refresh token may have been revoked: exchange once more
            self._refresh = None
            refresh, _, _ = await self._refresh_token()
            access_token = await self._access_token(refresh, repo_id, permissions)
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

    async def _access_token(
        self, refresh: str, repo_id: str, permissions: ArtifactRegistryPermissions
    ) -> str:
        return await self._post_form(
            "/oauth2/token",
            {
                "grant_type": "refresh_token",
                "service": self.login_server,
                "scope": acr_scope(repo_id, permissions),
                "refresh_token": refresh,
            },
            "token",
            "access_token",
            [refresh],
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
        host = _authority_hostname(authority)
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
    cloud = cloud_for(env)
    audiences = [a for a in (env.get("ARTREG_ACR_AUDIENCES") or "").split(",") if a.strip()]
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
        cloud=cloud,
        audiences=[a.strip() for a in audiences] or None,
        options=AcrOptions(
            login_server_url=env.get("ARTREG_ACR_LOGIN_SERVER") or None,
            verify=ca_bundle or True,
            http_client=http_client,
            owns_credential=owns,
        ),
    )
