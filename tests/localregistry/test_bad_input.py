"""Bad input gets the spec's error code and leaves the store exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.localregistry.client import OCI_INDEX, OCI_MANIFEST, SpecClient, codes, sha256
from tests.registries import RunningRegistry
from tests.serving.attack import receive


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the data directory (but the scratch area) with a hash of its content.

    The server may remove an upload session or a scratch file while this walks, so an entry
    that vanishes between listing and reading is simply left out (``os.walk`` skips a
    directory that is gone by the time it is listed).
    """
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d != "tmp"]
        for name in dirnames:
            out[(here / name).relative_to(root).as_posix() + "/"] = ""
        for name in filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if rel == "tmp":
                continue
            try:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            except FileNotFoundError:
                continue
    return dict(sorted(out.items()))


@pytest.fixture
def reg(embedded: RunningRegistry) -> Iterator[SpecClient]:
    client = SpecClient(embedded)
    client.push_image("ns/app", "v1", [b"existing layer"])
    yield client
    client.close()


@pytest.fixture
def unchanged(reg: SpecClient) -> Iterator[None]:
    before = snapshot(reg.registry.data_dir)
    yield
    assert snapshot(reg.registry.data_dir) == before


def raw_request(reg: SpecClient, request: bytes, *, close_after_send: bool = False) -> bytes:
    """The reply to ``request`` sent on a connection of its own: all of it up to the close if
    the client closes its side after sending, else up to the end of a Content-Length body."""
    host, port = reg.registry.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        if close_after_send:
            sock.shutdown(socket.SHUT_WR)
        return receive(sock, None if close_after_send else _has_whole_body)


