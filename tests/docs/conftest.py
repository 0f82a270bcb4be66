"""Fixtures for running the documentation's examples.

Every example runs against real servers on loopback:

- ``artreg serve`` (the embedded registry and the JSON-RPC sidecar), started once per session
  as a subprocess exactly as the Getting started page tells a reader to start it, on free ports
  and a temporary data directory;
- moto's server standing in for AWS, for the ECR page.

An *environment profile* names the variables a page's examples run with; some of them are pinned
by the tests (the addresses of the servers above, dummy cloud credentials) and win over what a
page's own ``export`` lines set.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.blocks import REPO
from tests.serve_cli import ARTREG, serve_args

VENV_BIN = Path(sys.executable).parent

#: Variables of the runner's own environment that examples must not inherit.
_SCRUB = re.compile(r"^(ALIEN_.*_BINDING|AWS_.*|GOOGLE_.*|GCP_.*|AZURE_.*|ARTREG_.*)$")


@dataclass(frozen=True)
class ServeInfo:
    rpc_url: str
    registry: str  # host:port
    binding_json: str  # the binding `artreg serve` prints for `artifacts`
    banner: tuple[str, ...] = ()  # what it printed on stdout once ready


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _SCRUB.match(k)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env["NO_COLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def artreg_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeInfo]:
    """``artreg serve`` on free ports; stopped (SIGTERM, then SIGKILL) when the session ends."""
    tmp = tmp_path_factory.mktemp("artreg-serve")
    log = (tmp / "serve.log").open("w+b")
    proc = subprocess.Popen(
        [ARTREG, *serve_args(tmp / "data", "--log-level", "warning")],
        stdout=subprocess.PIPE,
        stderr=log,
        bufsize=0,  # unbuffered, so select() sees every line that is waiting
        env=base_env(),
        cwd=tmp,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        info: dict[str, str] = {}
        while "binding" not in info:
            raw = proc.stdout.readline()
            if not raw:
                log.seek(0)
                pytest.fail(
                    "artreg serve exited before it was ready:\n"
                    + "".join(lines)
                    + log.read().decode(errors="replace")
                )
            line = raw.decode().rstrip("\n")
            lines.append(line + "\n")
            if line.startswith("artreg: "):
                info.update(dict(field.split("=", 1) for field in line[len("artreg: ") :].split()))
            elif line.startswith("binding:"):
                info["binding"] = line.split("=", 1)[1]
        # The rest of the banner follows at once; collect it until stdout goes quiet.
        while select.select([proc.stdout], [], [], 1.0)[0]:
            raw = proc.stdout.readline()
            if not raw:
                break
            lines.append(raw.decode())
        yield ServeInfo(info["rpc"], info["registry"], info["binding"], tuple(lines))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


@pytest.fixture(scope="session")
def moto_env() -> Iterator[dict[str, str]]:
    """moto's server: the AWS variables of an ECR binding's examples."""
    from tests.fakes.moto_server import MotoServer

    with MotoServer() as server:
        yield server.env(AWS_ACCOUNT_ID="123456789012")


#: The GCP names the GAR examples use.
GCP_PROJECT = "my-project"
GCP_LOCATION = "us-central1"
GAR_REPOSITORY = "acme-images"
GAR_SERVICE_ACCOUNTS = (
    "acme-images-pull@my-project.iam.gserviceaccount.com",
    "acme-images-push@my-project.iam.gserviceaccount.com",
)


@dataclass(frozen=True)
class FakeGcpSetup:
    env: dict[str, str]
    key_json: str  # the service-account key a reader downloads as key.json


@pytest.fixture(scope="session")
def fake_gcp() -> Iterator[FakeGcpSetup]:
    """The request-checking Google fake (OAuth token, IAM Credentials, Artifact Registry IAM)."""
    from tests.fakes.gcp import FakeGcp
    from tests.fakes.tls import LoopbackServer

    fake = FakeGcp(project_id=GCP_PROJECT, location=GCP_LOCATION)
    for email in GAR_SERVICE_ACCOUNTS:
        fake.add_target_service_account(email)
    fake.add_repository(GAR_REPOSITORY)
    key = fake.add_service_account_key(f"deployer@{GCP_PROJECT}.iam.gserviceaccount.com")
    with LoopbackServer(fake.app) as server:
        yield FakeGcpSetup(
            env={
                "GCP_REGION": GCP_LOCATION,
                "ARTREG_GCP_TOKEN_URI": f"{server.base_url}/token",
                "ARTREG_GAR_API_ENDPOINT": server.base_url,
                "ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT": server.base_url,
            },
            # as Google hands it out: naming Google's token endpoint (overridden above)
            key_json=json.dumps(key.info("https://oauth2.googleapis.com/token")),
        )
    assert fake.violations == [], fake.violations


#: The Azure names the ACR examples use.
ACR_REGISTRY = "acmeimages"
AZURE_TENANT = "00000000-0000-4000-8000-0000000000aa"
AZURE_CLIENT = "11111111-1111-4111-8111-1111111111bb"
AZURE_SECRET = "docs-example-client-secret"


@pytest.fixture(scope="session")
def fake_azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Request-checking stand-ins for Entra ID and an ACR login server, over loopback TLS."""
    from tests.fakes.azure import FakeAcr, FakeAzureAd
    from tests.fakes.tls import LoopbackServer, make_certificate

    cert = make_certificate(tmp_path_factory.mktemp("azure-tls"))
    aad = FakeAzureAd(tenant_id=AZURE_TENANT, client_id=AZURE_CLIENT, client_secret=AZURE_SECRET)
    with LoopbackServer(aad.app, tls=cert) as aad_server:
        aad.base_url = aad_server.base_url
        acr = FakeAcr(registry_name=ACR_REGISTRY, aad=aad)
        with LoopbackServer(acr.app, tls=cert) as acr_server:
            acr.base_url = acr_server.base_url
            yield {
                "AZURE_TENANT_ID": AZURE_TENANT,
                "AZURE_CLIENT_ID": AZURE_CLIENT,
                "AZURE_CLIENT_SECRET": AZURE_SECRET,
                "AZURE_AUTHORITY_HOST": aad.base_url,
                "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
                "ARTREG_ACR_LOGIN_SERVER": acr.base_url,
            }
        assert acr.violations == [], acr.violations
    assert aad.violations == [], aad.violations


