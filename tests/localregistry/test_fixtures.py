"""The shared registry fixtures start real servers that answer the spec's base endpoint."""

from __future__ import annotations

import httpx

from tests.registries import RunningRegistry


def test_any_registry_answers_base_endpoint(any_registry: RunningRegistry) -> None:
    r = httpx.get(f"{any_registry.url}/v2/")
    assert r.status_code == 200
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_embedded_fixture_is_on_disk(embedded: RunningRegistry) -> None:
    assert embedded.kind == "embedded"
    r = httpx.post(f"{embedded.url}/v2/ns/repo/blobs/uploads/")
    assert r.status_code == 202
    assert (embedded.data_dir / "uploads").is_dir()
