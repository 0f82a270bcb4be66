"""``NoCrossAccountAccess``: the three cross-account methods of a provider that has no such
access (ACR, Local). Each raises OPERATION_NOT_SUPPORTED with the class's
``cross_account_reason``."""

from __future__ import annotations

from typing import ClassVar

from artreg.errors import OperationNotSupported
from artreg.registry import ArtifactRegistry
from artreg.types import CrossAccountAccess, CrossAccountPermissions

__all__ = ["NoCrossAccountAccess"]


class NoCrossAccountAccess(ArtifactRegistry):
    """Inherit it before :class:`ArtifactRegistry` and set ``cross_account_reason``."""

    cross_account_reason: ClassVar[str]

    async def add_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        raise OperationNotSupported(
            operation="add_cross_account_access", reason=self.cross_account_reason
        )

    async def remove_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        raise OperationNotSupported(
            operation="remove_cross_account_access", reason=self.cross_account_reason
        )

    async def get_cross_account_access(self, repo_id: str) -> CrossAccountPermissions:
        raise OperationNotSupported(
            operation="get_cross_account_access", reason=self.cross_account_reason
        )
