"""AWS Elastic Container Registry (ECR) on boto3: ``{"service": "ecr", "repositoryPrefix": …}``.

Repositories are named ``{prefix}-{logical}`` (no other rewriting). Control-plane calls go to the
ECR and STS APIs with the credentials of the environment, or of the binding's pull/push role when
one is set (STS AssumeRole, session names ``alien-ecr-create``, ``alien-ecr-describe``,
``alien-ecr-policy``, ``alien-ecr-delete`` and ``alien-ecr-access-{unix_ts}``). boto3 is
synchronous: every call runs in a worker thread, never on the event loop. Clients are kept per
(role, session purpose, region) and rebuilt when their role credentials come near expiry.

Configuration (:mod:`artreg.providers.ecr_config`) comes from the documented environment
variables only; the botocore clients and role sessions live in
:mod:`artreg.providers.ecr_clients`, the repository policy documents in
:mod:`artreg.providers.ecr_policy`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

from artreg.binding import EcrBinding, binding_env_var_name, resolve_value
from artreg.digest import Digest, DigestError
from artreg.errors import (
    BindingConfigInvalid,
    CloudPlatformError,
    InvalidInput,
    ResourceNotFound,
    Timeout,
    UnexpectedResponseFormat,
)
from artreg.providers import ecr_policy
from artreg.providers._oci import RegistryDataMixin
from artreg.providers.aws_errors import error_code, map_aws_error
from artreg.providers.ecr_clients import AwsClients, close_client
from artreg.providers.ecr_config import AwsConfig
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    AwsCrossAccountAccess,
    CrossAccountAccess,
    CrossAccountPermissions,
    ManifestHead,
    RegistryAuthMethod,
    RepositoryResponse,
    format_timestamp,
    utc_now,
)

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

__all__ = ["AwsConfig", "EcrArtifactRegistry", "from_binding"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SESSION_CREATE: Final = "alien-ecr-create"
SESSION_DESCRIBE: Final = "alien-ecr-describe"
SESSION_POLICY: Final = "alien-ecr-policy"
SESSION_DELETE: Final = "alien-ecr-delete"
SESSION_ACCESS_PREFIX: Final = "alien-ecr-access-"
#: ECR authorization tokens last 12 h whatever the role session.
TOKEN_LIFETIME: Final = timedelta(hours=12)


def _account_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4] else None


def _created_at(value: Any) -> str | None:
    """RFC 3339 of a creation time (whole seconds), or None when absent or not positive."""
    if isinstance(value, datetime):
        seconds = int(value.timestamp())
    elif isinstance(value, (int, float)):
        seconds = int(value)
    else:
        return None
    return format_timestamp(seconds) if seconds > 0 else None


class EcrArtifactRegistry(RegistryDataMixin, ArtifactRegistry):
    """ECR repositories ``{prefix}-{logical}`` in one account and region. Manifests and blobs
    are read from the registry host with the provider's own pull credentials."""

    def __init__(
        self,
        *,
        repository_prefix: str,
        config: AwsConfig,
        pull_role_arn: str | None = None,
        push_role_arn: str | None = None,
        binding_name: str = "",
        clock: Callable[[], datetime] = utc_now,
        replica_poll_interval: float = 5.0,
        replica_wait_timeout: float = 300.0,
        refresh_margin: float = 300.0,
    ) -> None:
        self.binding_name = binding_name
        self.repository_prefix = repository_prefix
        self.pull_role_arn = pull_role_arn or None
        self.push_role_arn = push_role_arn or None
        self.config = config
        self.clock = clock
        self.replica_poll_interval = replica_poll_interval
        self.replica_wait_timeout = replica_wait_timeout
        self.refresh_margin = timedelta(seconds=refresh_margin)
        self.clients = AwsClients(
            config,
            clock=lambda: self.clock(),
            refresh_margin=self.refresh_margin,
            binding_name=binding_name,
            role_fields={
                role: name
                for name, role in (
                    ("pushRoleArn", self.push_role_arn),
                    ("pullRoleArn", self.pull_role_arn),
                )
                if role
            },
        )
        self._account_id = config.account_id
        self._account_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"EcrArtifactRegistry(binding_name={self.binding_name!r}, "
            f"repository_prefix={self.repository_prefix!r}, region={self.config.region!r})"
        )

    # -- names and endpoints ---------------------------------------------------------------------

    @property
    def region(self) -> str:
        return self.config.region

    def full_name(self, logical: str) -> str:
        """``{prefix}-{logical}``; the prefix alone for ``""``; ``logical`` when no prefix."""
        if not self.repository_prefix:
            return logical
        if not logical:
            return self.repository_prefix
        return f"{self.repository_prefix}-{logical}"

    def upstream_repository_prefix(self) -> str:
        return self.repository_prefix

    def registry_host(self, account_id: str | None = None) -> str:
        """``{account}.dkr.ecr.{region}.{dns suffix}`` (no scheme; ``dkr.ecr-fips`` with
        ``AWS_USE_FIPS_ENDPOINT``); the suffix is the partition's (``amazonaws.com.cn`` in China)."""
        return self.config.registry_host(account_id or self.account_id())

    def registry_endpoint(self) -> str:
        """``https://{account}.dkr.ecr.{region}.amazonaws.com``, or ``ARTREG_ECR_REGISTRY_ENDPOINT``.

        Without ``AWS_ACCOUNT_ID`` the first call asks STS GetCallerIdentity (once)."""
        if self.config.registry_endpoint:
            return self.config.registry_endpoint
        return f"https://{self.registry_host()}"

    def account_id(self) -> str:
        """The base credentials' account: ``AWS_ACCOUNT_ID``, else STS GetCallerIdentity (cached)."""
        if self._account_id is not None:
            return self._account_id
        with self._account_lock:
            if self._account_id is None:
                self._account_id = self.clients.caller_identity()["Account"]
            return self._account_id

    def _ecr(self, role_arn: str | None, purpose: str, region: str | None = None) -> ECRClient:
        """The ECR client for a role (or the base credentials) in a region (default: ours)."""
        region = region or self.region
        if role_arn is None:
            client: ECRClient = self.clients.base("ecr", region)
        else:
            client = self.clients.cached("ecr", role_arn, purpose, region)
        return client

    def _policy_client(self, region: str) -> ECRClient:
        return self._ecr(self.push_role_arn, SESSION_POLICY, region)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    async def aclose(self) -> None:
        self.clients.close_all()
        await super().aclose()

    # -- repositories ------------------------------------------------------------------------------

    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        """CreateRepository ``{prefix}-{repo_name}`` (push role if set). An existing repository is
        success, with the computed URI and no creation time."""
        full = self.full_name(repo_name)

        def call() -> RepositoryResponse:
            client = self._ecr(self.push_role_arn, SESSION_CREATE)
            try:
                answer = client.create_repository(repositoryName=full)
            except Exception as exc:
                err = map_aws_error(
                    exc,
                    operation_context="Failed to create ECR repository",
                    resource_name=full,
                    field_name="repo_name",
                )
                if err.http_status_code == 409:
                    account = (
                        _account_of_arn(self.push_role_arn) if self.push_role_arn else None
                    ) or self.account_id()
                    return RepositoryResponse(
                        name=full, uri=f"{self.registry_host(account)}/{full}", created_at=None
                    )
                raise err from exc
            repo = answer["repository"]
            return RepositoryResponse(
                name=full,
                uri=repo.get("repositoryUri"),
                created_at=_created_at(repo.get("createdAt")),
            )

        return await self._run(call)

    def lookup_candidates(self, repo_id: str) -> list[str]:
        """The names ``get_repository`` tries: ``repo_id``, then ``{prefix}-{repo_id}`` when
        ``repo_id`` does not already start with ``{prefix}-`` (logical names still resolve)."""
        prefix = self.repository_prefix
        if prefix and not repo_id.startswith(f"{prefix}-"):
            return [repo_id, f"{prefix}-{repo_id}"]
        return [repo_id]

    async def get_repository(self, repo_id: str) -> RepositoryResponse:
        """DescribeRepositories for each lookup candidate (pull role if set, else the base
        credentials); a 403/404 on a name that is not the last one moves on to the next."""

        def call() -> RepositoryResponse:
            client = self._ecr(self.pull_role_arn, SESSION_DESCRIBE)
            candidates = self.lookup_candidates(repo_id)
            for index, name in enumerate(candidates):
                try:
                    answer = client.describe_repositories(repositoryNames=[name])
                except Exception as exc:
                    err = map_aws_error(
                        exc,
                        operation_context="Failed to describe ECR repository",
                        resource_name=name,
                        field_name="repo_id",
                    )
                    if err.http_status_code in (403, 404) and index < len(candidates) - 1:
                        continue
                    raise err from exc
                repos = answer.get("repositories") or []
                if not repos:
                    continue
                repo = repos[0]
                return RepositoryResponse(
                    name=repo.get("repositoryName", name),
                    uri=repo.get("repositoryUri"),
                    created_at=_created_at(repo.get("createdAt")),
                )
            raise ResourceNotFound(resource_id=repo_id)

        return await self._run(call)

    async def delete_repository(self, repo_id: str) -> None:
        """DeleteRepository ``repo_id`` with ``force`` (images too); push role if set. Errors,
        not-found included, are raised."""

        def call() -> None:
            client = self._ecr(self.push_role_arn, SESSION_DELETE)
            try:
                client.delete_repository(repositoryName=repo_id, force=True)
            except Exception as exc:
                raise map_aws_error(
                    exc,
                    operation_context="Failed to delete ECR repository",
                    resource_name=repo_id,
                    field_name="repo_id",
                ) from exc

        await self._run(call)

    # -- cross-account access ----------------------------------------------------------------------

    def _policy_access(self, repo_id: str, text: Any) -> AwsCrossAccountAccess:
        try:
            return ecr_policy.parse_policy(str(text))
        except ecr_policy.PolicyParseError as exc:
            raise UnexpectedResponseFormat(
                provider="aws",
                binding_name=self.binding_name,
                field="policy_text",
                response_json=str(text)[:2000],
            ) from exc

    async def get_cross_account_access(self, repo_id: str) -> CrossAccountPermissions:
        """The access the repository policy grants. A repository without a policy, or one whose
        policy cannot be read, reports no access (as alien does)."""

        def call() -> CrossAccountPermissions:
            client = self._policy_client(self.region)
            try:
                answer = client.get_repository_policy(repositoryName=repo_id)
            except Exception as exc:
                if error_code(exc) != "RepositoryPolicyNotFoundException":
                    log.warning(
                        "reading the policy of ECR repository %r failed (%s); reporting no access",
                        repo_id,
                        error_code(exc) or type(exc).__name__,
                    )
                return CrossAccountPermissions(access=ecr_policy.empty_access(), last_updated=None)
            access = self._policy_access(repo_id, answer.get("policyText", ""))
            return CrossAccountPermissions(access=access, last_updated=None)

        return await self._run(call)

    def _read_access(self, client: ECRClient, repo_id: str) -> AwsCrossAccountAccess:
        """The current access for a change: only a missing policy reads as empty; any other
        error is raised (a merge must never start from a policy it could not read)."""
        try:
            answer = client.get_repository_policy(repositoryName=repo_id)
        except Exception as exc:
            if error_code(exc) == "RepositoryPolicyNotFoundException":
                return ecr_policy.empty_access()
            raise map_aws_error(
                exc,
                operation_context="Failed to read ECR repository policy",
                resource_name=repo_id,
                field_name="repo_id",
            ) from exc
        return self._policy_access(repo_id, answer.get("policyText", ""))

    def _write_policy(self, client: ECRClient, repo_id: str, access: AwsCrossAccountAccess) -> None:
        """SetRepositoryPolicy with the document for ``access``; a document without statements
        (which ECR refuses) deletes the policy instead."""
        document = ecr_policy.build_policy(access)
        try:
            if ecr_policy.has_statements(document):
                client.set_repository_policy(
                    repositoryName=repo_id,
                    policyText=json.dumps(document, separators=(",", ":")),
                )
            else:
                try:
                    client.delete_repository_policy(repositoryName=repo_id)
                except Exception as exc:
                    if error_code(exc) != "RepositoryPolicyNotFoundException":
                        raise
        except Exception as exc:
            raise map_aws_error(
                exc,
                operation_context="Failed to set ECR repository policy",
                resource_name=repo_id,
                field_name="repo_id",
            ) from exc

    def _replica_exists(self, client: ECRClient, repo_id: str, region: str) -> bool:
        try:
            answer = client.describe_repositories(repositoryNames=[repo_id])
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return False
            raise map_aws_error(
                exc,
                operation_context=f"Failed to describe replicated ECR repository in {region}",
                resource_name=repo_id,
            ) from exc
        return bool(answer.get("repositories"))

    async def _wait_for_replica(self, repo_id: str, region: str) -> ECRClient:
        """Poll DescribeRepositories in ``region`` until the replica exists; TIMEOUT past the bound."""
        client = await self._run(lambda: self._policy_client(region))
        deadline = time.monotonic() + self.replica_wait_timeout
        while True:
            if await self._run(lambda: self._replica_exists(client, repo_id, region)):
                return client
            if time.monotonic() >= deadline:
                raise Timeout(
                    operation_context=f"Waiting for replicated ECR repository '{repo_id}' in {region}",
                    details=f"the repository did not appear within {self.replica_wait_timeout:g}s",
                )
            await asyncio.sleep(self.replica_poll_interval)

    def _other_regions(self, regions: list[str]) -> list[str]:
        seen: list[str] = []
        for region in regions:
            if region != self.region and region not in seen:
                seen.append(region)
        return seen

    def _aws_access(self, access: CrossAccountAccess) -> AwsCrossAccountAccess:
        if not isinstance(access, AwsCrossAccountAccess):
            raise BindingConfigInvalid(
                binding_name=self.binding_name,
                env_var=binding_env_var_name(self.binding_name) if self.binding_name else "",
                reason="AWS artifact registry can only accept AWS cross-account access configuration",
            )
        return access

    async def add_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Merge ``access`` into the repository policy and write it; then, for each other region
        granted, wait for the replicated repository and write the same policy there (ECR
        replication does not copy repository policies)."""
        new = self._aws_access(access)
        problems = ecr_policy.validate_access(new)
        if problems:
            field_name, _ = problems[0]
            raise InvalidInput(
                operation_context="Failed to add cross-account access",
                details="; ".join(message for _, message in problems),
                field_name=field_name,
            )

        def write_source() -> AwsCrossAccountAccess:
            client = self._policy_client(self.region)
            merged = ecr_policy.merge_access(self._read_access(client, repo_id), new)
            self._write_policy(client, repo_id, merged)
            return merged

        merged = await self._run(write_source)
        for region in self._other_regions(merged.regions):
            client = await self._wait_for_replica(repo_id, region)
            await self._run(lambda c=client: self._write_policy(c, repo_id, merged))  # type: ignore[misc]

    async def remove_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Remove every account (with its root principal), region, role and service type named
        in ``access``, and write the result to the repository and to the replicas in the regions
        it granted before; a region without a replica has nothing to revoke."""
        gone = self._aws_access(access)

        def write_source() -> tuple[AwsCrossAccountAccess, AwsCrossAccountAccess]:
            client = self._policy_client(self.region)
            current = self._read_access(client, repo_id)
            remaining = ecr_policy.remove_access(current, gone)
            self._write_policy(client, repo_id, remaining)
            return current, remaining

        current, remaining = await self._run(write_source)
        for region in self._other_regions(current.regions):

            def write_replica(region: str = region) -> None:
                client = self._policy_client(region)
                if self._replica_exists(client, repo_id, region):
                    self._write_policy(client, repo_id, remaining)

            await self._run(write_replica)

    # -- credentials -------------------------------------------------------------------------------

    async def generate_credentials(
        self,
        repo_id: str,
        permissions: ArtifactRegistryPermissions,
        ttl_seconds: int | None = None,
    ) -> ArtifactRegistryCredentials:
        """An ECR authorization token (basic auth, user ``AWS``). With the pull role (for
        ``pull``) or push role (for ``push-pull``) set, the token is the role's: AssumeRole
        session ``alien-ecr-access-{unix_ts}``, DurationSeconds ``min(ttl, 43200)`` when a ttl
        is given. ``expiresAt`` is the token's (ECR tokens last 12 h whatever the ttl)."""
        role = (
            self.pull_role_arn
            if ArtifactRegistryPermissions(permissions) == ArtifactRegistryPermissions.PULL
            else self.push_role_arn
        )

        def call() -> ArtifactRegistryCredentials:
            owned = None
            if role is None:
                client: ECRClient = self.clients.base("ecr", self.region)
            else:
                session = f"{SESSION_ACCESS_PREFIX}{int(self.clock().timestamp())}"
                duration = self.clients.session_duration(role, ttl_seconds)
                credentials = self.clients.assume_role(role, session, duration)
                client = owned = self.clients.new_client("ecr", self.region, credentials)
            try:
                answer = client.get_authorization_token()
            except Exception as exc:
                raise map_aws_error(
                    exc,
                    operation_context="Failed to get ECR authorization token",
                    resource_name=repo_id,
                ) from exc
            finally:
                if owned is not None:
                    close_client(owned)
            return self._credentials_from(repo_id, answer)

        return await self._run(call)

    def _credentials_from(self, repo_id: str, answer: Any) -> ArtifactRegistryCredentials:
        data = answer.get("authorizationData") or []
        if not data:
            raise CloudPlatformError(
                message="ECR authorization response did not contain authorization data",
                resource_id=repo_id,
            )
        first = data[0]
        try:
            decoded = base64.b64decode(str(first.get("authorizationToken") or ""), validate=True)
            username, password = decoded.decode("utf-8").split(":", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            # the token itself never goes into the error
            raise UnexpectedResponseFormat(
                provider="aws",
                binding_name=self.binding_name,
                field="authorization_token",
                response_json='{"authorizationData":[{"authorizationToken":"<redacted>"}]}',
            ) from None
        expires = first.get("expiresAt")
        seconds = (
            int(expires.timestamp())
            if isinstance(expires, datetime)
            else int(expires)
            if isinstance(expires, (int, float))
            else 0
        )
        expires_at = (
            format_timestamp(seconds)
            if seconds > 0
            else format_timestamp(int((self.clock() + TOKEN_LIFETIME).timestamp()))
        )
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC,
            username=username,
            password=password,
            expires_at=expires_at,
        )

    # -- registry data (manifests and blobs) ---------------------------------------------------

    async def _resolve_account(self) -> None:
        # registry_endpoint() may need the account ID: look it up off the event loop first.
        if self._account_id is None and not self.config.registry_endpoint:
            await self._run(self.account_id)

    async def get_manifest(self, repo_name: str, reference: str) -> tuple[bytes, str]:
        await self._resolve_account()
        return await super().get_manifest(repo_name, reference)

    async def head_manifest(self, repo_name: str, reference: str) -> ManifestHead | None:
        await self._resolve_account()
        return await super().head_manifest(repo_name, reference)

    async def head_blob(self, repo_name: str, digest: str) -> int | None:
        await self._resolve_account()
        return await super().head_blob(repo_name, digest)

    # -- blobs -------------------------------------------------------------------------------------

    async def generate_blob_download_url(
        self, repo_name: str, digest: str, ttl_seconds: int
    ) -> str | None:
        """ECR GetDownloadUrlForLayer: a pre-signed URL of the layer (base credentials; ECR
        decides the URL's lifetime, so ``ttl_seconds`` is not used)."""
        try:
            Digest.parse(digest)
        except DigestError as exc:
            raise InvalidInput(
                operation_context="Failed to get ECR layer download URL",
                details=f"not a digest: {digest!r}",
                field_name="digest",
            ) from exc

        def call() -> str:
            client = self.clients.base("ecr", self.region)
            try:
                answer = client.get_download_url_for_layer(
                    repositoryName=repo_name, layerDigest=digest
                )
            except Exception as exc:
                raise map_aws_error(
                    exc,
                    operation_context="Failed to get ECR layer download URL",
                    resource_name=repo_name,
                    field_name="repo_name",
                ) from exc
            url = answer.get("downloadUrl")
            if not url:
                raise UnexpectedResponseFormat(
                    provider="aws",
                    binding_name=self.binding_name,
                    field="download_url",
                    response_json=json.dumps({"layerDigest": answer.get("layerDigest")}),
                )
            return str(url)

        return await self._run(call)


def from_binding(
    binding_name: str, binding: EcrBinding, env: Mapping[str, str]
) -> EcrArtifactRegistry:
    """The ECR provider for a binding, configured from ``env``."""
    prefix = resolve_value(binding_name, "repository_prefix", binding.repository_prefix)
    pull = resolve_value(binding_name, "pull_role_arn", binding.pull_role_arn, required=False)
    push = resolve_value(binding_name, "push_role_arn", binding.push_role_arn, required=False)
    assert prefix is not None
    config = AwsConfig.from_env(env)
    return EcrArtifactRegistry(
        binding_name=binding_name,
        repository_prefix=prefix,
        pull_role_arn=pull,
        push_role_arn=push,
        config=config,
    )
