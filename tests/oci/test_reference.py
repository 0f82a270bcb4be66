"""Reference grammar and input validation (no network)."""

from __future__ import annotations

import pytest

from artreg.errors import InvalidInput
from artreg.oci import Reference
from artreg.oci.reference import validate_repository

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("localhost:5000/app", "localhost:5000", "app", None, None),
        ("127.0.0.1:5000/ns/app:v1.2", "127.0.0.1:5000", "ns/app", "v1.2", None),
        (f"reg.example.com/a/b/c@{DIGEST}", "reg.example.com", "a/b/c", None, DIGEST),
        (
            f"reg.example.com:443/a_b/c-d:tag@{DIGEST}",
            "reg.example.com:443",
            "a_b/c-d",
            "tag",
            DIGEST,
        ),
        ("docker://localhost/x__y:latest", "localhost", "x__y", "latest", None),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
    ],
)
def test_parse(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert Reference.parse(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "app",
        "localhost:5000/",
        "localhost:5000/App",
        "localhost:5000/a//b",
        "localhost:5000/a:-bad",
        "localhost:5000/a@sha256:short",
        "localhost:5000/a@md5:" + "a" * 32,
        "local_host/a",
        "localhost:5000/-a",
        "localhost:5000/" + "a" * 256,
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Reference.parse(text)
    assert info.value.context["field_name"] == "reference"
    assert info.value.http_status_code == 400


def test_identifier_and_with() -> None:
    ref = Reference.parse("localhost/app")
    assert ref.identifier == "latest"
    assert ref.with_tag("v1").identifier == "v1"
    assert ref.with_digest(DIGEST).identifier == DIGEST
    with pytest.raises(InvalidInput):
        ref.with_tag("bad tag")


def test_repository_names() -> None:
    assert validate_repository("a.b_c__d-e--f/g") == "a.b_c__d-e--f/g"
    for bad in ("A", "a_", "_a", "a/", "a..b", "a___b"):
        with pytest.raises(InvalidInput):
            validate_repository(bad)
