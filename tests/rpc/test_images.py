"""The sidecar's image operations against a real distribution registry: push a layout, copy,
pull back, tags and digests, the push primitives, progress notifications, cancellation, the
server-side call timeout and the refusals (relative paths, inline content over the limit)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from artreg_rpc import RpcServer
from tests.cli.layouts import OCI_CONFIG, OCI_MANIFEST, build_layout
from tests.registries import RunningRegistry
from tests.rpc.client import RpcClient, RpcFailure, rpc_client
from tests.rpc.conftest import start_sidecar

ACCEPT = {"Accept": OCI_MANIFEST}


@pytest.fixture
async def rpc(sidecar: RpcServer) -> AsyncIterator[RpcClient]:
    async with rpc_client(sidecar.url) as client:
        yield client


async def http(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=True) as client:
        return await client.request(method, url, **kwargs)


def progress_of(client: RpcClient, request_id: int) -> list[dict[str, Any]]:
    """The ``$/progress`` params received so far for ``request_id``, in arrival order."""
    found = []
    while not client.unmatched.empty():
        message = client.unmatched.get_nowait()
        assert message["method"] == "$/progress", message
        assert "id" not in message  # a notification
        found.append(message["params"])
    return [p for p in found if p["id"] == request_id]


async def test_push_copy_pull_round_trip_with_progress(
    rpc: RpcClient, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="v1", layer_sizes=(300_000, 5_000, 2_500_000))
    ref = f"{registry.host}/images/app:v1"
    reply = await rpc.request("image.pushLayout", {"dir": str(layout.path), "ref": ref}, id_=41)
    pushed = reply["result"]
    assert pushed["digest"] == layout.manifest_digest
    assert pushed["destination"] == f"{ref}@{layout.manifest_digest}"
    assert pushed["mediaType"] == OCI_MANIFEST
    assert pushed["blobs"] == 4
    assert pushed["skipped"] == 0
    # the progress notifications came before the reply, tied to its id, in order
    events = progress_of(rpc, 41)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    finals = [e for e in events if e["status"] != "transferring"]
    assert sorted(e["digest"] for e in finals) == sorted(layout.blob_digests)
    assert {e["status"] for e in finals} == {"complete"}
    assert [e["blobsDone"] for e in finals] == [1, 2, 3, 4]
    assert all(e["blobsTotal"] == 4 for e in events)
    assert events[-1]["bytesDone"] == events[-1]["bytesTotal"] == pushed["bytes"]
    done = [e["bytesDone"] for e in events]
    assert done == sorted(done)

    # the registry holds exactly the layout's manifest bytes
    stored = await http("GET", f"{registry.url}/v2/images/app/manifests/v1", headers=ACCEPT)
    manifest_file = layout.path / "blobs" / "sha256" / layout.manifest_digest.split(":")[1]
    assert stored.content == manifest_file.read_bytes()

    assert await rpc.call("image.listTags", ref=f"{registry.host}/images/app") == ["v1"]
    assert await rpc.call("image.digest", ref=ref) == layout.manifest_digest

    copied = await rpc.call("image.copy", src=ref, dst=f"{registry.host}/images/copy")
    [image] = copied["images"]
    assert image["digest"] == layout.manifest_digest
    assert image["destination"] == f"{registry.host}/images/copy:v1@{layout.manifest_digest}"
    assert image["mounted"] + image["skipped"] == 4  # same registry: nothing re-uploaded
    assert image["bytes"] == 0

    target = tmp_path / "pulled"
    pulled = await rpc.call(
        "image.pullLayout", ref=f"{registry.host}/images/copy:v1", dir=str(target)
    )
    assert pulled["digest"] == layout.manifest_digest
    assert pulled["destination"] == f"oci:{target}:v1"
    for digest in [layout.manifest_digest, *layout.blob_digests]:
        name = digest.split(":")[1]
        original = (layout.path / "blobs" / "sha256" / name).read_bytes()
        assert (target / "blobs" / "sha256" / name).read_bytes() == original
    index = json.loads((target / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == [
        "v1"
    ]


async def test_copy_all_tags(rpc: RpcClient, registry: RunningRegistry, tmp_path: Path) -> None:
    one = build_layout(tmp_path / "one", tag="one", layer_sizes=(1000,))
    two = build_layout(tmp_path / "two", tag="two", layer_sizes=(2000,))
    for layout in (one, two):
        await rpc.call(
            "image.pushLayout", dir=str(layout.path), ref=f"{registry.host}/all/src:{layout.tag}"
        )
    result = await rpc.call(
        "image.copy", src=f"{registry.host}/all/src", dst=f"{registry.host}/all/dst", allTags=True
    )
    assert [(i["source"], i["digest"]) for i in result["images"]] == [
        (f"{registry.host}/all/src:one", one.manifest_digest),
        (f"{registry.host}/all/src:two", two.manifest_digest),
    ]
    assert await rpc.call("image.listTags", ref=f"{registry.host}/all/dst") == ["one", "two"]
    with pytest.raises(RpcFailure) as failure:
        await rpc.call(
            "image.copy", src=f"{registry.host}/all/src:one", dst=f"{registry.host}/x", allTags=True
        )
    assert failure.value.data["code"] == "INVALID_INPUT"
    assert failure.value.data["context"]["field_name"] == "src"


async def test_relative_paths_are_refused(
    rpc: RpcClient, registry: RunningRegistry, tmp_path: Path
) -> None:
    for method, params in [
        ("image.pushLayout", {"dir": "some/layout", "ref": f"{registry.host}/rel/app:v1"}),
        ("image.pullLayout", {"ref": f"{registry.host}/rel/app:v1", "dir": "out"}),
    ]:
        with pytest.raises(RpcFailure) as failure:
            await rpc.call(method, **params)
        data = failure.value.data
        assert data["code"] == "INVALID_INPUT"
        assert data["context"]["field_name"] == "dir"
        assert "is not an absolute path" in data["message"]
        assert "sidecar" in data["hint"]
    tags = await http("GET", f"{registry.url}/v2/rel/app/tags/list")
    assert tags.status_code == 404


async def test_upload_blob_and_put_manifest_make_an_image(
    rpc: RpcClient, registry: RunningRegistry
) -> None:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = os.urandom(10_000)
    digests = {}
    for name, data in (("config", config), ("layer", layer)):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        digests[name] = digest
        status = await rpc.call(
            "uploadBlob",
            bindingName="artifacts",
            repoName="prim/app",
            digest=digest,
            data=base64.b64encode(data).decode(),
        )
        assert status == "uploaded"
    again = await rpc.call(
        "uploadBlob",
        bindingName="artifacts",
        repoName="prim/app",
        digest=digests["layer"],
        data=base64.b64encode(layer).decode(),
    )
    assert again == "exists"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digests["config"], "size": len(config)},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digests["layer"],
                    "size": len(layer),
                }
            ],
        },
        indent=2,
    ).encode()
    digest = await rpc.call(
        "putManifest",
        bindingName="artifacts",
        repoName="prim/app",
        reference="v1",
        manifest=base64.b64encode(manifest).decode(),
        contentType=OCI_MANIFEST,
    )
    assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    stored = await http("GET", f"{registry.url}/v2/prim/app/manifests/v1", headers=ACCEPT)
    assert stored.content == manifest
    blob = await http("GET", f"{registry.url}/v2/prim/app/blobs/{digests['layer']}")
    assert blob.content == layer


async def test_inline_content_over_the_limit_points_to_push_layout(
    rpc: RpcClient, registry: RunningRegistry
) -> None:
    data = os.urandom(512 * 1024 + 1)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with pytest.raises(RpcFailure) as failure:
        await rpc.call(
            "uploadBlob",
            bindingName="artifacts",
            repoName="prim/big",
            digest=digest,
            data=base64.b64encode(data).decode(),
        )
    err = failure.value.data
    assert err["code"] == "INVALID_INPUT"
    assert err["context"]["field_name"] == "data"
    assert "524289 bytes exceed the limit of 524288 bytes" in err["message"]
    assert "image.pushLayout" in err["hint"]
    assert err["retryable"] is False
    head = await http("HEAD", f"{registry.url}/v2/prim/big/blobs/{digest}")
    assert head.status_code == 404


async def test_upload_blob_refuses_data_that_does_not_match_its_digest(
    rpc: RpcClient, registry: RunningRegistry
) -> None:
    wrong = "sha256:" + "0" * 64
    with pytest.raises(RpcFailure) as failure:
        await rpc.call(
            "uploadBlob",
            bindingName="artifacts",
            repoName="prim/wrong",
            digest=wrong,
            data=base64.b64encode(b"hello").decode(),
        )
    assert failure.value.data["code"] == "INVALID_INPUT"
    assert failure.value.data["context"]["field_name"] == "digest"
    assert (await http("HEAD", f"{registry.url}/v2/prim/wrong/blobs/{wrong}")).status_code == 404


def _big_layout(root: Path, size: int) -> tuple[Path, str]:
    """A layout with one uncompressed random layer of ``size`` bytes; its layer digest."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    hasher = hashlib.sha256()
    tmp = blobs / "tmp"
    with tmp.open("wb") as fh:
        for _ in range(size // (1 << 20)):
            chunk = os.urandom(1 << 20)
            hasher.update(chunk)
            fh.write(chunk)
    layer = "sha256:" + hasher.hexdigest()
    tmp.rename(blobs / layer.split(":")[1])

    def put(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": put(config), "size": len(config)},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer,
                    "size": size,
                }
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": put(manifest), "size": len(manifest)}],
    }
    (root / "index.json").write_text(json.dumps(index))
    return root, layer


