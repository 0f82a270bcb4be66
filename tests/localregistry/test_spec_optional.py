"""Optional parts of distribution-spec 1.1 the embedded registry implements: ``?tag=`` on a
manifest push by digest with ``OCI-Tag``, sha512 digests kept as the client gave them, and
automatic cross-repository mounting without ``from``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from tests.localregistry.client import OCI_INDEX, OCI_MANIFEST, SpecClient, codes, sha256
from tests.registries import RunningRegistry


@pytest.fixture
def reg(embedded: RunningRegistry) -> Iterator[SpecClient]:
    client = SpecClient(embedded)
    yield client
    client.close()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def test_tag_parameters_on_a_push_by_digest(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/tp", [b"tagged by parameter"])
    r = reg.http.put(
        f"/v2/ns/tp/manifests/{sha256(body)}",
        params=[("tag", "1.2.3"), ("tag", "1.2"), ("tag", "latest"), ("tag", "1.2")],
        content=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status_code == 201, r.text
    assert r.headers.get_list("oci-tag") == ["1.2.3", "1.2", "latest"]
    assert reg.http.get("/v2/ns/tp/tags/list").json()["tags"] == ["1.2", "1.2.3", "latest"]
    for tag in ("1.2.3", "1.2", "latest"):
        got = reg.get_manifest("ns/tp", tag)
        assert got.content == body
        assert got.headers["docker-content-digest"] == sha256(body)


def test_a_bad_tag_parameter_stores_nothing(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/tpbad", [b"never stored"])
    r = reg.http.put(
        f"/v2/ns/tpbad/manifests/{sha256(body)}",
        params=[("tag", "good"), ("tag", "-bad")],
        content=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status_code == 400
    assert codes(r) == ["MANIFEST_INVALID"]
    assert reg.get_manifest("ns/tpbad", sha256(body)).status_code == 404
    too_many = reg.http.put(
        f"/v2/ns/tpbad/manifests/{sha256(body)}",
        params=[("tag", f"t{i}") for i in range(101)],
        content=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert too_many.status_code == 414
    assert reg.http.get("/v2/ns/tpbad/tags/list").json()["tags"] == []


def push_blob_sha512(reg: SpecClient, name: str, data: bytes) -> str:
    r = reg.http.post(f"/v2/{name}/blobs/uploads/", params={"digest-algorithm": "sha512"})
    assert r.status_code == 202
    location = r.headers["location"]
    half = len(data) // 2
    r = reg.http.patch(
        reg.at(location),
        content=data[:half],
        headers={"Content-Range": f"0-{half - 1}", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202
    r = reg.http.put(reg.at(r.headers["location"], digest=sha512(data)), content=data[half:])
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == sha512(data)
    return sha512(data)


def test_sha512_blobs_and_manifests_keep_their_digest(reg: SpecClient) -> None:
    layer, config = b"sha512 layer " * 100, b'{"architecture":"amd64"}'
    layer_digest = push_blob_sha512(reg, "ns/s512", layer)
    mono = reg.http.post(
        "/v2/ns/s512/blobs/uploads/", params={"digest": sha512(config)}, content=config
    )
    assert mono.status_code == 201
    assert mono.headers["docker-content-digest"] == sha512(config)
    got = reg.http.get(f"/v2/ns/s512/blobs/{layer_digest}")
    assert got.content == layer
    assert got.headers["docker-content-digest"] == layer_digest

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha512(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    r = reg.http.put(
        f"/v2/ns/s512/manifests/{sha512(manifest)}",
        params={"tag": "v512"},
        content=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == sha512(manifest)
    assert r.headers["location"].endswith(f"/manifests/{sha512(manifest)}")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": sha512(manifest), "size": len(manifest)}
            ],
        }
    ).encode()
    r = reg.http.put(
        f"/v2/ns/s512/manifests/{sha512(index)}",
        content=index,
        headers={"Content-Type": OCI_INDEX},
    )
    assert r.status_code == 201, r.text
    for ref, digest in ((sha512(manifest), sha512(manifest)), ("v512", sha512(manifest))):
        for method in ("GET", "HEAD"):
            answer = reg.http.request(
                method, f"/v2/ns/s512/manifests/{ref}", headers={"Accept": OCI_MANIFEST}
            )
            assert answer.status_code == 200
            assert answer.headers["docker-content-digest"] == digest
    assert reg.get_manifest("ns/s512", sha512(index)).content == index
    # the same bytes under their sha256 digest are not the manifest that was pushed
    assert reg.get_manifest("ns/s512", sha256(manifest)).status_code == 404


def test_unknown_digest_algorithm_is_refused(reg: SpecClient) -> None:
    r = reg.http.post("/v2/ns/algo/blobs/uploads/", params={"digest-algorithm": "md5"})
    assert r.status_code == 400
    assert codes(r) == ["DIGEST_INVALID"]


def test_mount_without_from_finds_the_blob(reg: SpecClient) -> None:
    digest = reg.push_blob("ns/source", b"shared by discovery")
    r = reg.http.post("/v2/ns/target/blobs/uploads/", params={"mount": digest})
    assert r.status_code == 201
    assert r.headers["location"].endswith(f"/v2/ns/target/blobs/{digest}")
    assert r.headers["docker-content-digest"] == digest
    assert reg.http.get(f"/v2/ns/target/blobs/{digest}").content == b"shared by discovery"

    missing = sha256(b"in no repository")
    r = reg.http.post("/v2/ns/target/blobs/uploads/", params={"mount": missing})
    assert r.status_code == 202  # an upload session instead
    # with ``from``, only that repository is searched
    r = reg.http.post(
        "/v2/ns/third/blobs/uploads/", params={"mount": digest, "from": "ns/elsewhere"}
    )
    assert r.status_code == 202
    # content whose every link was deleted is not mountable (a digest is no proof of access)
    orphan = reg.push_blob("ns/lonely", b"unlinked")
    assert reg.http.delete(f"/v2/ns/lonely/blobs/{orphan}").status_code == 202
    r = reg.http.post("/v2/ns/target/blobs/uploads/", params={"mount": orphan})
    assert r.status_code == 202


def test_sparse_index_is_refused(reg: SpecClient) -> None:
    present = reg.image_manifest("ns/sparse", [b"amd64"])
    assert reg.put_manifest("ns/sparse", sha256(present), present).status_code == 201
    absent = sha256(b"arm64 manifest never pushed")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": sha256(present), "size": len(present)},
                {"mediaType": OCI_MANIFEST, "digest": absent, "size": 1024},
            ],
        }
    ).encode()
    r = reg.put_manifest("ns/sparse", "multi", index, OCI_INDEX)
    assert r.status_code == 400
    assert codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    assert r.json()["errors"][0]["detail"] == {"digest": absent}
