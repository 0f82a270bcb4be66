"""GCP Artifact Registry (GAR) provider on google-auth (docs-site: providers/gar.md).

One GAR Docker repository (the binding's ``repositoryName``) holds every image; "repositories"
are image paths inside it, so create, get and delete make no API call. Routable names are
``{project}/{repositoryName}/{image}``; image URIs are
``{location}-docker.pkg.dev/{project}/{repositoryName}/{image}``.

Configuration, read from the environment given to :func:`from_binding`:

``GOOGLE_SERVICE_ACCOUNT_KEY``
    A service-account key (JSON). Without it, application default credentials are used.
``GCP_PROJECT_ID``
    The project (default: the key's ``project_id``, else the one application default
    credentials name).
``GCP_REGION``
    The repository's location, e.g. ``us-central1`` (required).
``ARTREG_GCP_TOKEN_URI``
    The OAuth 2.0 token endpoint a service-account key signs in at, whether it comes from
    ``GOOGLE_SERVICE_ACCOUNT_KEY`` or application default credentials (default: the key's
    ``token_uri``).
``ARTREG_GAR_API_ENDPOINT``
    Base URL of the Artifact Registry API (default ``https://artifactregistry.googleapis.com``).
``ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT``
    Base URL of the IAM Credentials API. Unset (the default), google-auth chooses it:
    ``iamcredentials.{universe domain}`` of the source credentials, or its mTLS endpoint when
    a client certificate is in use.
``ARTREG_GAR_REGISTRY_ENDPOINT``
    Base URL that ``get_manifest``/``head_manifest``/``head_blob`` talk to (default:
    :meth:`GarArtifactRegistry.registry_endpoint`).

google-auth is synchronous: token refreshes run in a worker thread. Credentials are refreshed
with ``refresh()`` directly, never through ``before_request`` (which starts background calls to
Google hosts).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
import httpx
from google.auth import impersonated_credentials
from google.auth.credentials import Credentials as GoogleCredentials
from google.auth.transport import Request as GoogleRequest
from google.oauth2 import service_account

from artreg.binding import GarBinding, binding_env_var_name, resolve_value
from artreg.errors import (
    ArtregError,
    AuthenticationError,
    BindingConfigInvalid,
    ClientConfigInvalid,
    CloudPlatformError,
    InvalidInput,
    error_for_status,
)
from artreg.providers import gcp_iam
from artreg.providers._naming import check_repository_path
from artreg.providers._oci import RegistryDataMixin
from artreg.providers._per_loop import PerLoopClient
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    CrossAccountAccess,
    CrossAccountPermissions,
    GcpCrossAccountAccess,
    RegistryAuthMethod,
    RepositoryResponse,
    format_timestamp,
)

__all__ = [
    "ACCESS_TOKEN_SCOPES",
    "MAX_TOKEN_LIFETIME_SECONDS",
    "GarArtifactRegistry",
    "GarOptions",
    "from_binding",
]

CLOUD_PLATFORM_SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"
#: The scopes of registry access tokens (IAM Credentials ``generateAccessToken``).
ACCESS_TOKEN_SCOPES: Final = (
    CLOUD_PLATFORM_SCOPE,
    "https://www.googleapis.com/auth/devstorage.read_write",
)
#: generateAccessToken's longest lifetime without an org-policy exception.
MAX_TOKEN_LIFETIME_SECONDS: Final = 3600
DEFAULT_API_ENDPOINT: Final = "https://artifactregistry.googleapis.com"
DEFAULT_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"
#: How many times an IAM read-modify-write is tried when the policy changed underneath it.
IAM_WRITE_ATTEMPTS: Final = 5
_USERNAME: Final = "oauth2accesstoken"
_NO_SA_REASON: Final = (
    "{kind} service account email not available - "
    "ensure the artifact registry resource is properly linked"
)


class _PolicyChanged(Exception):
    """``setIamPolicy`` answered 409 ``ABORTED``: the etag was stale (someone else wrote)."""

    def __init__(self, error: ArtregError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class GarOptions:
    """How a :class:`GarArtifactRegistry` reaches Google: endpoint overrides (None: the
    public ones), the HTTP transports to use, and how often an IAM write is retried on an
    etag conflict."""

    api_endpoint: str = DEFAULT_API_ENDPOINT
    iam_credentials_endpoint: str | None = None
    registry_data_endpoint: str | None = None
    auth_request: GoogleRequest | None = None
    http_client: httpx.AsyncClient | None = None
    iam_write_attempts: int = IAM_WRITE_ATTEMPTS


class GarArtifactRegistry(RegistryDataMixin, ArtifactRegistry):
    """Images in one GAR Docker repository, with IAM-based cross-project pull access and
    short-lived tokens minted by impersonating the binding's pull/push service accounts."""

    def __init__(
        self,
        *,
        project_id: str,
        location: str,
        repository_name: str,
        credentials: GoogleCredentials,
        pull_service_account_email: str | None = None,
        push_service_account_email: str | None = None,
        binding_name: str = "",
        options: GarOptions | None = None,
    ) -> None:
        options = options or GarOptions()
        self.project_id = project_id
        self.location = location
        self.repository_name = repository_name
        self.pull_service_account_email = pull_service_account_email or None
        self.push_service_account_email = push_service_account_email or None
        self.binding_name = binding_name
        self._credentials = credentials
        self._api_endpoint = options.api_endpoint.rstrip("/")
        iam_endpoint = options.iam_credentials_endpoint or ""
        self._iam_credentials_endpoint = iam_endpoint.rstrip("/") or None
        self._registry_data_endpoint = (options.registry_data_endpoint or "").rstrip("/") or None
        self._auth_request: GoogleRequest = (
            options.auth_request or google.auth.transport.requests.Request()
        )
        self._http = PerLoopClient(
            lambda: httpx.AsyncClient(timeout=httpx.Timeout(30.0)), options.http_client
        )
        self._iam_write_attempts = max(1, options.iam_write_attempts)
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"GarArtifactRegistry(project_id={self.project_id!r}, location={self.location!r}, "
            f"repository_name={self.repository_name!r})"
        )

    # -- names -----------------------------------------------------------------------------------

    @property
    def registry_host(self) -> str:
        return f"{self.location}-docker.pkg.dev"

    def registry_endpoint(self) -> str:
        return f"https://{self.registry_host}"

    def registry_data_endpoint(self) -> str:
        """Where the registry (OCI) API is reached; ``registry_endpoint()`` unless overridden."""
        return self._registry_data_endpoint or self.registry_endpoint()

    def upstream_repository_prefix(self) -> str:
        return f"{self.project_id}/{self.repository_name}"

    def _image_path(self, repo_id: str) -> str:
        """The image path inside the GAR repository that a routable name (or a logical image
        name, folders included) points at."""
        prefix = self.upstream_repository_prefix() + "/"
        if repo_id.startswith(prefix):
            return repo_id[len(prefix) :]
        if not repo_id:
            return self.repository_name
        return repo_id

    def _response(self, image_path: str, *, with_uri: bool) -> RepositoryResponse:
        name = f"{self.upstream_repository_prefix()}/{image_path}"
        uri = f"{self.registry_host}/{name}" if with_uri else None
        return RepositoryResponse(name=name, uri=uri, created_at=None)

    # -- repositories (implicit) -----------------------------------------------------------------

    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        """No API call: image paths exist once something is pushed to them."""
        check_repository_path(repo_name, operation="create_repository", field_name="repo_name")
        return self._response(repo_name, with_uri=False)

    async def get_repository(self, repo_id: str) -> RepositoryResponse:
        """No API call and never not-found; the URI names the GAR repository segment."""
        image_path = self._image_path(repo_id)
        check_repository_path(image_path, operation="get_repository", field_name="repo_id")
        return self._response(image_path, with_uri=True)

    async def delete_repository(self, repo_id: str) -> None:
        """A no-op: the shared GAR repository is never deleted, image paths are implicit."""
        return None

    # -- HTTP plumbing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()
        await super().aclose()

    def _refresh_source_sync(self) -> str:
        with self._token_lock:
            if not self._credentials.valid:
                self._credentials.refresh(self._auth_request)  # type: ignore[no-untyped-call]
            token = self._credentials.token
        if not token:
            raise AuthenticationError(
                operation_context="GCP credentials", details="no access token was issued"
            )
        return str(token)

    async def _source_token(self) -> str:
        try:
            return await asyncio.to_thread(self._refresh_source_sync)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise _auth_error(exc, "Refreshing GCP credentials", None) from None

    # -- IAM ------------------------------------------------------------------------------------

    @property
    def _repository_resource(self) -> str:
        return (
            f"projects/{self.project_id}/locations/{self.location}"
            f"/repositories/{self.repository_name}"
        )

    async def _iam_call(
        self, method: str, verb: str, body: dict[str, Any] | None, context: str
    ) -> dict[str, Any]:
        token = await self._source_token()
        url = f"{self._api_endpoint}/v1/{self._repository_resource}:{verb}"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        params = {"options.requestedPolicyVersion": "3"} if method == "GET" else None
        try:
            response = await self._http.get().request(
                method, url, headers=headers, params=params, json=body
            )
        except httpx.HTTPError as exc:
            raise CloudPlatformError(
                message=f"{context}: request failed ({type(exc).__name__})",
                resource_id=self._repository_resource,
            ) from None
        if response.status_code // 100 != 2:
            error = _api_error(response, context, "GAR repository", self._repository_resource)
            if response.status_code == 409 and verb == "setIamPolicy":
                raise _PolicyChanged(error)
            raise error
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise CloudPlatformError(
                message=f"{context}: the reply is not a JSON object",
                resource_id=self._repository_resource,
            )
        return data

    async def _get_policy(self) -> dict[str, Any]:
        return await self._iam_call("GET", "getIamPolicy", None, "Getting the GAR IAM policy")

    async def _set_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        return await self._iam_call(
            "POST", "setIamPolicy", {"policy": policy}, "Setting the GAR IAM policy"
        )

    async def _update_policy(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Read, change and write the policy with its etag; when someone else wrote in between
        (IAM answers 409 ABORTED), read again and retry, a bounded number of times."""
        for attempt in range(1, self._iam_write_attempts + 1):
            policy = await self._get_policy()
            updated = change(policy)
            if updated == policy:
                return
            try:
                await self._set_policy(updated)
                return
            except _PolicyChanged as changed:
                if attempt == self._iam_write_attempts:
                    raise changed.error from None
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))

    def _gcp_access(self, access: CrossAccountAccess) -> GcpCrossAccountAccess:
        if not isinstance(access, GcpCrossAccountAccess):
            raise BindingConfigInvalid(
                binding_name=self.binding_name,
                env_var=binding_env_var_name(self.binding_name),
                reason="GCP artifact registry can only accept GCP cross-account access configuration",
            )
        return access

    async def add_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Grant the Cloud Run agents of ``projectNumbers`` (for ``worker``) and the
        ``serviceAccountEmails`` the reader role on the GAR repository (``repo_id`` is not used:
        IAM is set on the whole repository)."""
        members = gcp_iam.members_for(self._gcp_access(access))
        if not members:
            return
        await self._update_policy(lambda policy: gcp_iam.add_members(policy, members))

    async def remove_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Take the same members out of the reader role."""
        members = gcp_iam.members_for(self._gcp_access(access))
        if not members:
            return
        await self._update_policy(lambda policy: gcp_iam.remove_members(policy, members))

    async def get_cross_account_access(self, repo_id: str) -> CrossAccountPermissions:
        policy = await self._get_policy()
        return CrossAccountPermissions(access=gcp_iam.access_from_policy(policy), last_updated=None)

    # -- credentials -----------------------------------------------------------------------------

    def _generate_access_token_url(self, email: str) -> str | None:
        """The ``generateAccessToken`` URL when an endpoint is configured; None lets google-auth
        choose (universe domain, mTLS)."""
        if self._iam_credentials_endpoint is None:
            return None
        return (
            f"{self._iam_credentials_endpoint}/v1/projects/-/serviceAccounts/"
            f"{quote(email, safe='')}:generateAccessToken"
        )

    async def generate_credentials(
        self,
        repo_id: str,
        permissions: ArtifactRegistryPermissions,
        ttl_seconds: int | None = None,
    ) -> ArtifactRegistryCredentials:
        """An access token of the pull (or push) service account, via IAM Credentials
        ``generateAccessToken``, for ``min(ttl_seconds, 3600)`` seconds (3600 by default).
        Use it as the password of user ``oauth2accesstoken``."""
        pull = permissions == ArtifactRegistryPermissions.PULL
        email = self.pull_service_account_email if pull else self.push_service_account_email
        if not email:
            raise BindingConfigInvalid(
                binding_name=self.binding_name,
                env_var=binding_env_var_name(self.binding_name),
                reason=_NO_SA_REASON.format(kind="Pull" if pull else "Push"),
            )
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise InvalidInput(
                operation_context="generate_credentials",
                details="ttl_seconds must be a positive number of seconds",
                field_name="ttl_seconds",
            )
        lifetime = min(ttl_seconds or MAX_TOKEN_LIFETIME_SECONDS, MAX_TOKEN_LIFETIME_SECONDS)
        target = impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
            source_credentials=self._credentials,
            target_principal=email,
            target_scopes=list(ACCESS_TOKEN_SCOPES),
            lifetime=lifetime,
            iam_endpoint_override=self._generate_access_token_url(email),
        )
        try:
            await asyncio.to_thread(target.refresh, self._auth_request)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise _auth_error(exc, "Generating a GAR access token", email) from None
        token = target.token
        if not token:
            raise AuthenticationError(
                operation_context="Generating a GAR access token", details="no token was issued"
            )
        expiry: datetime | None = target.expiry
        expires_at = (
            format_timestamp(expiry.replace(tzinfo=UTC) if expiry.tzinfo is None else expiry)
            if expiry is not None
            else None
        )
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC,
            username=_USERNAME,
            password=str(token),
            expires_at=expires_at,
        )


# -- errors --------------------------------------------------------------------------------------


def _google_error(text: str) -> tuple[int | None, str, str]:
    """(code, status, message) from Google's ``{"error": {...}}`` body; never the raw body."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, "", ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return (
            code if isinstance(code, int) else None,
            str(error.get("status") or ""),
            str(error.get("message") or ""),
        )
    if isinstance(error, str):  # OAuth token endpoint: {"error": ..., "error_description": ...}
        return None, error, str(data.get("error_description") or "")
    return None, "", ""


