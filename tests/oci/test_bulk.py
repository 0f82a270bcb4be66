"""Large blobs from a plain-HTTP registry are received on a worker thread (``artreg.oci.bulk``):
the same bytes, the same authentication, redirects, resuming and errors as through httpx."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from artreg.errors import RemoteServiceUnavailable
from artreg.localregistry import Authenticator
from artreg.oci import Basic, RegistryClient, RetryPolicy
from artreg.oci import transport as transport_module
from tests.oci.helpers import serve_asgi
from tests.registries import RunningRegistry, embedded_registry, free_port

FAST_RETRY = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.05, total_seconds=5)
#: Over the 8 MiB from which a body gets a thread of its own.
LARGE = 12 * 1024 * 1024
PASSWORD = "bulk-test-password"


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(LARGE)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def bulk_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs sent through the worker-thread path."""
    sent: list[str] = []
    real = transport_module.send_bulk

    async def spy(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(str(request.url))
        return await real(request, **kwargs)

    monkeypatch.setattr(transport_module, "send_bulk", spy)
    return sent


async def read_all(client: RegistryClient, repo: str, digest: str, size: int) -> bytes:
    out = bytearray()
    async for chunk in client.get_blob(repo, digest, expected_size=size):
        out += chunk
    return bytes(out)


async def test_a_large_blob_comes_through_the_thread(
    embedded: RunningRegistry, data: bytes, bulk_sends: list[str]
) -> None:
    small = os.urandom(1024 * 1024)
    async with RegistryClient(embedded.host) as client:
        await client.upload_blob("bulk/app", digest_of(data), data)
        await client.upload_blob("bulk/app", digest_of(small), small)
        assert await read_all(client, "bulk/app", digest_of(data), len(data)) == data
        assert await read_all(client, "bulk/app", digest_of(small), len(small)) == small
    assert bulk_sends == [f"http://{embedded.host}/v2/bulk/app/blobs/{digest_of(data)}"]


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[RunningRegistry]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4))
    with embedded_registry(tmp_path / "p", auth=Authenticator(users={"ci": hashed})) as reg:
        yield reg


async def test_credentials_and_challenges_work_as_through_httpx(
    protected: RunningRegistry, data: bytes, bulk_sends: list[str]
) -> None:
    async with RegistryClient(protected.host, credentials=Basic("ci", PASSWORD)) as client:
        await client.upload_blob("bulk/auth", digest_of(data), data)
    # a fresh client: its first request is the blob GET, answered 401 and sent again
    async with RegistryClient(protected.host, credentials=Basic("ci", PASSWORD)) as client:
        assert await read_all(client, "bulk/auth", digest_of(data), len(data)) == data
    assert len(bulk_sends) == 2
    async with RegistryClient(protected.host) as anonymous:
        with pytest.raises(Exception, match=r"401|AUTHENTICATION|authentication"):
            await read_all(anonymous, "bulk/auth", digest_of(data), len(data))


async def test_a_cut_download_resumes_where_it_stopped(tmp_path: Path, data: bytes) -> None:
    from tests.fakes.faults import faulty_registry

    digest = digest_of(data)
    with faulty_registry(tmp_path) as (registry, faults):
        async with RegistryClient(registry.host, retry=FAST_RETRY) as client:
            await client.upload_blob("bulk/cut", digest, data)
            faults.drop(after_bytes=3 * 1024 * 1024, method="GET", path=r"/blobs/sha256:")
            assert await read_all(client, "bulk/cut", digest, len(data)) == data
    assert len([p for m, p in faults.requests if m == "GET" and digest in p]) == 2


def bulk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "artreg-bulk"]


async def test_stopping_early_ends_the_thread(embedded: RunningRegistry, data: bytes) -> None:
    async with RegistryClient(embedded.host) as client:
        await client.upload_blob("bulk/stop", digest_of(data), data)
        stream = client.get_blob("bulk/stop", digest_of(data), expected_size=len(data))
        first = await anext(stream)
        assert first == data[: len(first)]
        threads = bulk_threads()
        assert len(threads) == 1
        await stream.aclose()  # type: ignore[attr-defined]
        await asyncio.to_thread(threads[0].join, 10)
        assert not threads[0].is_alive()  # ended while the client is still open


async def test_a_redirect_is_followed_without_credentials(
    data: bytes, bulk_sends: list[str]
) -> None:
    """A registry that sends blob GETs elsewhere (a storage host on plain HTTP): httpx follows."""
    seen: list[str | None] = []

    async def storage(request: Request) -> Response:
        seen.append(request.headers.get("authorization"))
        return Response(data, media_type="application/octet-stream")

    with serve_asgi(Starlette(routes=[Route("/blob", storage)])) as store:

        async def blob(request: Request) -> Response:
            return RedirectResponse(f"http://{store}/blob", status_code=307)

        routes = [Route("/v2/{repo:path}/blobs/{digest}", blob)]
        with serve_asgi(Starlette(routes=routes)) as registry:
            async with RegistryClient(registry, credentials=Basic("ci", PASSWORD)) as client:
                got = await read_all(client, "bulk/moved", digest_of(data), len(data))
    assert got == data
    assert seen == [None]  # the storage host never sees the registry's credentials
    assert bulk_sends == [f"http://{registry}/v2/bulk/moved/blobs/{digest_of(data)}"]


async def test_nobody_listening_is_a_typed_error(data: bytes) -> None:
    host = f"127.0.0.1:{free_port()}"
    async with RegistryClient(host, retry=FAST_RETRY) as client:
        with pytest.raises(RemoteServiceUnavailable, match=f"connection to {host} failed"):
            await read_all(client, "bulk/none", digest_of(data), len(data))
