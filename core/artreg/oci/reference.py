"""Image references ``host[:port]/path/name[:tag][@digest]`` and the distribution grammar for
repository names, tags and digests. Every check raises INVALID_INPUT naming the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from artreg.digest import Digest, DigestError
from artreg.errors import InvalidInput

__all__ = [
    "Reference",
    "validate_digest",
    "validate_reference",
    "validate_repository",
    "validate_tag",
]

_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REPOSITORY_RE: Final = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
_TAG_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_DOMAIN_LABEL: Final = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST_RE: Final = re.compile(
    rf"^(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?\Z"
)
MAX_REPOSITORY_LENGTH: Final = 255


def _invalid(context: str, field: str, details: str) -> InvalidInput:
    return InvalidInput(operation_context=context, details=details, field_name=field)


def validate_repository(
    name: str, *, context: str = "Validate reference", field: str = "repo_name"
) -> str:
    """Return ``name`` when it is a valid repository path (lowercase components joined by ``/``)."""
    if not isinstance(name, str) or not name:
        raise _invalid(context, field, "repository name must not be empty")
    if len(name) > MAX_REPOSITORY_LENGTH:
        raise _invalid(
            context, field, f"repository name is longer than {MAX_REPOSITORY_LENGTH} characters"
        )
    if not _REPOSITORY_RE.match(name):
        raise _invalid(
            context,
            field,
            f"invalid repository name {name!r}: components of lowercase letters and digits "
            "separated by '.', '_', '__' or '-', joined by '/'",
        )
    return name


def validate_tag(tag: str, *, context: str = "Validate reference", field: str = "tag") -> str:
    """Return ``tag`` when it matches ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``."""
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise _invalid(
            context,
            field,
            f"invalid tag {tag!r}: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
        )
    return tag


def validate_digest(
    digest: str, *, context: str = "Validate reference", field: str = "digest"
) -> str:
    """Return ``digest`` when it is a well-formed digest of a supported algorithm."""
    if not isinstance(digest, str):
        raise _invalid(context, field, "digest must be a string")
    try:
        Digest.parse(digest)
    except DigestError as exc:
        raise _invalid(context, field, str(exc)) from None
    return digest


def validate_reference(
    reference: str, *, context: str = "Validate reference", field: str = "reference"
) -> str:
    """Return ``reference`` when it is a tag or a digest (what follows ``/manifests/``)."""
    if isinstance(reference, str) and ":" in reference:
        return validate_digest(reference, context=context, field=field)
    return validate_tag(reference, context=context, field=field)


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed image reference. ``tag`` and ``digest`` may both be set (the digest wins)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, value: str, *, field: str = "reference") -> Reference:
        """Parse ``host[:port]/path/name[:tag][@digest]``; INVALID_INPUT naming ``field``."""
        context = "Parse image reference"
        if not isinstance(value, str) or not value:
            raise _invalid(context, field, "reference must not be empty")
        for prefix in ("docker://", "oci://"):
            if value.startswith(prefix):
                value = value[len(prefix) :]
        rest, digest = value, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            validate_digest(digest, context=context, field=field)
        host, sep, path = rest.partition("/")
        if not sep or not path:
            raise _invalid(
                context,
                field,
                f"reference {value!r} needs a registry host: host[:port]/name[:tag][@digest]",
            )
        if not _HOST_RE.match(host):
            raise _invalid(context, field, f"invalid registry host {host!r}")
        tag = None
        last_slash = path.rfind("/")
        colon = path.rfind(":")
        if colon > last_slash:
            path, tag = path[:colon], path[colon + 1 :]
            validate_tag(tag, context=context, field=field)
        validate_repository(path, context=context, field=field)
        return cls(host, path, tag, digest)

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest, else the tag, else ``latest``."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """``host/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def with_tag(self, tag: str) -> Reference:
        validate_tag(tag)
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        validate_digest(digest)
        return replace(self, digest=digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text
