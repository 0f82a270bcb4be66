"""A thin httpx helper for driving registries through the distribution spec in tests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from tests.registries import RunningRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
#: distribution 2.8 answers a GET of an OCI manifest without Accept with 404: always send it.
ACCEPT_ALL = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}, */*"}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def codes(response: httpx.Response) -> list[str]:
    """The spec error codes in a response body."""
    return [e["code"] for e in response.json()["errors"]]


class SpecClient:
    """Spec operations against one registry; Location headers (absolute or relative, with or
    without distribution's ``_state`` query) are followed as the spec says."""

    def __init__(self, registry: RunningRegistry, **kwargs: Any) -> None:
        self.registry = registry
        self.kind = registry.kind
        self.http = httpx.Client(base_url=registry.url, timeout=30, **kwargs)

    def close(self) -> None:
        self.http.close()

    def at(self, location: str, **params: str) -> httpx.URL:
        url = self.http.base_url.join(location)
        return url.copy_merge_params(params) if params else url

    def start_upload(self, name: str) -> str:
        r = self.http.post(f"/v2/{name}/blobs/uploads/")
        assert r.status_code == 202, r.text
        return r.headers["location"]

    def push_blob(self, name: str, data: bytes) -> str:
        digest = sha256(data)
        r = self.http.put(self.at(self.start_upload(name), digest=digest), content=data)
        assert r.status_code == 201, r.text
        return digest

    def image_manifest(
        self, name: str, layers: list[bytes], *, config: bytes = b"{}", **extra: Any
    ) -> bytes:
        """Push the config and layers, return an OCI image manifest referring to them."""
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": extra.pop("config_media_type", OCI_CONFIG),
                "digest": self.push_blob(name, config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": OCI_LAYER, "digest": self.push_blob(name, layer), "size": len(layer)}
                for layer in layers
            ],
        }
        doc.update(extra)
        return json.dumps(doc).encode()

    def put_manifest(
        self, name: str, ref: str, body: bytes, media_type: str = OCI_MANIFEST
    ) -> httpx.Response:
        return self.http.put(
            f"/v2/{name}/manifests/{ref}", content=body, headers={"Content-Type": media_type}
        )

    def push_image(self, name: str, tag: str, layers: list[bytes]) -> tuple[bytes, str]:
        body = self.image_manifest(name, layers)
        r = self.put_manifest(name, tag, body)
        assert r.status_code == 201, r.text
        return body, sha256(body)

    def get_manifest(self, name: str, ref: str) -> httpx.Response:
        return self.http.get(f"/v2/{name}/manifests/{ref}", headers=ACCEPT_ALL)
