"""Repository-path checks shared by the GAR and ACR providers."""

from __future__ import annotations

import re
from typing import Final

from artreg.errors import InvalidInput

__all__ = ["check_repository_path"]

# The OCI distribution spec's repository name grammar (path components joined by "/").
_COMPONENT: Final = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_PATH: Final = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")


def check_repository_path(value: str, *, operation: str, field_name: str) -> str:
    """``value`` when it is a valid OCI repository path, else INVALID_INPUT naming the field."""
    if not _PATH.fullmatch(value) or len(value) > 255:
        raise InvalidInput(
            operation_context=operation,
            details=(
                f"'{value}' is not a valid repository path: lowercase letters, digits and "
                "'.', '_', '-' separators, components joined by '/', at most 255 characters"
            ),
            field_name=field_name,
        )
    return value