Profile = Callable[[Path], dict[str, str]]


@pytest.fixture(scope="session")
def profiles(request: pytest.FixtureRequest) -> dict[str, Profile]:
    """Environment profiles by name: each returns the variables the tests pin for it.

    Fixtures are only started when a profile is used, so a page that needs no AWS starts no moto.
    """

    def local(workdir: Path) -> dict[str, str]:
        serve: ServeInfo = request.getfixturevalue("artreg_serve")
        return {
            "ALIEN_ARTIFACTS_BINDING": serve.binding_json,
            "ARTREG_URL": serve.rpc_url,
            "REGISTRY": serve.registry,
        }

    def ecr(workdir: Path) -> dict[str, str]:
        pinned = local(workdir)
        serve: ServeInfo = request.getfixturevalue("artreg_serve")
        pinned.update(request.getfixturevalue("moto_env"))
        # moto serves no registry data API: manifests and blobs come from the embedded registry.
        pinned["ARTREG_ECR_REGISTRY_ENDPOINT"] = f"http://{serve.registry}"
        return pinned

    def gar(workdir: Path) -> dict[str, str]:
        pinned = local(workdir)
        serve: ServeInfo = request.getfixturevalue("artreg_serve")
        gcp: FakeGcpSetup = request.getfixturevalue("fake_gcp")
        (workdir / "key.json").write_text(gcp.key_json)
        pinned.update(gcp.env)
        # The registry (OCI) API of GAR is played by the embedded registry.
        pinned["ARTREG_GAR_REGISTRY_ENDPOINT"] = f"http://{serve.registry}"
        return pinned

    def acr(workdir: Path) -> dict[str, str]:
        pinned = local(workdir)
        pinned.update(request.getfixturevalue("fake_azure"))
        return pinned

    def clouds(workdir: Path) -> dict[str, str]:
        """Every stand-in at once, for pages that show more than one cloud."""
        return {**ecr(workdir), **gar(workdir), **acr(workdir)}

    return {"local": local, "ecr": ecr, "gar": gar, "acr": acr, "clouds": clouds}


def parse_env0(data: bytes) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            key, value = item.split(b"=", 1)
            env[key.decode()] = value.decode()
    return env


def binding_exports(shell: str) -> dict[str, str]:
    """The ``ALIEN_*_BINDING`` values a shell block exports, with single-quoted JSON values."""
    found = {}
    for match in re.finditer(r"^\s*export\s+(ALIEN_\w+_BINDING)='([^']*)'", shell, re.M):
        found[match.group(1)] = match.group(2)
    return found


__all__ = ["ServeInfo", "base_env", "binding_exports", "json", "parse_env0"]