def _api_error(
    response: httpx.Response, context: str, resource_type: str, resource_name: str
) -> ArtregError:
    status = response.status_code
    _, code, message = _google_error(response.text)
    details = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    return _status_error(status, details, context, resource_type, resource_name)


def _status_error(
    status: int | None, details: str, context: str, resource_type: str, resource_name: str
) -> ArtregError:
    """Google's HTTP status as an artreg error, by the one status table every provider uses."""
    return error_for_status(
        status,
        operation=context,
        resource_type=resource_type,
        resource_name=resource_name,
        details=details,
    )


def _auth_error(
    exc: google.auth.exceptions.GoogleAuthError, context: str, email: str | None
) -> ArtregError:
    """A google-auth failure as an artreg error. The exception's arguments can hold response
    bodies (which, for a malformed reply, may carry a token), so only the parsed error fields
    are kept and the original is not chained."""
    if isinstance(exc, google.auth.exceptions.TransportError):
        return CloudPlatformError(
            message=f"{context}: transport error ({type(exc).__name__})", resource_id=email
        )
    summary = str(exc.args[0]) if exc.args else type(exc).__name__
    summary = summary.split("{", 1)[0].rstrip(" :") or type(exc).__name__  # no bodies
    code: int | None = None
    status = message = ""
    for arg in exc.args[1:]:
        if isinstance(arg, (str, bytes)):
            code, status, message = _google_error(
                arg.decode("utf-8", "replace") if isinstance(arg, bytes) else arg
            )
            break
        if isinstance(arg, Mapping):
            code, status, message = _google_error(json.dumps(dict(arg)))
            break
    extra = f"{status}: {message}" if status and message else status or message
    details = summary if not extra or extra in summary else f"{summary} ({extra})"
    if email is not None and code in (403, 404):
        return _status_error(code, details, context, "service account", email)
    return AuthenticationError(operation_context=context, details=details)


