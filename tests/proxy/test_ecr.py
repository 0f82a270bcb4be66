# ruff: noqa: F811 - the moto fixtures are imported by name
"""An ECR binding behind the proxy: boto3 talks to moto's server; the registry host
(``ARTREG_ECR_REGISTRY_ENDPOINT``) is an embedded registry that accepts exactly the credentials
moto's GetAuthorizationToken hands out; with ``--redirect-blobs`` blob GETs answer 307 to
the download URL of GetDownloadUrlForLayer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from artreg.localregistry import start_in_thread
from artreg.localregistry.auth import Authenticator
from artreg.localregistry.server import ThreadedRegistry
from tests.cli.layouts import build_layout
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer, moto, moto_server  # noqa: F401
from tests.proxy.clients import artreg_pull, skopeo_pull, skopeo_push
from tests.proxy.conftest import PASSWORDS, ProxyFactory, basic, hashed
from tests.proxy.ecr_front import EcrFront, LayerBucket

#: What moto's GetAuthorizationToken decodes to: user ``AWS``, this password.
MOTO_PASSWORD = f"{ACCOUNT_ID}-auth-token"


@pytest.fixture
def ecr_host() -> Iterator[ThreadedRegistry]:
    """The registry host: accepts ``AWS`` with moto's token and nothing else."""
    auth = Authenticator(users={"AWS": hashed(MOTO_PASSWORD).encode()})
    with start_in_thread(auth=auth) as registry:
        yield registry


def test_ecr_binding_push_pull_and_redirected_blobs(
    moto: MotoServer,
    ecr_host: ThreadedRegistry,
    run_proxy: ProxyFactory,
    users_file: Path,
    tmp_path: Path,
) -> None:
    boto3.client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=moto.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_repository(repositoryName="test-app")
    with (
        LayerBucket(ecr_host.url, ("AWS", MOTO_PASSWORD)) as bucket,
        EcrFront(moto.url, bucket.url) as front,
    ):
        env = moto.env(
            ARTREG_ECR_REGISTRY_ENDPOINT=ecr_host.url,
            AWS_ENDPOINT_URL_ECR=front.url,
            AWS_ACCOUNT_ID=ACCOUNT_ID,
        )
        env["ALIEN_IMAGES_BINDING"] = json.dumps({"service": "ecr", "repositoryPrefix": "test"})
        proxy = run_proxy(env, users_file=users_file, redirect_blobs=True)
        layout = build_layout(tmp_path / "src", layer_sizes=(4000, 9000))

        pushed = skopeo_push(layout, f"{proxy.address}/test-app:v1", user="alice")
        assert pushed.returncode == 0, pushed.stderr
        stored = httpx.get(
            f"{ecr_host.url}/v2/test-app/manifests/v1",
            headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
            auth=("AWS", MOTO_PASSWORD),
        )
        assert stored.headers["docker-content-digest"] == layout.manifest_digest

        layer = layout.blob_digests[-1]
        auth = {"authorization": basic("reader", PASSWORDS["reader"])}
        redirect = httpx.get(f"{proxy.url}/v2/test-app/blobs/{layer}", headers=auth)
        assert redirect.status_code == 307
        assert redirect.headers["location"] == (
            f"{bucket.url}/test-app/{layer}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"
        )

        pulled = skopeo_pull(f"{proxy.address}/test-app:v1", tmp_path / "dst", user="reader")
        assert pulled == layout.manifest_digest

        pulled_digest = artreg_pull(proxy.address, "test-app:v1", tmp_path / "ar", tmp_path / "r")
        assert pulled_digest == layout.manifest_digest

    # the layers came from the bucket, never with the proxy's credentials attached
    assert set(layout.blob_digests) <= set(bucket.served)
    assert bucket.refused == []
    assert {r["repositoryName"] for r in front.download_requests} == {"test-app"}
