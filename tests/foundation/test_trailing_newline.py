"""Every name, tag, digest, host and identifier validator refuses a trailing newline.

Python's ``$`` also matches just before a final ``\\n``, so ``re.match(r"^name$", "name\\n")``
succeeds: a registry once created tag ``"v1\\n"`` from ``PUT …/manifests/v1%0a``. Validators
anchor with ``\\Z``; the first test walks each one with a valid value plus ``\\n``, the last
keeps a new ``$``-anchored pattern from coming back.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from artreg.digest import Digest, DigestError
from artreg.errors import ArtregError
from artreg.localregistry.names import is_valid_name, is_valid_tag
from artreg.oci.reference import (
    Reference,
    validate_digest,
    validate_reference,
    validate_repository,
    validate_tag,
)
from artreg.providers._naming import check_repository_path
from artreg.providers.ecr_config import partition_named
from artreg.providers.ecr_policy import validate_access
from artreg.types import AwsCrossAccountAccess

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64


def _refuses(check: Callable[[str], object], value: str) -> bool:
    """True when ``check`` rejects ``value`` (returns False/None/problems, or raises)."""
    try:
        result = check(value)
    except (ArtregError, DigestError, ValueError):
        return True
    return result is False or result is None or (isinstance(result, list) and bool(result))


def _access(**fields: list[str]) -> Callable[[str], object]:
    def check(value: str) -> object:
        values: dict[str, Any] = {
            "account_ids": [],
            "regions": [],
            "role_arns": [],
            "allowed_service_types": [],
        }
        values.update({k: [value] for k in fields})
        partition = partition_named("aws")
        assert partition is not None
        return validate_access(AwsCrossAccountAccess(**values), partition)

    return check


VALIDATORS: list[tuple[str, Callable[[str], object], str]] = [
    ("localregistry name", is_valid_name, "ns/app"),
    ("localregistry tag", is_valid_tag, "v1"),
    ("oci repository", validate_repository, "ns/app"),
    ("oci tag", validate_tag, "v1"),
    ("oci digest", validate_digest, DIGEST),
    ("oci reference tag", lambda v: validate_reference(v), "v1"),
    ("oci reference digest", lambda v: validate_reference(v), DIGEST),
    ("image reference", Reference.parse, "registry.example.com:5000/ns/app:v1"),
    ("image reference host", lambda v: Reference.parse(v + "/ns/app:v1"), "registry.example.com"),
    ("digest", Digest.parse, DIGEST),
    (
        "GAR/ACR repository path",
        lambda v: check_repository_path(v, operation="t", field_name="repo"),
        "ns/app",
    ),
    ("ECR account id", _access(account_ids=[]), "123456789012"),
    ("ECR region", _access(regions=[]), "us-east-1"),
    ("ECR role ARN", _access(role_arns=[]), "arn:aws:iam::123456789012:role/x"),
]


@pytest.mark.parametrize(("what", "check", "valid"), VALIDATORS, ids=[v[0] for v in VALIDATORS])
def test_validators_refuse_a_trailing_newline(
    what: str, check: Callable[[str], object], valid: str
) -> None:
    assert not _refuses(check, valid), f"{what} should accept {valid!r}"
    for suffix in ("\n", "\r\n", "\n\n"):
        assert _refuses(check, valid + suffix), f"{what} accepts {valid + suffix!r}"


def test_no_validator_pattern_anchors_with_dollar() -> None:
    """A regex literal whose last character is an unescaped ``$`` is a validator bug (a
    multi-line pattern, ``(?m)``, means its ``$`` as end of line)."""
    offenders: list[str] = []
    for path in sorted([*ROOT.glob("core/artreg/**/*.py"), *ROOT.glob("rpc/artreg_rpc/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "compile"):
                continue
            for literal in ast.walk(node):
                if (
                    isinstance(literal, ast.Constant)
                    and isinstance(literal.value, str)
                    and re.search(r"(?<!\\)\$$", literal.value)
                    and not re.match(r"\(\?[a-z]*m", literal.value)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
