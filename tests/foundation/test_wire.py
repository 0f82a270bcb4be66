"""Golden wire fixtures: valid JSON round-trips byte for byte, alien's forms decode to the same
values, invalid JSON is rejected with an error naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from artreg import types as t

WIRE = Path(__file__).parents[1] / "fixtures" / "wire"
INVALID: dict[str, str] = json.loads((WIRE / "invalid.json").read_text())


def _cases(prefix: str) -> list[tuple[str, Path]]:
    return [
        (p.parent.name, p)
        for p in sorted(WIRE.glob(f"*/{prefix}-*.json"))
        if p.parent.name in t.WIRE_TYPES
    ]


def _id(case: tuple[str, Path]) -> str:
    return f"{case[0]}/{case[1].stem}"


def test_every_wire_type_has_valid_and_invalid_fixtures() -> None:
    for name in t.WIRE_TYPES:
        assert list((WIRE / name).glob("valid-*.json")), name
        assert list((WIRE / name).glob("invalid-*.json")), name


@pytest.mark.parametrize("case", _cases("valid"), ids=_id)
def test_valid_fixture_round_trips_byte_for_byte(case: tuple[str, Path]) -> None:
    type_name, path = case
    raw = path.read_bytes().rstrip(b"\n")
    value = t.decode(raw, t.WIRE_TYPES[type_name])
    assert t.encode(value) == raw


@pytest.mark.parametrize("case", _cases("alien"), ids=_id)
def test_alien_form_decodes_to_the_canonical_value(case: tuple[str, Path]) -> None:
    type_name, path = case
    canonical = path.with_name(path.name.replace("alien-", "valid-", 1))
    wire_type = t.WIRE_TYPES[type_name]
    assert t.decode(path.read_bytes(), wire_type) == t.decode(canonical.read_bytes(), wire_type)
    assert t.encode(t.decode(path.read_bytes(), wire_type)) == canonical.read_bytes().rstrip(b"\n")


@pytest.mark.parametrize("case", _cases("invalid"), ids=_id)
def test_invalid_fixture_is_rejected_naming_the_field(case: tuple[str, Path]) -> None:
    type_name, path = case
    expected = INVALID[f"{type_name}/{path.name}"]
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)) as info:
        t.decode(path.read_bytes(), t.WIRE_TYPES[type_name])
    assert expected in str(info.value)


def test_every_invalid_fixture_has_an_expectation() -> None:
    files = {f"{p.parent.name}/{p.name}" for p in WIRE.glob("*/invalid-*.json")}
    assert files == set(INVALID)


def test_optional_fields_encode_as_null() -> None:
    value = t.RepositoryResponse(name="a", uri=None, created_at=None)
    assert msgspec.json.encode(value) == b'{"name":"a","uri":null,"createdAt":null}'
    creds = t.ArtifactRegistryCredentials(t.RegistryAuthMethod.BASIC, "", "")
    assert t.encode(creds) == b'{"authMethod":"basic","username":"","password":"","expiresAt":null}'


def test_credentials_never_show_the_password() -> None:
    creds = t.ArtifactRegistryCredentials(
        auth_method=t.RegistryAuthMethod.BEARER, username="", password="s3cr3t-token"
    )
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert "s3cr3t" not in text
    assert "***" in repr(creds)
    assert t.decode(t.encode(creds), t.ArtifactRegistryCredentials).password == "s3cr3t-token"


def test_rich_pretty_printing_hides_the_password() -> None:
    from rich.pretty import pretty_repr

    creds = t.ArtifactRegistryCredentials(
        auth_method=t.RegistryAuthMethod.BASIC, username="AWS", password="s3cr3t-token"
    )
    assert pretty_repr(creds) == (
        "ArtifactRegistryCredentials(\n"
        "    auth_method='basic',\n"
        "    username='AWS',\n"
        "    password='***',\n"
        "    expires_at=None\n"
        ")"
    )
    assert "s3cr3t" not in pretty_repr([creds], max_width=20)


def test_platform_tag_is_accepted_nested_and_type_wins_when_both_present() -> None:
    raw = {
        "platform": "gcp",
        "projectNumbers": ["1"],
        "serviceAccountEmails": [],
        "allowedServiceTypes": [],
    }
    perms = t.convert({"access": raw, "lastUpdated": None}, t.CrossAccountPermissions)
    assert isinstance(perms.access, t.GcpCrossAccountAccess)
    assert perms.access.project_numbers == ["1"]
    with pytest.raises(msgspec.ValidationError, match="accountIds"):
        t.convert({**raw, "type": "aws"}, t.CrossAccountAccess)


def test_enums_decode_from_their_wire_strings() -> None:
    assert (
        t.decode(b'"push-pull"', t.ArtifactRegistryPermissions)
        is t.ArtifactRegistryPermissions.PUSH_PULL
    )
    assert t.decode(b'"bearer"', t.RegistryAuthMethod) is t.RegistryAuthMethod.BEARER
    assert t.decode(b'"worker"', t.ComputeServiceType) is t.ComputeServiceType.WORKER


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1767225600, "2026-01-01T00:00:00+00:00"),
        (1767225600.987, "2026-01-01T00:00:00+00:00"),
        (datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC), "2026-01-01T12:00:00.123000+00:00"),
        (
            datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-01T12:00:00+00:00",
        ),
        (datetime(2026, 1, 1, 12, 0), "2026-01-01T12:00:00+00:00"),
    ],
)
def test_timestamps_are_rfc3339_utc_with_offset(value: Any, expected: str) -> None:
    assert t.format_timestamp(value) == expected
    assert t.parse_timestamp(expected) == t.parse_timestamp(expected.replace("+00:00", "Z"))


def test_parse_timestamp_rejects_naive() -> None:
    with pytest.raises(ValueError, match="offset"):
        t.parse_timestamp("2026-01-01T00:00:00")
