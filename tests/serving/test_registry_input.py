"""Hostile input to the embedded registry over loopback: JSON nested 100,000 deep and names
with a trailing newline get their documented 400s, and nothing is stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest

from artreg.localregistry import ThreadedRegistry, start_in_thread

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def registry() -> Iterator[ThreadedRegistry]:
    with start_in_thread() as reg:
        yield reg


def _push_blob(client: httpx.Client, name: str, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = client.post(f"/v2/{name}/blobs/uploads/").headers["location"]
    assert client.put(location, params={"digest": digest}, content=data).status_code == 201
    return {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": digest,
        "size": len(data),
    }


def _codes(response: httpx.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def test_a_manifest_nested_100000_deep_is_manifest_invalid(registry: ThreadedRegistry) -> None:
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        config = _push_blob(client, "ns/app", b"{}")
        deep = b"[" * 100_000 + b"]" * 100_000
        body = (
            b'{"schemaVersion":2,"mediaType":"'
            + OCI_MANIFEST.encode()
            + b'","config":'
            + json.dumps(config).encode()
            + b',"layers":[],"annotations":{"x":'
            + deep
            + b"}}"
        )
        r = client.put(
            "/v2/ns/app/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 400
        assert _codes(r) == ["MANIFEST_INVALID"]
        assert "nested deeper than" in r.json()["errors"][0]["message"]
        assert client.get("/v2/ns/app/tags/list").json()["tags"] == []
        # a normal manifest still goes in
        good = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []}
        r = client.put(
            "/v2/ns/app/manifests/v1",
            content=json.dumps(good).encode(),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 201


@pytest.mark.parametrize("ref", ["v1%0a", "v1%0d%0a", "v1%0A%0A"])
def test_a_tag_with_a_trailing_newline_is_not_created(registry: ThreadedRegistry, ref: str) -> None:
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        config = _push_blob(client, "ns/app", b"{}")
        good = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []}
        url = httpx.URL(registry.url + f"/v2/ns/app/manifests/{ref}")
        r = client.put(
            url, content=json.dumps(good).encode(), headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 400
        assert _codes(r) == ["MANIFEST_INVALID"]
        assert client.get("/v2/ns/app/tags/list").json()["tags"] == []


@pytest.mark.parametrize("name", ["ns/app%0a", "ns%0a/app"])
def test_a_repository_name_with_a_newline_is_refused(registry: ThreadedRegistry, name: str) -> None:
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        r = client.post(httpx.URL(registry.url + f"/v2/{name}/blobs/uploads/"))
        # no route matches a path with a newline inside it (404), nor a name ending in one
        assert r.status_code in (400, 404)
        assert _codes(r)[0] in ("NAME_INVALID", "NOT_FOUND")
        assert client.get("/v2/_catalog").json()["repositories"] == []