# -- construction from a binding -----------------------------------------------------------------


def _gcp_config_error(message: str) -> ClientConfigInvalid:
    return ClientConfigInvalid(platform="gcp", message=message)


def credentials_from_env(env: Mapping[str, str]) -> tuple[GoogleCredentials, str | None]:
    """The source credentials and the project they name: the service-account key in
    ``GOOGLE_SERVICE_ACCOUNT_KEY``, else application default credentials."""
    raw = env.get("GOOGLE_SERVICE_ACCOUNT_KEY")
    if raw:
        try:
            info = json.loads(raw)
        except ValueError:
            raise _gcp_config_error("GOOGLE_SERVICE_ACCOUNT_KEY is not valid JSON") from None
        if not isinstance(info, dict):
            raise _gcp_config_error("GOOGLE_SERVICE_ACCOUNT_KEY is not a JSON object")
        token_uri = env.get("ARTREG_GCP_TOKEN_URI") or info.get("token_uri") or DEFAULT_TOKEN_URI
        info = {**info, "token_uri": token_uri}
        try:
            creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[CLOUD_PLATFORM_SCOPE]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise _gcp_config_error(
                "GOOGLE_SERVICE_ACCOUNT_KEY is not a usable service-account key "
                f"({type(exc).__name__})"
            ) from None
        project = info.get("project_id")
        return creds, project if isinstance(project, str) and project else None
    try:
        creds, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise _gcp_config_error(
            "GCP config not available: set GOOGLE_SERVICE_ACCOUNT_KEY or configure "
            f"application default credentials ({exc.args[0] if exc.args else 'not found'})"
        ) from None
    token_uri = env.get("ARTREG_GCP_TOKEN_URI")
    if token_uri and isinstance(creds, service_account.Credentials):
        creds = creds.with_token_uri(token_uri)
    return creds, project