async def test_cancel_stops_a_push_and_leaves_no_blob(
    rpc: RpcClient, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout, layer = _big_layout(tmp_path / "big", 96 << 20)
    params = {"dir": str(layout), "ref": f"{registry.host}/cancel/app:v1", "jobs": 1}
    call = asyncio.create_task(rpc.request("image.pushLayout", params, id_="push-1"))
    # wait for the big layer to be under way, then cancel
    async with asyncio.timeout(30):
        while True:
            message = await rpc.unmatched.get()
            p = message["params"]
            if p["digest"] == layer and p["status"] == "transferring":
                break
    await rpc.notify("$/cancelRequest", id="push-1")
    reply = await asyncio.wait_for(call, 30)
    assert reply["error"]["data"]["code"] == "CANCELLED"
    assert reply["error"]["data"]["retryable"] is False
    assert reply["error"]["data"]["message"] == "image.pushLayout: cancelled by the client"
    assert (await http("HEAD", f"{registry.url}/v2/cancel/app/blobs/{layer}")).status_code == 404
    manifest = await http("GET", f"{registry.url}/v2/cancel/app/manifests/v1", headers=ACCEPT)
    assert manifest.status_code == 404
    # the connection still serves, and a cancel for an unknown id changes nothing
    await rpc.notify("$/cancelRequest", id="nothing-runs-under-this-id")
    assert (
        await rpc.call("upstreamRepositoryPrefix", bindingName="artifacts") == "artifacts/default"
    )


async def test_a_stalled_upstream_times_out_on_the_server(rpc_env: dict[str, str]) -> None:
    """A registry that accepts the connection and never answers: the sidecar gives up after its
    call timeout with TIMEOUT (not the client's own timeout)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    stall = await asyncio.start_server(accept, "127.0.0.1", 0)
    host = f"127.0.0.1:{stall.sockets[0].getsockname()[1]}"
    env = {
        **rpc_env,
        "ALIEN_STALLED_BINDING": json.dumps(
            {"service": "local", "registryUrl": host, "dataDir": None}
        ),
    }
    server = await start_sidecar(env)
    server.dispatcher.call_timeout = 1.0
    try:
        async with rpc_client(server.url) as client:
            with pytest.raises(RpcFailure) as by_binding:
                await client.call(
                    "getManifest", bindingName="stalled", repoName="app", reference="v1"
                )
            with pytest.raises(RpcFailure) as by_ref:
                await client.call("image.digest", ref=f"{host}/app:v1")
    finally:
        await server.shutdown(timeout=2)
        for writer in held:
            writer.close()
        stall.close()
    for failure, method in ((by_binding, "artifactRegistry.getManifest"), (by_ref, "image.digest")):
        data = failure.value.data
        assert data["code"] == "TIMEOUT", data
        assert data["message"] == (
            f"{method}: timed out: no answer within 1 s (the sidecar's call timeout, --call-timeout)"
        )
        assert data["retryable"] is True


async def test_a_down_registry_is_remote_service_unavailable_with_its_host(
    rpc: RpcClient,
) -> None:
    from tests.registries import free_port

    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(RpcFailure) as failure:
        await rpc.call("image.digest", ref=f"{host}/app:v1")
    data = failure.value.data
    assert data["code"] == "REMOTE_SERVICE_UNAVAILABLE"
    assert f"connection to {host} failed" in data["message"]


def _htpasswd_registry(tmp: Path, user: str, password: str) -> Any:
    from tests.peers import write_htpasswd
    from tests.registries import distribution_registry

    users = write_htpasswd(tmp, user, password)
    auth = f"auth:\n  htpasswd:\n    realm: artreg-test\n    path: {users}\n"
    return distribution_registry(tmp, auth_yaml=auth)


async def test_credentials_come_from_the_binding_then_dockers_config(
    tmp_path: Path, rpc_env: dict[str, str]
) -> None:
    """A host a binding serves gets the binding's credentials; another host gets Docker's
    config.json of the sidecar's environment; a host with neither is anonymous (refused)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        _htpasswd_registry(tmp_path / "a", "ci", "binding-Pa55") as bound,
        _htpasswd_registry(tmp_path / "b", "docker", "config-Pa55") as other,
    ):
        docker = tmp_path / "docker"
        docker.mkdir()
        token = base64.b64encode(b"docker:config-Pa55").decode()
        (docker / "config.json").write_text(json.dumps({"auths": {other.host: {"auth": token}}}))
        binding = {
            "service": "local",
            "registryUrl": bound.host,
            "dataDir": None,
            "username": "ci",
            "password": "binding-Pa55",
        }
        env = {**rpc_env, "ALIEN_SECURED_BINDING": json.dumps(binding)}
        layout = build_layout(tmp_path / "layout", tag="v1", layer_sizes=(2000,))
        for docker_config in (str(docker), str(tmp_path / "empty")):
            server = await start_sidecar({**env, "DOCKER_CONFIG": docker_config})
            try:
                async with rpc_client(server.url) as client:
                    pushed = await client.call(
                        "image.pushLayout", dir=str(layout.path), ref=f"{bound.host}/sec/app:v1"
                    )
                    assert pushed["digest"] == layout.manifest_digest
                    if docker_config == str(docker):
                        copied = await client.call(
                            "image.copy", src=f"{bound.host}/sec/app:v1", dst=f"{other.host}/o/app"
                        )
                        assert copied["images"][0]["digest"] == layout.manifest_digest
                        assert copied["images"][0]["bytes"] > 0  # another registry: sent
                    else:
                        with pytest.raises(RpcFailure) as refused:
                            await client.call("image.digest", ref=f"{other.host}/o/app:v1")
                        assert refused.value.data["code"] == "AUTHENTICATION_ERROR"
            finally:
                await server.shutdown(timeout=2)
