"""Fixtures for the command-line tests: the commands run as a user runs them, in a subprocess,
with a clean environment holding only the bindings a test sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.moto_server import moto, moto_server  # noqa: F401  (fixtures)
from tests.registries import RunningRegistry

BIN = Path(sys.executable).parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    """Runs ``artreg`` and ``docker-credential-artreg`` with a controlled environment."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def base_env(self) -> dict[str, str]:
        env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        env.update(self.env)
        return env

    def bind(self, name: str, binding: Mapping[str, Any]) -> None:
        self.env[f"ALIEN_{name.replace('-', '_').upper()}_BINDING"] = json.dumps(binding)

    def local(self, name: str, registry: RunningRegistry) -> None:
        self.bind(name, {"service": "local", "registryUrl": registry.host, "dataDir": None})

    def run(
        self,
        program: str,
        *args: str,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        full_env = self.base_env()
        if env:
            full_env.update(env)
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [str(BIN / program), *args],
            input=data,
            capture_output=True,
            env=full_env,
            timeout=timeout,
            cwd=self.home,
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def run_bytes(self, program: str, *args: str) -> bytes:
        """stdout as bytes (for output that must be byte-exact)."""
        proc = subprocess.run(
            [str(BIN / program), *args],
            capture_output=True,
            env=self.base_env(),
            timeout=60,
            cwd=self.home,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        return proc.stdout

    def artreg(self, *args: str, **kw: Any) -> Result:
        return self.run("artreg", *args, **kw)

    def helper(self, *args: str, **kw: Any) -> Result:
        return self.run("docker-credential-artreg", *args, **kw)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home)


@pytest.fixture
def registry(embedded: RunningRegistry) -> RunningRegistry:
    """The embedded registry (anonymous, on loopback)."""
    return embedded


ACR_TENANT = "00000000-0000-4000-8000-00000000a11e"
ACR_CLIENT = "11111111-1111-4111-8111-111111111111"
ACR_SECRET = "client-secret-value-not-to-leak"


@pytest.fixture
def acr_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], Any]]:
    """Entra ID and ACR fakes over TLS, and the environment of an ACR binding `acr` with the
    prefix `team` whose login server is the fake."""
    from tests.fakes.azure import FakeAcr, FakeAzureAd
    from tests.fakes.tls import LoopbackServer, make_certificate

    cert = make_certificate(tmp_path / "tls")
    aad = FakeAzureAd(tenant_id=ACR_TENANT, client_id=ACR_CLIENT, client_secret=ACR_SECRET)
    with LoopbackServer(aad.app, tls=cert) as aad_server:
        aad.base_url = aad_server.base_url
        fake = FakeAcr(registry_name="registrytest", aad=aad)
        with LoopbackServer(fake.app, tls=cert) as acr_server:
            fake.base_url = acr_server.base_url
            env = {
                "AZURE_TENANT_ID": ACR_TENANT,
                "AZURE_CLIENT_ID": ACR_CLIENT,
                "AZURE_CLIENT_SECRET": ACR_SECRET,
                "AZURE_AUTHORITY_HOST": aad.base_url,
                "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
                "ARTREG_ACR_LOGIN_SERVER": fake.base_url,
                "ALIEN_ACR_BINDING": json.dumps(
                    {
                        "service": "acr",
                        "registryName": "registrytest",
                        "resourceGroupName": "rg",
                        "repositoryPrefix": "team",
                    }
                ),
            }
            yield env, fake
        assert fake.violations == []
    assert aad.violations == []