def from_binding(
    binding_name: str,
    binding: GarBinding,
    env: Mapping[str, str],
    *,
    credentials: GoogleCredentials | None = None,
    auth_request: GoogleRequest | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> GarArtifactRegistry:
    """A GAR provider for a ``gar`` binding, configured from ``env`` (see the module doc).
    ``credentials`` replaces the credentials the environment names."""
    repository_name = resolve_value(binding_name, "repository_name", binding.repository_name)
    assert repository_name is not None
    pull = resolve_value(
        binding_name,
        "pull_service_account_email",
        binding.pull_service_account_email,
        required=False,
    )
    push = resolve_value(
        binding_name,
        "push_service_account_email",
        binding.push_service_account_email,
        required=False,
    )
    location = env.get("GCP_REGION")
    if not location:
        raise _gcp_config_error("GCP config not available: GCP_REGION is not set")
    key_project: str | None = None
    if credentials is None:
        credentials, key_project = credentials_from_env(env)
    project_id = env.get("GCP_PROJECT_ID") or key_project
    if not project_id:
        raise _gcp_config_error(
            "GCP config not available: set GCP_PROJECT_ID (the credentials name no project)"
        )
    return GarArtifactRegistry(
        project_id=project_id,
        location=location,
        repository_name=repository_name,
        credentials=credentials,
        pull_service_account_email=pull,
        push_service_account_email=push,
        binding_name=binding_name,
        options=GarOptions(
            api_endpoint=env.get("ARTREG_GAR_API_ENDPOINT") or DEFAULT_API_ENDPOINT,
            iam_credentials_endpoint=env.get("ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT") or None,
            registry_data_endpoint=env.get("ARTREG_GAR_REGISTRY_ENDPOINT") or None,
            auth_request=auth_request,
            http_client=http_client,
        ),
    )
