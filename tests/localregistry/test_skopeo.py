"""skopeo (an independent client) copies OCI layouts into the registry and back out; every
digest survives the round trip, for a single image and for a multi-arch index."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.localregistry.layout import OCI_INDEX, Layout, blob_bytes, read_tagged
from tests.peers import require_binary
from tests.registries import RunningRegistry


def skopeo(*args: str) -> str:
    binary = require_binary("skopeo")
    proc = subprocess.run(
        [binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_single_image_round_trip(any_registry: RunningRegistry, tmp_path: Path) -> None:
    src = Layout(tmp_path / "src")
    image = src.image({"hello.txt": b"hello from artreg\n", "bin/tool": bytes(range(256)) * 64})
    src.tag(image, "v1")
    ref = f"docker://{any_registry.host}/ns/app:v1"

    skopeo("copy", "--dest-tls-verify=false", f"oci:{src.root}:v1", ref)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref)
    assert raw.encode() == blob_bytes(src.root, image.digest)  # stored exactly as pushed

    dst = tmp_path / "dst"
    skopeo("copy", "--src-tls-verify=false", ref, f"oci:{dst}:v1")
    back = read_tagged(dst, "v1")
    assert back["digest"] == image.digest
    manifest = json.loads(blob_bytes(dst, image.digest))
    for desc in [manifest["config"], *manifest["layers"]]:
        assert blob_bytes(dst, desc["digest"]) == blob_bytes(src.root, desc["digest"])


def test_multi_arch_index_round_trip(any_registry: RunningRegistry, tmp_path: Path) -> None:
    src = Layout(tmp_path / "src")
    amd = src.image({"arch": b"amd64\n"}, arch="amd64")
    arm = src.image({"arch": b"arm64\n"}, arch="arm64")
    index = src.index([amd, arm])
    src.tag(index, "multi")
    ref = f"docker://{any_registry.host}/ns/deep/multi:multi"

    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{src.root}:multi", ref)
    headers = {"Accept": OCI_INDEX}
    r = httpx.get(f"{any_registry.url}/v2/ns/deep/multi/manifests/multi", headers=headers)
    assert r.status_code == 200
    assert r.headers["docker-content-digest"] == index.digest
    assert r.content == blob_bytes(src.root, index.digest)

    dst = tmp_path / "dst"
    skopeo("copy", "--all", "--src-tls-verify=false", ref, f"oci:{dst}:multi")
    assert read_tagged(dst, "multi")["digest"] == index.digest
    for child in (amd, arm):
        assert blob_bytes(dst, child.digest) == blob_bytes(src.root, child.digest)


@pytest.mark.parametrize("arch", ["arm64"])
def test_platform_selection_from_index(
    embedded: RunningRegistry, tmp_path: Path, arch: str
) -> None:
    """skopeo resolves one platform of a pushed index through the registry."""
    src = Layout(tmp_path / "src")
    amd = src.image({"arch": b"amd64\n"}, arch="amd64")
    arm = src.image({"arch": b"arm64\n"}, arch="arm64")
    src.tag(src.index([amd, arm]), "multi")
    ref = f"docker://{embedded.host}/ns/multi:multi"
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{src.root}:multi", ref)
    dst = tmp_path / "dst"
    skopeo("--override-arch", arch, "copy", "--src-tls-verify=false", ref, f"oci:{dst}:one")
    assert read_tagged(dst, "one")["digest"] == arm.digest


def test_docker_schema2_round_trip(any_registry: RunningRegistry, tmp_path: Path) -> None:
    """skopeo converts to Docker schema 2 on the way in; the registry keeps that format."""
    src = Layout(tmp_path / "src")
    src.tag(src.image({"docker.txt": b"schema 2\n"}), "v1")
    ref = f"docker://{any_registry.host}/ns/docker:v1"
    skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{src.root}:v1", ref)
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", ref))
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    r = httpx.get(
        f"{any_registry.url}/v2/ns/docker/manifests/v1",
        headers={"Accept": raw["mediaType"]},
    )
    assert r.headers["content-type"] == raw["mediaType"]
    dst = tmp_path / "dst"
    skopeo("copy", "--src-tls-verify=false", ref, f"dir:{dst}")
    layer = raw["layers"][0]["digest"].split(":")[1]
    assert (dst / layer).read_bytes() == blob_bytes(src.root, raw["layers"][0]["digest"])
