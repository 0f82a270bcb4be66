"""The distribution-spec scenario suite, over real HTTP, against the embedded registry and
Debian's CNCF distribution registry (``any_registry``). Where the two legitimately differ the
test says so with ``DISTRIBUTION_2_8`` and the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.localregistry.client import (
    ACCEPT_ALL,
    OCI_INDEX,
    OCI_MANIFEST,
    SpecClient,
    codes,
    sha256,
)
from tests.registries import RunningRegistry


@pytest.fixture
def reg(any_registry: RunningRegistry) -> Iterator[SpecClient]:
    client = SpecClient(any_registry)
    yield client
    client.close()


def is_distribution(reg: SpecClient) -> bool:
    return reg.kind == "distribution"


# -- base ---------------------------------------------------------------------------------


def test_base_endpoint(reg: SpecClient) -> None:
    r = reg.http.get("/v2/")
    assert r.status_code == 200
    assert r.json() == {}


# -- blobs --------------------------------------------------------------------------------


def test_post_then_put_upload(reg: SpecClient) -> None:
    data = b"layer bytes" * 1000
    location = reg.start_upload("ns/app")
    r = reg.http.put(reg.at(location, digest=sha256(data)), content=data)
    assert r.status_code == 201
    assert r.headers["docker-content-digest"] == sha256(data)
    assert r.headers["location"].endswith(f"/v2/ns/app/blobs/{sha256(data)}")

    head = reg.http.head(f"/v2/ns/app/blobs/{sha256(data)}")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["docker-content-digest"] == sha256(data)
    get = reg.http.get(f"/v2/ns/app/blobs/{sha256(data)}")
    assert get.status_code == 200
    assert get.content == data


def test_single_post_monolithic_upload(reg: SpecClient) -> None:
    data = b"monolithic"
    r = reg.http.post("/v2/ns/mono/blobs/uploads/", params={"digest": sha256(data)}, content=data)
    if is_distribution(reg):
        # DISTRIBUTION_2_8: a POST with ?digest= only opens a session (202); the body is ignored.
        assert r.status_code == 202
        return
    assert r.status_code == 201
    assert r.headers["docker-content-digest"] == sha256(data)
    assert reg.http.get(f"/v2/ns/mono/blobs/{sha256(data)}").content == data


def test_chunked_upload_with_status(reg: SpecClient) -> None:
    data = bytes(range(256)) * 400
    location = reg.start_upload("ns/chunked")
    first, second = data[:40000], data[40000:]
    r = reg.http.patch(
        reg.at(location),
        content=first,
        headers={
            "Content-Range": f"0-{len(first) - 1}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert r.status_code == 202
    assert r.headers["range"] == f"0-{len(first) - 1}"
    location = r.headers["location"]

    status = reg.http.get(reg.at(location))
    assert status.status_code == 204
    assert status.headers["range"] == f"0-{len(first) - 1}"
    assert "docker-upload-uuid" in status.headers

    r = reg.http.patch(
        reg.at(location),
        content=second,
        headers={"Content-Range": f"{len(first)}-{len(data) - 1}"},
    )
    assert r.status_code == 202
    assert r.headers["range"] == f"0-{len(data) - 1}"
    r = reg.http.put(reg.at(r.headers["location"], digest=sha256(data)))
    assert r.status_code == 201
    assert reg.http.get(f"/v2/ns/chunked/blobs/{sha256(data)}").content == data


def test_streamed_patch_without_content_range(reg: SpecClient) -> None:
    data = b"streamed" * 5000

    def body() -> Iterator[bytes]:  # chunked transfer encoding
        for i in range(0, len(data), 7000):
            yield data[i : i + 7000]

    r = reg.http.patch(reg.at(reg.start_upload("ns/stream")), content=body())
    assert r.status_code == 202
    r = reg.http.put(reg.at(r.headers["location"], digest=sha256(data)))
    assert r.status_code == 201


def test_final_chunk_on_put(reg: SpecClient) -> None:
    data = b"a" * 1000 + b"b" * 1000
    r = reg.http.patch(
        reg.at(reg.start_upload("ns/final")),
        content=data[:1000],
        headers={"Content-Range": "0-999"},
    )
    r = reg.http.put(
        reg.at(r.headers["location"], digest=sha256(data)),
        content=data[1000:],
        headers={"Content-Range": "1000-1999"},
    )
    assert r.status_code == 201
    assert reg.http.get(f"/v2/ns/final/blobs/{sha256(data)}").content == data


def test_out_of_order_patch(reg: SpecClient) -> None:
    location = reg.start_upload("ns/ooo")
    r = reg.http.patch(reg.at(location), content=b"x" * 10, headers={"Content-Range": "5-14"})
    if is_distribution(reg):
        # DISTRIBUTION_2_8: an out-of-order PATCH is accepted and appended.
        assert r.status_code == 202
        return
    assert r.status_code == 416
    assert codes(r) == ["BLOB_UPLOAD_INVALID"]
    assert r.headers["range"] == "0-0"
    status = reg.http.get(reg.at(location))
    assert status.status_code == 204  # the session is untouched and still usable


def test_digest_mismatch_stores_nothing(reg: SpecClient) -> None:
    data = b"real content"
    wrong = sha256(b"something else")
    r = reg.http.put(reg.at(reg.start_upload("ns/mis"), digest=wrong), content=data)
    assert r.status_code == 400
    assert codes(r) == ["DIGEST_INVALID"]
    assert reg.http.head(f"/v2/ns/mis/blobs/{wrong}").status_code == 404
    assert reg.http.head(f"/v2/ns/mis/blobs/{sha256(data)}").status_code == 404


def test_sha512_digest(reg: SpecClient) -> None:
    import hashlib

    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    r = reg.http.put(reg.at(reg.start_upload("ns/512"), digest=digest), content=data)
    assert r.status_code == 201
    if is_distribution(reg):
        # DISTRIBUTION_2_8: verifies the sha512 digest but files the blob under its sha256.
        assert r.headers["docker-content-digest"] == sha256(data)
        return
    assert r.headers["docker-content-digest"] == digest
    assert reg.http.get(f"/v2/ns/512/blobs/{digest}").content == data
    bad = "sha512:" + hashlib.sha512(b"other").hexdigest()
    r = reg.http.put(reg.at(reg.start_upload("ns/512"), digest=bad), content=data)
    assert r.status_code == 400
    assert codes(r) == ["DIGEST_INVALID"]


def test_cancel_upload(reg: SpecClient) -> None:
    location = reg.start_upload("ns/cancel")
    r = reg.http.patch(reg.at(location), content=b"abc", headers={"Content-Range": "0-2"})
    location = r.headers["location"]
    r = reg.http.delete(reg.at(location))
    assert r.status_code == 204
    status = reg.http.get(reg.at(location))
    assert status.status_code == 404
    assert codes(status) == ["BLOB_UPLOAD_UNKNOWN"]


def test_range_requests(reg: SpecClient) -> None:
    data = bytes(range(100))
    digest = reg.push_blob("ns/range", data)
    url = f"/v2/ns/range/blobs/{digest}"
    r = reg.http.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == data[10:20]
    assert r.headers["content-range"] == "bytes 10-19/100"
    r = reg.http.get(url, headers={"Range": "bytes=90-"})
    assert r.status_code == 206
    assert r.content == data[90:]
    r = reg.http.get(url, headers={"Range": "bytes=-5"})
    assert r.status_code == 206
    assert r.content == data[95:]


def test_unsatisfiable_range(embedded: RunningRegistry) -> None:
    # Embedded only: DISTRIBUTION_2_8 answers this with a response h11 rejects as malformed.
    reg = SpecClient(embedded)
    digest = reg.push_blob("ns/range", b"0123456789")
    r = reg.http.get(f"/v2/ns/range/blobs/{digest}", headers={"Range": "bytes=50-60"})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */10"


def test_blob_unknown_and_delete(reg: SpecClient) -> None:
    missing = sha256(b"never pushed")
    r = reg.http.get(f"/v2/ns/del/blobs/{missing}")
    assert r.status_code == 404
    assert codes(r) == ["BLOB_UNKNOWN"]
    digest = reg.push_blob("ns/del", b"to delete")
    r = reg.http.delete(f"/v2/ns/del/blobs/{digest}")
    assert r.status_code == 202
    assert reg.http.head(f"/v2/ns/del/blobs/{digest}").status_code == 404
    r = reg.http.delete(f"/v2/ns/del/blobs/{digest}")
    assert r.status_code == 404
    assert codes(r) == ["BLOB_UNKNOWN"]


def test_blob_head_needs_link_in_repository(reg: SpecClient) -> None:
    digest = reg.push_blob("ns/one", b"private to one")
    assert reg.http.head(f"/v2/ns/one/blobs/{digest}").status_code == 200
    reg.push_blob("ns/two", b"something")
    assert reg.http.head(f"/v2/ns/two/blobs/{digest}").status_code == 404


def test_cross_repository_mount(reg: SpecClient) -> None:
    data = b"shared layer"
    digest = reg.push_blob("ns/source", data)
    r = reg.http.post("/v2/ns/target/blobs/uploads/", params={"mount": digest, "from": "ns/source"})
    if is_distribution(reg):
        # DISTRIBUTION_2_8 (filesystem driver, no proxy) links the blob too, but it answers 201
        # only when the client's token grants pull on the source; anonymous: a new session.
        assert r.status_code in (201, 202)
    else:
        assert r.status_code == 201
        assert r.headers["docker-content-digest"] == digest
        assert reg.http.get(f"/v2/ns/target/blobs/{digest}").content == data
    r = reg.http.post(
        "/v2/ns/target/blobs/uploads/", params={"mount": sha256(b"absent"), "from": "ns/source"}
    )
    assert r.status_code == 202
    assert r.headers["location"]


# -- manifests ----------------------------------------------------------------------------


def test_manifest_put_get_head(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/img", [b"layer one", b"layer two"])
    digest = sha256(body)
    r = reg.put_manifest("ns/img", "v1", body)
    assert r.status_code == 201
    assert r.headers["docker-content-digest"] == digest
    assert r.headers["location"].endswith(f"/v2/ns/img/manifests/{digest}")
    for ref in ("v1", digest):
        got = reg.get_manifest("ns/img", ref)
        assert got.status_code == 200
        assert got.content == body
        assert got.headers["content-type"] == OCI_MANIFEST
        assert got.headers["docker-content-digest"] == digest
        head = reg.http.head(f"/v2/ns/img/manifests/{ref}", headers=ACCEPT_ALL)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(body))
        assert head.headers["docker-content-digest"] == digest


def test_manifest_bytes_kept_exactly(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/bytes", [b"l"])
    odd = json.dumps(json.loads(body), indent=7, sort_keys=True).encode() + b"\n\n"
    r = reg.put_manifest("ns/bytes", "odd", odd)
    assert r.status_code == 201
    assert r.headers["docker-content-digest"] == sha256(odd)
    assert reg.get_manifest("ns/bytes", "odd").content == odd


def test_manifest_get_without_accept(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/noaccept", [b"l"])
    reg.put_manifest("ns/noaccept", "v1", body)
    r = reg.http.get("/v2/ns/noaccept/manifests/v1")
    if is_distribution(reg):
        # DISTRIBUTION_2_8: an OCI manifest fetched without Accept is a 404.
        assert r.status_code == 404
        return
    assert r.status_code == 200
    assert r.content == body


def test_put_by_digest_and_mismatch(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/bydigest", [b"l"])
    r = reg.put_manifest("ns/bydigest", sha256(body), body)
    assert r.status_code == 201
    r = reg.put_manifest("ns/bydigest", sha256(b"not it"), body)
    assert r.status_code == 400
    assert codes(r) == ["DIGEST_INVALID"]
    assert reg.get_manifest("ns/bydigest", sha256(b"not it")).status_code == 404


def test_manifest_with_missing_blob(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/missing", [b"present"])
    doc = json.loads(body)
    doc["layers"].append(
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(b"x"), "size": 1}
    )
    r = reg.put_manifest("ns/missing", "v1", json.dumps(doc).encode())
    assert r.status_code == 400
    assert codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    assert reg.get_manifest("ns/missing", "v1").status_code == 404


def test_index_with_children(reg: SpecClient) -> None:
    _, amd = reg.push_image("ns/multi", "amd", [b"amd layer"])
    _arm_body, arm = reg.push_image("ns/multi", "arm", [b"arm layer"])
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": d,
                    "size": 100,
                    "platform": {"os": "linux", "architecture": a},
                }
                for d, a in ((amd, "amd64"), (arm, "arm64"))
            ],
        }
    ).encode()
    r = reg.put_manifest("ns/multi", "latest", index, OCI_INDEX)
    assert r.status_code == 201
    got = reg.get_manifest("ns/multi", "latest")
    assert got.headers["content-type"] == OCI_INDEX
    assert got.content == index

    missing = json.loads(index)
    missing["manifests"].append({"mediaType": OCI_MANIFEST, "digest": sha256(b"nope"), "size": 4})
    r = reg.put_manifest("ns/multi", "broken", json.dumps(missing).encode(), OCI_INDEX)
    assert r.status_code == 400
    assert codes(r) == ["MANIFEST_BLOB_UNKNOWN"]


def test_invalid_manifests(reg: SpecClient) -> None:
    no_config = b'{"schemaVersion": 2, "mediaType": "%s", "layers": []}' % OCI_MANIFEST.encode()
    schema1 = b'{"schemaVersion": 1}'
    for body in (b"{not json", b"[]", schema1, no_config):
        r = reg.put_manifest("ns/invalid", "v1", body)
        if is_distribution(reg) and body == schema1:
            # DISTRIBUTION_2_8: an unsigned schema-1 body under an OCI Content-Type is a 500.
            assert r.status_code == 500
            continue
        assert r.status_code == 400, body
        if is_distribution(reg):
            # DISTRIBUTION_2_8: a manifest without config is reported as a missing blob
            # (DIGEST_INVALID + MANIFEST_BLOB_UNKNOWN) rather than as invalid.
            assert codes(r)[0] in ("MANIFEST_INVALID", "DIGEST_INVALID"), body
        else:
            assert codes(r) == ["MANIFEST_INVALID"], body
    assert reg.get_manifest("ns/invalid", "v1").status_code == 404


def test_manifest_unknown(reg: SpecClient) -> None:
    reg.push_image("ns/unknown", "v1", [b"l"])
    for ref in ("nope", sha256(b"nope")):
        r = reg.get_manifest("ns/unknown", ref)
        assert r.status_code == 404
        assert codes(r) == ["MANIFEST_UNKNOWN"]


def test_delete_manifest_by_digest(reg: SpecClient) -> None:
    _, digest = reg.push_image("ns/delm", "v1", [b"l"])
    r = reg.http.delete(f"/v2/ns/delm/manifests/{digest}")
    assert r.status_code == 202
    assert reg.get_manifest("ns/delm", digest).status_code == 404
    assert reg.get_manifest("ns/delm", "v1").status_code == 404
    r = reg.http.delete(f"/v2/ns/delm/manifests/{digest}")
    assert r.status_code == 404
    assert codes(r) == ["MANIFEST_UNKNOWN"]


def test_delete_by_tag(reg: SpecClient) -> None:
    _, digest = reg.push_image("ns/delt", "v1", [b"l"])
    r = reg.http.delete("/v2/ns/delt/manifests/v1")
    if is_distribution(reg):
        # DISTRIBUTION_2_8: refuses to delete by tag (400 DIGEST_INVALID); the tag remains.
        assert r.status_code == 400
        assert reg.get_manifest("ns/delt", "v1").status_code == 200
        return
    assert r.status_code == 202
    assert reg.get_manifest("ns/delt", "v1").status_code == 404
    assert reg.get_manifest("ns/delt", digest).status_code == 200  # only the tag went


def test_retag_moves_tag(reg: SpecClient) -> None:
    _, first = reg.push_image("ns/retag", "latest", [b"one"])
    body, _second = reg.push_image("ns/retag", "latest", [b"two"])
    assert reg.get_manifest("ns/retag", "latest").content == body
    assert reg.get_manifest("ns/retag", first).status_code == 200


# -- listing ------------------------------------------------------------------------------


def test_tags_list_and_pagination(reg: SpecClient) -> None:
    body = reg.image_manifest("ns/tags", [b"l"])
    names = ["v3", "v1", "latest", "v2", "a"]
    for tag in names:
        assert reg.put_manifest("ns/tags", tag, body).status_code == 201
    r = reg.http.get("/v2/ns/tags/tags/list")
    assert r.status_code == 200
    assert r.json()["name"] == "ns/tags"
    if is_distribution(reg):
        # DISTRIBUTION_2_8: tag lists are neither sorted nor paginated.
        assert sorted(r.json()["tags"]) == sorted(names)
        return
    assert r.json()["tags"] == sorted(names)
    page = reg.http.get("/v2/ns/tags/tags/list", params={"n": 2})
    assert page.json()["tags"] == ["a", "latest"]
    assert page.headers["link"] == '</v2/ns/tags/tags/list?last=latest&n=2>; rel="next"'
    page = reg.http.get("/v2/ns/tags/tags/list", params={"n": 2, "last": "latest"})
    assert page.json()["tags"] == ["v1", "v2"]
    last = reg.http.get("/v2/ns/tags/tags/list", params={"n": 2, "last": "v2"})
    assert last.json()["tags"] == ["v3"]
    assert "link" not in last.headers


def test_tags_of_unknown_repository(reg: SpecClient) -> None:
    r = reg.http.get("/v2/ns/never/tags/list")
    assert r.status_code == 404
    assert codes(r) == ["NAME_UNKNOWN"]


def test_catalog_pagination(reg: SpecClient) -> None:
    repos = ["a/one", "b/two", "c/three/deep"]
    for repo in repos:
        reg.push_image(repo, "v1", [repo.encode()])
    r = reg.http.get("/v2/_catalog")
    assert r.status_code == 200
    assert r.json()["repositories"] == repos
    page = reg.http.get("/v2/_catalog", params={"n": 2})
    assert page.json()["repositories"] == repos[:2]
    assert 'rel="next"' in page.headers["link"]
    rest = reg.http.get("/v2/_catalog", params={"n": 2, "last": repos[1]})
    assert rest.json()["repositories"] == repos[2:]


def test_deep_repository_names(reg: SpecClient) -> None:
    name = "a/b/c/d/e/f-g/h__i/j.k"
    body, _digest = reg.push_image(name, "v1", [b"deep"])
    assert reg.get_manifest(name, "v1").content == body
    assert reg.http.get(f"/v2/{name}/tags/list").json()["tags"] == ["v1"]


def test_invalid_repository_name(reg: SpecClient) -> None:
    r = reg.http.get("/v2/Upper/Case/tags/list")
    if is_distribution(reg):
        # DISTRIBUTION_2_8: names outside the grammar do not match its routes (404 text page).
        assert r.status_code == 404
        return
    assert r.status_code == 400
    assert codes(r) == ["NAME_INVALID"]


# -- referrers (OCI 1.1) ------------------------------------------------------------------


def test_referrers(reg: SpecClient) -> None:
    _, subject = reg.push_image("ns/ref", "v1", [b"the image"])
    subject_desc = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}
    sbom = reg.image_manifest(
        "ns/ref",
        [b"sbom"],
        config=b"{}",
        artifactType="application/spdx+json",
        subject=subject_desc,
        annotations={"kind": "sbom"},
    )
    sig = reg.image_manifest(
        "ns/ref", [b"sig"], config_media_type="application/vnd.example.sig", subject=subject_desc
    )
    r = reg.put_manifest("ns/ref", sha256(sbom), sbom)
    assert r.status_code == 201
    r2 = reg.put_manifest("ns/ref", sha256(sig), sig)
    assert r2.status_code == 201
    listing = reg.http.get(f"/v2/ns/ref/referrers/{subject}")
    if is_distribution(reg):
        # DISTRIBUTION_2_8: no referrers API and no OCI-Subject header.
        assert "oci-subject" not in r.headers
        assert listing.status_code == 404
        return
    assert r.headers["oci-subject"] == subject
    assert listing.status_code == 200
    assert listing.headers["content-type"] == OCI_INDEX
    index = listing.json()
    assert index["mediaType"] == OCI_INDEX
    by_digest = {m["digest"]: m for m in index["manifests"]}
    assert by_digest[sha256(sbom)] == {
        "mediaType": OCI_MANIFEST,
        "digest": sha256(sbom),
        "size": len(sbom),
        "artifactType": "application/spdx+json",
        "annotations": {"kind": "sbom"},
    }
    assert by_digest[sha256(sig)]["artifactType"] == "application/vnd.example.sig"

    filtered = reg.http.get(
        f"/v2/ns/ref/referrers/{subject}", params={"artifactType": "application/spdx+json"}
    )
    assert filtered.headers["oci-filters-applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [sha256(sbom)]

    reg.http.delete(f"/v2/ns/ref/manifests/{sha256(sbom)}")
    after = reg.http.get(f"/v2/ns/ref/referrers/{subject}").json()["manifests"]
    assert [m["digest"] for m in after] == [sha256(sig)]


def test_error_body_shape(reg: SpecClient) -> None:
    r = reg.http.get(f"/v2/ns/shape/blobs/{sha256(b'absent')}")
    assert r.status_code == 404
    (error,) = r.json()["errors"]
    assert set(error) >= {"code", "message"}
    assert isinstance(error["message"], str)
    if not is_distribution(reg):
        assert "detail" in error


def test_empty_blob(reg: SpecClient) -> None:
    empty = sha256(b"")
    r = reg.http.put(reg.at(reg.start_upload("ns/empty"), digest=empty))
    assert r.status_code == 201
    head = reg.http.head(f"/v2/ns/empty/blobs/{empty}")
    assert head.status_code == 200
    assert head.headers["content-length"] == "0"
    assert reg.http.get(f"/v2/ns/empty/blobs/{empty}").content == b""


def test_artifact_index_as_referrer(embedded: RunningRegistry) -> None:
    # Embedded only: DISTRIBUTION_2_8 has no referrers API.
    reg = SpecClient(embedded)
    _, subject = reg.push_image("ns/art", "v1", [b"image"])
    _, child = reg.push_image("ns/art", "child", [b"child"])
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.example.bundle",
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": 10}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10},
        }
    ).encode()
    r = reg.put_manifest("ns/art", sha256(index), index, OCI_INDEX)
    assert r.status_code == 201
    assert r.headers["oci-subject"] == subject
    (entry,) = reg.http.get(f"/v2/ns/art/referrers/{subject}").json()["manifests"]
    assert entry["artifactType"] == "application/vnd.example.bundle"
    assert entry["mediaType"] == OCI_INDEX
    assert entry["size"] == len(index)


def test_subject_may_be_absent(reg: SpecClient) -> None:
    """A referrer can be pushed before its subject (OCI 1.1)."""
    missing = sha256(b"subject pushed later")
    body = reg.image_manifest(
        "ns/early",
        [b"sig"],
        subject={"mediaType": OCI_MANIFEST, "digest": missing, "size": 20},
    )
    r = reg.put_manifest("ns/early", sha256(body), body)
    assert r.status_code == 201
    if not is_distribution(reg):
        refs = reg.http.get(f"/v2/ns/early/referrers/{missing}").json()["manifests"]
        assert [m["digest"] for m in refs] == [sha256(body)]
