"""Real clients pushing and pulling through the proxy: skopeo, ``artreg push``/``pull`` logged in
through Docker's config.json, and a chunked upload whose Location drops auth."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.cli.layouts import Layout
from tests.peers import require_binary
from tests.proxy.conftest import PASSWORDS


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("skopeo")
    return subprocess.run(
        [binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )


def skopeo_push(
    layout: Layout, ref: str, user: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``skopeo copy`` of ``layout`` to ``docker://REF`` over plain HTTP, as ``user`` if given."""
    creds = ["--dest-creds", f"{user}:{PASSWORDS[user]}"] if user else []
    return skopeo(
        "copy",
        "--dest-tls-verify=false",
        *creds,
        f"oci:{layout.path}:{layout.tag}",
        f"docker://{ref}",
    )


def skopeo_pull(ref: str, dest: Path, user: str | None = None) -> str:
    """``skopeo copy`` of ``docker://REF`` over plain HTTP into an OCI layout at ``dest`` (tag
    v1), as ``user`` if given; checks it succeeded and returns the manifest digest it wrote."""
    creds = ["--src-creds", f"{user}:{PASSWORDS[user]}"] if user else []
    pulled = skopeo("copy", "--src-tls-verify=false", *creds, f"docker://{ref}", f"oci:{dest}:v1")
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((dest / "index.json").read_text())
    digest: str = index["manifests"][0]["digest"]
    return digest


def docker_config(tmp_path: Path, host: str, user: str, password: str) -> dict[str, str]:
    config = tmp_path / "docker"
    config.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return {**os.environ, "DOCKER_CONFIG": str(config)}


def artreg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artreg", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def artreg_as(user: str, home: Path, host: str, *args: str) -> str:
    """``artreg ARGS`` logged in to ``host`` as ``user`` (Docker's config.json under ``home``,
    as ``docker login`` leaves it); checks it succeeded and returns the digest it reports."""
    env = docker_config(home, host, user, PASSWORDS[user])
    done = artreg(*args, env=env)
    assert done.returncode == 0, done.stderr
    digest: str = json.loads(done.stdout)["digest"]
    return digest


def artreg_push(layout: Layout, host: str, name: str, home: Path) -> str:
    """``artreg push`` of ``layout`` to ``HOST/NAME`` as alice; returns the digest it reports."""
    return artreg_as(
        "alice", home, host, "push", "--insecure", "-q", str(layout.path), f"{host}/{name}"
    )


def artreg_pull(host: str, name: str, dest: Path, home: Path) -> str:
    """``artreg pull`` of ``HOST/NAME`` into ``dest`` as reader; returns the digest it reports."""
    return artreg_as("reader", home, host, "pull", "--insecure", "-q", f"{host}/{name}", str(dest))


def chunked_upload(proxy_url: str, repo: str, auth: dict[str, str]) -> tuple[str, bytes]:
    """A two-chunk upload through the proxy that sends ``auth`` only on the POST and follows
    the signed Locations without it; returns the digest and the bytes, checked on the way."""
    chunks = [os.urandom(70_000), os.urandom(30_000)]
    blob = b"".join(chunks)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with httpx.Client(timeout=30) as client:
        start = client.post(f"{proxy_url}/v2/{repo}/blobs/uploads/", headers=auth)
        assert start.status_code == 202, start.text
        location = start.headers["location"]
        assert location.startswith(f"{proxy_url}/v2/{repo}/blobs/uploads/")
        assert "_artreg_sig=" in location
        offset = 0
        for chunk in chunks:  # no Authorization from here on: the signature carries it
            patch = client.patch(
                location,
                content=chunk,
                headers={
                    "content-type": "application/octet-stream",
                    "content-range": f"{offset}-{offset + len(chunk) - 1}",
                },
            )
            assert patch.status_code == 202, patch.text
            offset += len(chunk)
            location = patch.headers["location"]
        tampered = location.replace("_artreg_sig=", "_artreg_sig=A")
        refused = client.put(f"{tampered}&digest={digest}")
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == "DENIED"
        done = client.put(f"{location}&digest={digest}")
        assert done.status_code == 201, done.text
        assert done.headers["docker-content-digest"] == digest
        assert "_artreg" not in done.headers["location"]
        fetched = client.get(f"{proxy_url}/v2/{repo}/blobs/{digest}", headers=auth)
        assert fetched.status_code == 200 and fetched.content == blob
    return digest, blob
