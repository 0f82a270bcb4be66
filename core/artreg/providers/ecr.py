"""AWS Elastic Container Registry (ECR) on boto3: ``{"service": "ecr", "repositoryPrefix": …}``.

Repositories are named ``{prefix}-{logical}`` (no other rewriting). Control-plane calls go to the
ECR and STS APIs with the credentials of the environment, or of the binding's pull/push role when
one is set (STS AssumeRole, session names ``alien-ecr-create``, ``alien-ecr-describe``,
``alien-ecr-policy``, ``alien-ecr-delete`` and ``alien-ecr-access-{unix_ts}``). boto3 is
synchronous: every call runs in a worker thread, never on the event loop. Clients are kept per
(role, session purpose, region) and rebuilt when their role credentials come near expiry.

Configuration (:mod:`artreg.providers.ecr_config`) comes from the documented environment
variables only; the botocore clients and role sessions live in
:mod:`artreg.providers.ecr_clients`, the repository policy model in
:mod:`artreg.providers.ecr_policy` and its safe read-merge-write in
:mod:`artreg.providers.ecr_access`, the replicas in :mod:`artreg.providers.ecr_replication`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

from artreg.binding import EcrBinding, binding_env_var_name, resolve_value
from artreg.digest import Digest, DigestError
from artreg.errors import (
    ArtregError,
    BindingConfigInvalid,
    CloudPlatformError,
    InvalidInput,
    RemoteResourceNotFound,
    ResourceNotFound,
    UnexpectedResponseFormat,
)
from artreg.providers import ecr_policy
from artreg.providers._oci import RegistryDataMixin
from artreg.providers.aws_errors import error_code, map_aws_error
from artreg.providers.ecr_access import RepositoryPolicies
from artreg.providers.ecr_clients import AwsClients, close_client
from artreg.providers.ecr_config import AwsConfig, role_arn_problem
from artreg.providers.ecr_policy import Grants
from artreg.providers.ecr_replication import PendingReplicas, replica_destinations
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
#: Role clients are rebuilt this long before their credentials expire.
REFRESH_MARGIN: Final = timedelta(minutes=5)


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
    ) -> None:
        self.binding_name = binding_name
        self.repository_prefix = repository_prefix
        self.pull_role_arn = pull_role_arn or None
        self.push_role_arn = push_role_arn or None
        self.config = config
        self.clock = clock
        #: repository -> replica regions whose policy waits for an earlier change
        self._pending = PendingReplicas()
        self.policies = RepositoryPolicies(config, binding_name)
        self.clients = AwsClients(
            config,
            clock=lambda: self.clock(),
            refresh_margin=REFRESH_MARGIN,
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
                uri=self._uri(repo, full),
                created_at=_created_at(repo.get("createdAt")),
            )

        return await self._run(call)

    def _uri(self, repo: Mapping[str, Any], name: str) -> str | None:
        """``{registry host}/{name}`` for a repository ECR described: the host of its registry
        ID in this partition (and FIPS setting) — what ECR reports as ``repositoryUri``, but
        never a suffix of another partition (moto answers ``amazonaws.com`` in China)."""
        account = str(repo.get("registryId") or "") or _account_of_arn(
            str(repo.get("repositoryArn") or "")
        )
        if not account:
            uri = repo.get("repositoryUri")
            return str(uri) if uri else None
        return f"{self.registry_host(account)}/{repo.get('repositoryName') or name}"

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
                    uri=self._uri(repo, name),
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

    def _replica_regions(self, client: ECRClient, repo_id: str) -> list[str]:
        """The regions ECR replicates ``repo_id`` to in this account (DescribeRegistry's
        replication rules, with their filters). When the configuration cannot be read, the
        regions still waiting from earlier calls, with a warning."""
        try:
            answer = client.describe_registry()
        except Exception as exc:
            err = map_aws_error(
                exc,
                operation_context="Failed to read the ECR replication configuration",
                resource_type="ECR registry",
                resource_name=self.region,
            )
            log.warning(
                "cross-account access on ECR repository %r: replicas not updated (%s)",
                repo_id,
                err.message,
            )
            return self._pending.regions(repo_id)
        destinations = replica_destinations(answer, repo_id, self.region)
        for region, registry in destinations.other_accounts:
            log.warning(
                "ECR repository %r is replicated to registry %s in %s; its policy there is not "
                "artreg's to change",
                repo_id,
                registry,
                region,
            )
        return list(destinations.regions)

    def _sync_replicas(self, repo_id: str, grants: Grants, regions: list[str]) -> None:
        """Make artreg's part of each replica's policy equal to ``grants``. A replica that does
        not exist yet (replication creates it on the first push) is recorded and done on a later
        call; a replica that fails is recorded too, and reported."""
        failed: list[tuple[str, ArtregError]] = []
        for region in regions:
            try:
                client = self._policy_client(region)
                with self.policies.lock(repo_id, region):
                    self.policies.update(client, repo_id, lambda _: grants)
            except RemoteResourceNotFound as err:
                if error_code(err.__cause__ or err) != "RepositoryNotFoundException":
                    self._pending.add(repo_id, region)
                    failed.append((region, err))
                    continue
                self._pending.add(repo_id, region)
                log.warning(
                    "ECR repository %r has no replica in %s yet (replication creates it on the "
                    "first push); its policy will be written there on the next cross-account call",
                    repo_id,
                    region,
                )
                continue
            except ArtregError as err:
                self._pending.add(repo_id, region)
                failed.append((region, err))
                continue
            self._pending.discard(repo_id, region)
        if failed:
            first = failed[0][1]
            raise first.wrapped_in(
                CloudPlatformError(
                    message=(
                        f"Cross-account access of ECR repository '{repo_id}' was changed in "
                        f"{self.region} but not in its replica region(s) "
                        f"{', '.join(region for region, _ in failed)}: {first.message}; "
                        "they are retried on the next cross-account call"
                    ),
                    resource_id=repo_id,
                )
            )

    def pending_replica_regions(self, repo_id: str) -> list[str]:
        """The replica regions of ``repo_id`` whose policy still waits for a change made earlier
        (the replica did not exist yet, or writing there failed)."""
        return self._pending.regions(repo_id)

    def _change_access(self, repo_id: str, change: Callable[[Grants], Grants]) -> None:
        """Change artreg's grants on the repository, then on every replica."""
        client = self._policy_client(self.region)
        with self.policies.lock(repo_id, self.region):
            after = self.policies.update(client, repo_id, change)
        regions = self._replica_regions(client, repo_id)
        regions += [r for r in self._pending.regions(repo_id) if r not in regions]
        self._sync_replicas(repo_id, after, regions)

    async def get_cross_account_access(self, repo_id: str) -> CrossAccountPermissions:
        """The access artreg's part of the repository policy grants. A repository without a
        policy, or whose policy cannot be read, reports no access (as alien does). Replica regions
        still waiting from an earlier change are brought up to date first."""

        def call() -> CrossAccountPermissions:
            client = self._policy_client(self.region)
            try:
                text = self.policies.read(client, repo_id)
            except ArtregError as err:
                log.warning(
                    "reading the policy of ECR repository %r failed (%s); reporting no access",
                    repo_id,
                    err.code,
                )
                return CrossAccountPermissions(access=ecr_policy.empty_access(), last_updated=None)
            grants = ecr_policy.owned_grants(self.policies.document(text))
            waiting = self._pending.regions(repo_id)
            if waiting:
                try:
                    self._sync_replicas(repo_id, grants, waiting)
                except ArtregError as err:
                    log.warning("%s", err.message)
            return CrossAccountPermissions(access=ecr_policy.access_of(grants), last_updated=None)

        return await self._run(call)

    def _aws_access(
        self, access: CrossAccountAccess, operation: str, *, validate: bool
    ) -> AwsCrossAccountAccess:
        if not isinstance(access, AwsCrossAccountAccess):
            raise BindingConfigInvalid(
                binding_name=self.binding_name,
                env_var=binding_env_var_name(self.binding_name) if self.binding_name else "",
                reason="AWS artifact registry can only accept AWS cross-account access configuration",
            )
        problems = ecr_policy.validate_access(access, self.config.partition) if validate else []
        if problems:
            raise InvalidInput(
                operation_context=operation,
                details="; ".join(message for _, message in problems),
                field_name=problems[0][0],
            )
        return access

    async def add_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Add ``access`` to artreg's part of the repository policy (other statements are kept),
        then write the same part to every replica the registry's replication rules give the
        repository. Accounts and role accounts with ``worker`` get Lambda (account, region)
        pairs."""
        new = self._aws_access(access, "Failed to add cross-account access", validate=True)
        await self._run(lambda: self._change_access(repo_id, lambda g: ecr_policy.granted(g, new)))

    async def remove_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Remove what ``access`` names from artreg's part of the repository policy and of its
        replicas; other grantees' Lambda pairs and other statements stay."""
        # not validated: whatever an earlier writer granted can be named to remove it
        gone = self._aws_access(access, "Failed to remove cross-account access", validate=False)
        await self._run(lambda: self._change_access(repo_id, lambda g: ecr_policy.revoked(g, gone)))

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
    for field_name, arn in (("pullRoleArn", pull), ("pushRoleArn", push)):
        problem = role_arn_problem(arn, config.partition) if arn else None
        if problem:
            raise BindingConfigInvalid(
                binding_name=binding_name,
                env_var=binding_env_var_name(binding_name),
                reason=f"{field_name} {arn!r} {problem}",
            )
    return EcrArtifactRegistry(
        binding_name=binding_name,
        repository_prefix=prefix,
        pull_role_arn=pull,
        push_role_arn=push,
        config=config,
    )