def _has_whole_body(reply: bytes) -> bool:
    """Whether ``reply`` holds its head and as many body bytes as its Content-Length says."""
    if b"\r\n\r\n" not in reply:
        return False
    head, _, body = reply.partition(b"\r\n\r\n")
    length = [
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    return bool(length) and len(body) >= length[0]


BAD_NAMES = [
    "UPPER/case",
    "ns/-leading",
    "ns/trailing-",
    "ns//double",
    "ns/_underscore",
    "ns/a..b",
    "ns/" + "a" * 253,
    "ns/with space",
    "ns/ünïcode",
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.usefixtures("unchanged")
def test_bad_names(reg: SpecClient, name: str) -> None:
    for method, path in [
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/manifests/v1"),
        ("PUT", f"/v2/{name}/manifests/v1"),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("HEAD", f"/v2/{name}/blobs/{sha256(b'x')}"),
    ]:
        r = reg.http.request(method, path, content=b"{}" if method == "PUT" else None)
        assert r.status_code == 400, (method, path)
        if method != "HEAD":
            assert codes(r) == ["NAME_INVALID"]


@pytest.mark.parametrize(
    "path",
    [
        b"/v2/../../../etc/passwd/tags/list",
        b"/v2/ns/%2e%2e/%2e%2e/x/tags/list",
        b"/v2/ns%2F..%2F..%2Fescape/blobs/uploads/",
        b"/v2/ns/app/blobs/uploads/..%2F..%2F..%2Fdata",
        b"/v2/ns/app/manifests/..%2Fv1",
        b"/v2/ns/app/blobs/sha256:..%2F..%2Fx",
    ],
)
@pytest.mark.usefixtures("unchanged")
def test_path_traversal_is_refused(reg: SpecClient, path: bytes) -> None:
    for method in (b"GET", b"POST", b"PUT", b"DELETE"):
        response = raw_request(
            reg, method + b" " + path + b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
        )
        status = int(response.split(b" ", 2)[1])
        assert status in (400, 404, 405), (method, path, response[:200])


@pytest.mark.parametrize(
    "digest",
    ["sha256:xyz", "sha256:" + "A" * 64, "md5:" + "0" * 32, "nocolon", "sha256:" + "0" * 63],
)
@pytest.mark.usefixtures("unchanged")
def test_bad_digests(reg: SpecClient, digest: str) -> None:
    assert codes(reg.http.get(f"/v2/ns/app/blobs/{digest}")) == ["DIGEST_INVALID"]
    assert codes(reg.http.delete(f"/v2/ns/app/blobs/{digest}")) == ["DIGEST_INVALID"]
    assert codes(reg.http.get(f"/v2/ns/app/referrers/{digest}")) == ["DIGEST_INVALID"]
    r = reg.http.post("/v2/ns/app/blobs/uploads/", params={"mount": digest, "from": "ns/app"})
    assert codes(r) == ["DIGEST_INVALID"]


def test_bad_digest_on_finish_keeps_nothing(reg: SpecClient) -> None:
    before = snapshot(reg.registry.data_dir)
    for digest in (None, "sha256:nothex", sha256(b"different")):
        location = reg.start_upload("ns/app")
        params = {"digest": digest} if digest else {}
        r = reg.http.put(reg.at(location, **params), content=b"content")
        assert r.status_code == 400
        assert codes(r) == ["DIGEST_INVALID"]
        reg.http.delete(reg.at(location))  # the session may stay open for a retry; cancel it
    assert snapshot(reg.registry.data_dir) == before


def test_wrong_content_range(reg: SpecClient) -> None:
    location = reg.start_upload("ns/app")
    r = reg.http.patch(reg.at(location), content=b"0123456789", headers={"Content-Range": "0-9"})
    assert r.status_code == 202
    uploads = snapshot(reg.registry.data_dir)
    cases = [
        ("20-29", b"x" * 10, 416, "BLOB_UPLOAD_INVALID"),  # a gap
        ("0-9", b"x" * 10, 416, "BLOB_UPLOAD_INVALID"),  # a rewrite
        ("10-5", b"x" * 10, 416, "BLOB_UPLOAD_INVALID"),  # backwards
        ("bytes=banana", b"x" * 10, 416, "BLOB_UPLOAD_INVALID"),  # malformed
        ("10-19", b"x" * 5, 400, "SIZE_INVALID"),  # length disagrees with range
    ]
    for header, body, status, code in cases:
        r = reg.http.patch(reg.at(location), content=body, headers={"Content-Range": header})
        assert r.status_code == status, header
        assert codes(r) == [code], header
        assert snapshot(reg.registry.data_dir) == uploads, header
    assert reg.http.get(reg.at(location)).headers["range"] == "0-9"


def test_truncated_patch_body_is_rolled_back(reg: SpecClient) -> None:
    location = reg.start_upload("ns/app")
    r = reg.http.patch(reg.at(location), content=b"0123456789", headers={"Content-Range": "0-9"})
    before = snapshot(reg.registry.data_dir)
    path = location.encode()
    raw_request(
        reg,
        b"PATCH "
        + path
        + b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n"
        + b"y" * 5000,
        close_after_send=True,
    )
    status = reg.http.get(reg.at(location))
    assert status.headers["range"] == "0-9"
    assert snapshot(reg.registry.data_dir) == before
    data = b"0123456789" + b"z" * 10
    r = reg.http.put(reg.at(location, digest=sha256(data)), content=data[10:])
    assert r.status_code == 201


def test_truncated_monolithic_upload_stores_nothing(reg: SpecClient) -> None:
    before = snapshot(reg.registry.data_dir)
    data = b"q" * 100000
    raw_request(
        reg,
        b"POST /v2/ns/app/blobs/uploads/?digest="
        + sha256(data).encode()
        + b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n"
        + data[:30000],
        close_after_send=True,
    )
    assert reg.http.head(f"/v2/ns/app/blobs/{sha256(data)}").status_code == 404
    # the server notices the disconnect on its own schedule; then not even a session is left
    deadline = time.monotonic() + 10
    while snapshot(reg.registry.data_dir) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert snapshot(reg.registry.data_dir) == before


@pytest.mark.usefixtures("unchanged")
def test_monolithic_post_with_bad_digest(reg: SpecClient) -> None:
    r = reg.http.post("/v2/ns/app/blobs/uploads/", params={"digest": "sha256:zz"}, content=b"x")
    assert r.status_code == 400
    assert codes(r) == ["DIGEST_INVALID"]
    r = reg.http.post(
        "/v2/ns/app/blobs/uploads/", params={"digest": sha256(b"other")}, content=b"x"
    )
    assert codes(r) == ["DIGEST_INVALID"]


INVALID_MANIFESTS = [
    (b"", OCI_MANIFEST),
    (b"not json", OCI_MANIFEST),
    (b"[1, 2]", OCI_MANIFEST),
    (b'{"schemaVersion": 1}', OCI_MANIFEST),
    (b'{"schemaVersion": 2}', "text/plain"),
    (b'{"schemaVersion": 2, "config": {}, "layers": []}', OCI_MANIFEST),
    (
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:abc", "size": 1}, "layers": []}',
        OCI_MANIFEST,
    ),
    (
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "'
        + sha256(b"{}").encode()
        + b'", "size": -1}, "layers": []}',
        OCI_MANIFEST,
    ),
    (
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "'
        + sha256(b"{}").encode()
        + b'", "size": 2}, "layers": "nope"}',
        OCI_MANIFEST,
    ),
    (
        b'{"schemaVersion": 2, "mediaType": "' + OCI_INDEX.encode() + b'", "manifests": []}',
        OCI_MANIFEST,
    ),
    (b'{"schemaVersion": 2, "manifests": {}}', OCI_INDEX),
    (b'{"schemaVersion": 2, "manifests": [], "annotations": {"a": 1}}', OCI_INDEX),
    (b"\xff\xfe", OCI_MANIFEST),
]


@pytest.mark.parametrize(("body", "media_type"), INVALID_MANIFESTS)
@pytest.mark.usefixtures("unchanged")
def test_invalid_manifests(reg: SpecClient, body: bytes, media_type: str) -> None:
    r = reg.put_manifest("ns/app", "bad", body, media_type)
    assert r.status_code == 400
    assert codes(r) == ["MANIFEST_INVALID"]
    assert reg.get_manifest("ns/app", "bad").status_code == 404


@pytest.mark.usefixtures("unchanged")
def test_manifest_references_unknown_content(reg: SpecClient) -> None:
    doc = json.loads(reg.get_manifest("ns/app", "v1").content)
    doc["layers"][0]["digest"] = sha256(b"absent")
    r = reg.put_manifest("ns/app", "v2", json.dumps(doc).encode())
    assert codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    # blobs of another repository do not count
    r = reg.put_manifest("ns/other", "v1", reg.get_manifest("ns/app", "v1").content)
    assert codes(r) == ["MANIFEST_BLOB_UNKNOWN"]


@pytest.mark.usefixtures("unchanged")
def test_oversized_manifest(reg: SpecClient) -> None:
    big = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    r = reg.put_manifest("ns/app", "big", big)
    assert r.status_code == 413
    assert codes(r) == ["SIZE_INVALID"]


@pytest.mark.parametrize("tag", ["-dash", ".dot", "a" * 129, "sp ace", "x:y"])
@pytest.mark.usefixtures("unchanged")
def test_bad_tags(reg: SpecClient, tag: str) -> None:
    body = reg.get_manifest("ns/app", "v1").content
    r = reg.put_manifest("ns/app", tag, body)
    assert r.status_code == 400
    assert codes(r)[0] in ("MANIFEST_INVALID", "DIGEST_INVALID")
    if ":" in tag:  # parsed as a digest, and not a valid one
        assert reg.http.delete(f"/v2/ns/app/manifests/{tag}").status_code == 400
        return
    # No manifest can carry an invalid tag: reads and deletes say it is unknown (404), as the
    # distribution-spec conformance suite and distribution itself have it.
    for method in ("GET", "HEAD", "DELETE"):
        answer = reg.http.request(method, f"/v2/ns/app/manifests/{tag}")
        assert answer.status_code == 404, method
        if method != "HEAD" and reg.kind == "embedded":
            assert codes(answer) == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize(
    "uuid", ["nonsense", "00000000-0000-4000-8000-000000000000", "00000000000040008000000000000000"]
)
@pytest.mark.usefixtures("unchanged")
def test_unknown_upload_sessions(reg: SpecClient, uuid: str) -> None:
    base = f"/v2/ns/app/blobs/uploads/{uuid}"
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        r = reg.http.request(
            method, base, params={"digest": sha256(b"")} if method == "PUT" else None
        )
        assert r.status_code == 404, method
        assert codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


@pytest.mark.usefixtures("unchanged")
def test_session_of_another_repository(reg: SpecClient) -> None:
    location = reg.start_upload("ns/one")
    uuid = location.rsplit("/", 1)[1]
    before = snapshot(reg.registry.data_dir)
    r = reg.http.put(f"/v2/ns/two/blobs/uploads/{uuid}", params={"digest": sha256(b"")})
    assert r.status_code == 404
    assert codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    assert snapshot(reg.registry.data_dir) == before
    reg.http.delete(reg.at(location))


@pytest.mark.usefixtures("unchanged")
def test_unsupported_methods(reg: SpecClient) -> None:
    assert codes(reg.http.post("/v2/ns/app/manifests/v1")) == ["UNSUPPORTED"]
    assert codes(reg.http.put("/v2/ns/app/tags/list")) == ["UNSUPPORTED"]
    assert reg.http.get("/v2/no/such/route").status_code == 404
    assert codes(reg.http.get("/v2/_catalog", params={"n": "-1"})) == ["PAGINATION_NUMBER_INVALID"]
    assert codes(reg.http.get("/v2/ns/app/tags/list", params={"n": "x"})) == [
        "PAGINATION_NUMBER_INVALID"
    ]


def test_error_on_a_large_body_answers_without_reading_it_all(reg: SpecClient) -> None:
    """A refused 64 MiB PATCH (unknown session) is answered promptly and the connection closed,
    instead of the server swallowing the whole body first."""
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        chunk = b"\0" * (1 << 20)
        for _ in range(64):
            sent += len(chunk)
            yield chunk

    url = "/v2/ns/app/blobs/uploads/00000000-0000-4000-8000-000000000000"
    try:
        r = reg.http.patch(url, content=body())
    except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError) as exc:
        # The server answered and closed while the client was still sending; httpx reports the
        # close, not the answer. Nothing else (a timeout, say) counts as a refusal.
        assert "timed out" not in str(exc).lower(), exc
    else:
        assert r.status_code == 404
        assert codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    assert sent < 64 << 20  # either way the server stopped taking the body early
    assert reg.http.get("/v2/").status_code == 200  # the client recovers on a new connection


def test_request_paths_cannot_forge_log_lines(
    reg: SpecClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="artreg.localregistry")
    raw_request(reg, b"GET /v2/ns/x%0Afake-line/tags/list HTTP/1.1\r\nHost: localhost\r\n\r\n")
    deadline = time.monotonic() + 10  # the line is written just after the reply is sent
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        lines = [r.getMessage() for r in caplog.records if "fake-line" in r.getMessage()]
        time.sleep(0.01)
    assert lines and all("\n" not in line for line in lines)
    assert "x\\nfake-line" in lines[0]
