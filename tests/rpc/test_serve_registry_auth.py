"""``artreg serve`` on a public address with registry credentials: it starts, anonymous pushes
are refused, and repositories are created through the sidecar both with the default binding
(which authenticates with a token only that process knows) and with a ``local`` binding from
the environment carrying the credentials."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import httpx

from tests.peers import write_htpasswd
from tests.rpc.client import RpcFailure, rpc_client
from tests.rpc.test_serve_cli import ARTREG, artreg, clean_env, read

RPC_TOKEN = "rpc-token-for-a-public-bind-0123456789abcdef"
PASSWORD = "registry-Pa55word-on-a-public-bind"


def htpasswd(tmp_path: Path) -> Path:
    return write_htpasswd(tmp_path, "ci", PASSWORD)


async def test_public_bind_with_htpasswd(tmp_path: Path) -> None:
    users = htpasswd(tmp_path)
    # The default binding first; then a second sidecar with bindings from the environment.
    env = clean_env(ARTREG_RPC_TOKEN=RPC_TOKEN)
    args = (
        "serve", "--host", "0.0.0.0", "--rpc-port", "0", "--registry-port", "0",
        "--data-dir", str(tmp_path / "data"), "--registry-htpasswd", str(users),
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {RPC_TOKEN}"}
    async with artreg(*args, env=env, log=tmp_path / "log") as run:
        assert run.registry is not None and run.registry.startswith("0.0.0.0:")
        assert run.proc.stdout is not None
        async with asyncio.timeout(10):
            rest = [(await run.proc.stdout.readline()).decode() for _ in range(3)]
        binding_line = next(line for line in rest if "ALIEN_ARTIFACTS_BINDING=" in line)
        assert '"username":"USER","password":"PASSWORD"' in binding_line  # no secret shown
        port = run.registry.rsplit(":", 1)[1]
        registry = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{registry}/v2/artifacts/anon/blobs/uploads/")
            assert refused.status_code == 401
            assert (await http.get(f"{registry}/v2/", auth=("ci", PASSWORD))).status_code == 200
        rpc_url = run.rpc.replace("0.0.0.0", "127.0.0.1")
        async with rpc_client(rpc_url, additional_headers=headers) as rpc:
            repo = await rpc.call("createRepository", bindingName="artifacts", repoName="app")
            assert repo["name"] == "artifacts/app"
            got = await rpc.call("getRepository", bindingName="artifacts", repoId="artifacts/app")
            assert got["name"] == "artifacts/app"
        async with httpx.AsyncClient() as http:
            tags = await http.get(f"{registry}/v2/artifacts/app/tags/list", auth=("ci", PASSWORD))
            assert tags.json()["tags"] == ["latest"]

        await bindings_from_the_environment(port, headers, tmp_path / "log2")
    for log in ("log", "log2"):
        assert PASSWORD not in read(tmp_path / log)
        assert RPC_TOKEN not in read(tmp_path / log)


async def bindings_from_the_environment(port: str, headers: dict[str, str], log: Path) -> None:
    # A sidecar serving bindings from the environment: with the credentials it works,
    # without them the registry refuses it.
    secured = {
        "service": "local", "registryUrl": f"127.0.0.1:{port}", "dataDir": None,
        "username": "ci", "password": PASSWORD,
    }  # fmt: skip
    anonymous = {"service": "local", "registryUrl": f"127.0.0.1:{port}", "dataDir": None}
    env2 = clean_env(
        ARTREG_RPC_TOKEN=RPC_TOKEN,
        ALIEN_SECURED_BINDING=json.dumps(secured),
        ALIEN_ANON_BINDING=json.dumps(anonymous),
    )
    run = artreg("rpc", "serve", "--port", "0", env=env2, log=log)
    async with run as side, rpc_client(side.rpc, additional_headers=headers) as rpc:
        repo = await rpc.call("createRepository", bindingName="secured", repoName="env")
        assert repo["name"] == "secured/env"
        creds = await rpc.call(
            "generateCredentials",
            bindingName="secured",
            repoId="secured/env",
            permissions="push-pull",
        )
        assert (creds["username"], creds["authMethod"]) == ("ci", "basic")
        try:
            await rpc.call("createRepository", bindingName="anon", repoName="nope")
        except RpcFailure as failure:
            # the registry's 401 travels as the cause
            assert failure.data["source"]["code"] == "AUTHENTICATION_ERROR"
            assert failure.data["source"]["httpStatusCode"] == 401
        else:
            raise AssertionError("an anonymous binding pushed to a secured registry")


async def test_public_bind_without_registry_credentials_is_refused(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *[ARTREG, "serve", "--host", "0.0.0.0", "--rpc-port", "0", "--registry-port", "0"],
        env=clean_env(ARTREG_RPC_TOKEN=RPC_TOKEN, ARTREG_DATA_DIR=str(tmp_path)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"--registry-htpasswd FILE and/or --registry-token-file FILE" in err
    assert b"artreg: rpc=" not in out


async def test_tls_and_a_token_file(tmp_path: Path) -> None:
    """HTTPS with a static token: the default binding reaches its registry over TLS (the
    certificate trusted through SSL_CERT_FILE) with the per-process token."""
    from tests.fakes.tls import make_certificate

    cert = make_certificate(tmp_path / "tls")
    token = tmp_path / "token"
    token.write_text("tls-registry-token-0123456789abcdef\n")
    env = clean_env(SSL_CERT_FILE=str(cert.ca_file))
    args = (
        "serve", "--rpc-port", "0", "--registry-port", "0", "--data-dir", str(tmp_path / "d"),
        "--registry-token-file", str(token),
        "--registry-tls-cert", str(cert.cert_file), "--registry-tls-key", str(cert.key_file),
    )  # fmt: skip
    async with artreg(*args, env=env, log=tmp_path / "log") as run:
        assert run.registry is not None
        trust = ssl.create_default_context(cafile=str(cert.ca_file))
        async with httpx.AsyncClient(verify=trust) as http:
            refused = await http.get(f"https://{run.registry}/v2/")
            assert refused.status_code == 401
            assert f'realm="https://{run.registry}/v2/token"' in refused.headers["www-authenticate"]
        async with rpc_client(run.rpc) as rpc:
            repo = await rpc.call("createRepository", bindingName="artifacts", repoName="tls")
            assert repo["name"] == "artifacts/tls"
            endpoint = await rpc.call("registryEndpoint", bindingName="artifacts")
            assert endpoint == f"https://{run.registry}"
    assert "tls-registry-token-0123456789abcdef" not in read(tmp_path / "log")
