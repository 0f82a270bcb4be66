"""Repository names and tags, per the OCI distribution spec's grammar.

A name that passes :func:`is_valid_name` is made of lowercase alphanumeric components joined by
single separators, so it can never contain ``..``, a leading ``/``, a backslash, a NUL or a
component starting with ``_``: it is safe to use as a relative path under the data directory.
"""

from __future__ import annotations

import re
from typing import Final

#: The spec's recommended limit; CNCF distribution enforces the same.
MAX_NAME_LENGTH: Final = 255

_COMPONENT: Final = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE: Final = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
_TAG_RE: Final = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")


def is_valid_name(name: str) -> bool:
    """True when ``name`` is a valid repository name (any depth, at most 255 characters)."""
    return len(name) <= MAX_NAME_LENGTH and _NAME_RE.match(name) is not None


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` is a valid tag (``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``)."""
    return _TAG_RE.match(tag) is not None
