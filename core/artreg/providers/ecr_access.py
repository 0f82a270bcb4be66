"""Reading and changing artreg's part of one ECR repository policy, safely.

SetRepositoryPolicy has no ETag, so a change is a read, a merge (:mod:`artreg.providers.
ecr_policy`) and a write, serialised per repository within the process and guarded by a second
read just before the write: when another writer changed the policy meanwhile, the merge starts
over from the newer policy. The size limit is checked before anything is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from artreg.errors import InvalidInput, RemoteResourceConflict, UnexpectedResponseFormat
from artreg.providers import ecr_policy
from artreg.providers.aws_errors import error_code, map_aws_error
from artreg.providers.ecr_config import AwsConfig
from artreg.providers.ecr_policy import Grants

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

__all__ = ["MERGE_ATTEMPTS", "RepositoryPolicies"]

log = logging.getLogger(__name__)

#: How many times a policy change starts over when another writer changed the policy meanwhile.
MERGE_ATTEMPTS: Final = 5

_LOCKS_GUARD: Final = threading.Lock()
_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}


class RepositoryPolicies:
    """artreg's part of repository policies, through a caller's ECR client (blocking calls)."""

    def __init__(self, config: AwsConfig, binding_name: str = "") -> None:
        self.config = config
        self.binding_name = binding_name

    def read(self, client: ECRClient, repo_id: str) -> str | None:
        """The repository's policy text; None when it has none. Any other error is raised (a
        change must never start from a policy it could not read)."""
        try:
            answer = client.get_repository_policy(repositoryName=repo_id)
        except Exception as exc:
            if error_code(exc) == "RepositoryPolicyNotFoundException":
                return None
            raise map_aws_error(
                exc,
                operation_context="Failed to read ECR repository policy",
                resource_name=repo_id,
                field_name="repo_id",
            ) from exc
        return str(answer.get("policyText") or "")

    def document(self, text: str | None) -> dict[str, Any]:
        try:
            return ecr_policy.parse_document(text)
        except ecr_policy.PolicyParseError as exc:
            raise UnexpectedResponseFormat(
                provider="aws",
                binding_name=self.binding_name,
                field="policy_text",
                response_json=str(text)[:2000],
            ) from exc

    def write(self, client: ECRClient, repo_id: str, text: str | None) -> None:
        """SetRepositoryPolicy ``text``; None (no statements, which ECR refuses) deletes the
        policy instead."""
        try:
            if text is not None:
                client.set_repository_policy(repositoryName=repo_id, policyText=text)
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

    def update(self, client: ECRClient, repo_id: str, change: Callable[[Grants], Grants]) -> Grants:
        """Read the policy, change artreg's part of it, and write it back — unless the policy
        changed meanwhile (SetRepositoryPolicy has no ETag: it is read again just before the
        write), in which case the change starts over from the newer policy. Callers hold the
        repository's lock. Returns artreg's grants as written."""
        partition = self.config.partition
        for _ in range(MERGE_ATTEMPTS):
            text = self.read(client, repo_id)
            document = self.document(text)
            before = ecr_policy.owned_grants(document)
            after = change(before)
            updated = ecr_policy.apply_grants(document, before, after, partition)
            if text is not None and updated == document:
                return after  # nothing to change
            new_text = ecr_policy.document_text(updated)
            if new_text is None and text is None:
                return after
            if new_text is not None and len(new_text) > ecr_policy.MAX_POLICY_CHARS:
                raise InvalidInput(
                    operation_context=f"Failed to change the policy of ECR repository '{repo_id}'",
                    details=(
                        f"the policy would be {len(new_text)} characters; ECR allows "
                        f"{ecr_policy.MAX_POLICY_CHARS} (grant fewer accounts, regions or roles "
                        "per repository)"
                    ),
                    field_name="access",
                )
            if self.read(client, repo_id) != text:
                log.info(
                    "the policy of ECR repository %r changed while merging; merging again", repo_id
                )
                continue
            self.write(client, repo_id, new_text)
            return after
        raise RemoteResourceConflict(
            operation_context="Failed to change ECR repository policy",
            resource_type="ECR repository policy",
            resource_name=repo_id,
            conflict_reason=f"the policy changed under each of {MERGE_ATTEMPTS} attempts to merge",
        )

    def lock(self, repo_id: str, region: str) -> threading.Lock:
        """The lock serialising policy changes of one repository in one region (shared by every
        provider in the process that talks to the same ECR endpoint)."""
        key = (self.config.ecr_endpoint_url or "", region, repo_id)
        with _LOCKS_GUARD:
            return _LOCKS.setdefault(key, threading.Lock())
