"""The two stores behave alike; the filesystem store survives crashes at any write and keeps
concurrent uploads of one blob safe."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.digest import Digest
from artreg.localregistry import FilesystemStore, MemoryStore, Store, StoreLocked
from artreg.localregistry.store import DigestMismatch, StoredManifest, UploadUnknown
from tests.localregistry.client import SpecClient, sha256
from tests.registries import RunningRegistry


@pytest.fixture(params=["memory", "filesystem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else FilesystemStore(tmp_path / "s")
    yield s
    s.close()


def upload(store: Store, name: str, data: bytes) -> Digest:
    session = store.create_upload(name)
    session.write(data)
    digest = Digest.of(data)
    session.commit(digest)
    return digest


def test_upload_commit_and_read(store: Store) -> None:
    digest = upload(store, "ns/r", b"hello world")
    assert store.blob_size("ns/r", digest) == 11
    reader = store.open_blob("ns/r", digest)
    assert reader is not None
    assert reader.read_at(6, 100) == b"world"
    reader.close()
    assert store.blob_size("ns/other", digest) is None
    assert store.repositories() == ["ns/r"]


def test_checkpoint_and_rollback(store: Store) -> None:
    session = store.create_upload("ns/r")
    session.write(b"keep")
    mark = session.checkpoint()
    session.write(b"drop me")
    session.rollback(mark)
    assert session.size == 4
    session.write(b"!")
    session.commit(Digest.of(b"keep!"))


def test_large_writes_hash_in_order_and_roll_back(store: Store) -> None:
    """Chunks of a MiB and more (hashed on another thread while written) and small ones mixed:
    the digest covers every byte in order, and a rollback undoes a large write too."""
    big = bytes(range(256)) * 4096 * 3  # 3 MiB
    session = store.create_upload("ns/r")
    session.write(big[: 1 << 20])
    session.write(b"x")
    mark = session.checkpoint()
    session.write(big)
    session.rollback(mark)
    session.write(big[(1 << 20) + 1 :])
    assert session.size == len(big)
    digest = Digest(
        "sha256", hashlib.sha256(big[: 1 << 20] + b"x" + big[(1 << 20) + 1 :]).hexdigest()
    )
    assert session.commit(digest) == len(big)
    reader = store.open_blob("ns/r", digest)
    assert reader is not None
    assert reader.read_at(1 << 20, 2) == b"x" + big[(1 << 20) + 1 : (1 << 20) + 2]
    reader.close()


def test_mismatch_stores_nothing(store: Store) -> None:
    session = store.create_upload("ns/r")
    session.write(b"content")
    with pytest.raises(DigestMismatch):
        session.commit(Digest.of(b"other"))
    assert store.blob_size("ns/r", Digest.of(b"content")) is None
    assert store.repositories() == []


def test_sha512_commit(store: Store) -> None:
    session = store.create_upload("ns/r")
    session.write(b"five twelve")
    d = Digest.of(b"five twelve", "sha512")
    session.commit(d)
    assert store.blob_size("ns/r", d) == 11


def test_sessions_are_per_repository(store: Store) -> None:
    session = store.create_upload("ns/a")
    assert (
        store.get_upload("ns/a", session.uuid) is session
        or store.get_upload("ns/a", session.uuid).uuid == session.uuid
    )
    with pytest.raises(UploadUnknown):
        store.get_upload("ns/b", session.uuid)
    session.cancel()
    with pytest.raises(UploadUnknown):
        store.get_upload("ns/a", session.uuid)


def test_manifests_tags_referrers(store: Store) -> None:
    body = b'{"schemaVersion":2,"subject":{"digest":"%s"}}' % str(Digest.of(b"s")).encode()
    digest = Digest.of(body)
    subject = Digest.of(b"s")
    store.put_manifest(
        "ns/r",
        StoredManifest(body, "application/x", digest),
        tags=["v1"],
        subject=subject,
        referrer={"digest": str(digest)},
    )
    assert store.resolve_tag("ns/r", "v1") == digest
    got = store.get_manifest("ns/r", digest)
    assert got is not None and got.body == body and got.media_type == "application/x"
    assert store.referrers("ns/r", subject) == [{"digest": str(digest)}]
    assert store.tags("ns/r") == ["v1"]
    assert store.delete_manifest("ns/r", digest)
    assert store.tags("ns/r") == []
    assert store.referrers("ns/r", subject) == []
    assert not store.delete_manifest("ns/r", digest)


def test_recovery_removes_partial_writes(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = FilesystemStore(root)
    digest = upload(store, "ns/r", b"complete")
    store.close()
    # what a crash can leave behind: a half-written temp file, a half-created session
    (root / "tmp" / "deadbeef.tmp").write_bytes(b"partial")
    (root / "tmp" / "0f0f0f0f-0000-4000-8000-000000000000").mkdir()
    (root / "uploads" / "11111111-0000-4000-8000-000000000000").mkdir()
    store = FilesystemStore(root)
    assert list((root / "tmp").iterdir()) == []
    assert list((root / "uploads").iterdir()) == []
    assert store.verify() == []
    assert store.blob_size("ns/r", digest) == 8


def test_verify_reports_damage(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = FilesystemStore(root)
    digest = upload(store, "ns/r", b"original")
    blob = root / "blobs" / "sha256" / digest.hex[:2] / digest.hex
    blob.write_bytes(b"tampered")
    link = root / "repositories" / "ns" / "r" / "_layers" / "sha256" / ("0" * 64)
    link.write_bytes(b"")
    problems = store.verify()
    assert any("hashes to" in p for p in problems)
    assert any("missing blob" in p for p in problems)


def test_upload_survives_reopen(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = FilesystemStore(root)
    session = store.create_upload("ns/r")
    session.write(b"first half ")
    session.close()
    store.close()
    reopened = FilesystemStore(root)
    again = reopened.get_upload("ns/r", session.uuid)
    assert again.size == 11
    again.write(b"second half")  # the running hash is rebuilt from disk
    again.commit(Digest.of(b"first half second half"))
    assert reopened.verify() == []


def test_concurrent_uploads_of_one_blob(embedded: RunningRegistry) -> None:
    data = os.urandom(4 * 1024 * 1024)
    digest = sha256(data)

    def push(i: int) -> int:
        client = SpecClient(embedded)
        try:
            location = client.start_upload(f"ns/r{i % 3}")
            half = len(data) // 2
            r = client.http.patch(client.at(location), content=data[:half])
            r = client.http.put(
                client.at(r.headers["location"], digest=digest), content=data[half:]
            )
            return r.status_code
        finally:
            client.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(push, range(12))) == [201] * 12
    for i in range(3):
        got = httpx.get(f"{embedded.url}/v2/ns/r{i}/blobs/{digest}")
        assert hashlib.sha256(got.content).hexdigest() == digest.split(":")[1]
    store = FilesystemStore(embedded.data_dir, exclusive=False)  # the server holds it
    assert store.verify() == []
    assert list((embedded.data_dir / "uploads").iterdir()) == []


def test_stale_upload_sessions_expire_on_open(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = FilesystemStore(root)
    old = store.create_upload("ns/r")
    fresh = store.create_upload("ns/r")
    store.close()
    week_ago = os.stat(root / "uploads" / old.uuid / "data").st_mtime - 8 * 24 * 3600
    os.utime(root / "uploads" / old.uuid / "data", (week_ago, week_ago))
    reopened = FilesystemStore(root)
    with pytest.raises(UploadUnknown):
        reopened.get_upload("ns/r", old.uuid)
    assert reopened.get_upload("ns/r", fresh.uuid).size == 0
    reopened.close()
    kept = FilesystemStore(root, upload_expiry=None)
    assert kept.get_upload("ns/r", fresh.uuid).uuid == fresh.uuid


def test_one_owner_at_a_time(tmp_path: Path) -> None:
    first = FilesystemStore(tmp_path / "s")
    with pytest.raises(StoreLocked, match="in use"):
        FilesystemStore(tmp_path / "s")
    peek = FilesystemStore(tmp_path / "s", exclusive=False)
    assert peek.verify() == []
    first.close()
    FilesystemStore(tmp_path / "s").close()


def test_racing_requests_on_one_session(embedded: RunningRegistry) -> None:
    """A PATCH racing the PUT that finishes the session gets BLOB_UPLOAD_UNKNOWN, never a 500,
    and the committed blob is intact."""
    client = SpecClient(embedded)
    data = os.urandom(2 * 1024 * 1024)
    location = client.start_upload("ns/race")
    r = client.http.patch(client.at(location), content=data)
    location = r.headers["location"]

    def finish() -> int:
        return httpx.put(f"{embedded.url}{location}", params={"digest": sha256(data)}).status_code

    def append() -> int:
        return httpx.patch(f"{embedded.url}{location}", content=b"late bytes").status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(finish)] + [pool.submit(append) for _ in range(3)]
        statuses = [f.result() for f in futures]
    assert 500 not in statuses
    got = client.http.get(f"/v2/ns/race/blobs/{sha256(data)}")
    if statuses[0] == 201:
        assert got.content == data
    client.close()
