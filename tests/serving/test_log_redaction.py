"""No credential reaches the log at debug level, third-party loggers included: a sidecar with
an ECR binding (boto3 against moto's server) logs botocore's debug dump of the
GetAuthorizationToken response, and neither the token nor the password derived from it
appears in the output."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.fakes.moto_server import MotoServer, moto, moto_server  # noqa: F401 (fixtures)
from tests.serving.attack import sidecar_process, wait_for

pytest.importorskip("boto3")


async def _call(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}))
        reply: dict[str, Any] = json.loads(await ws.recv())
        return reply


def test_ecr_credentials_never_reach_a_debug_log(moto: MotoServer) -> None:  # noqa: F811
    binding = json.dumps({"service": "ecr", "repositoryPrefix": "team"})
    env = {**moto.env(), "ALIEN_ART_BINDING": binding}
    with sidecar_process("--log-level", "debug", env=env) as server:
        created = asyncio.run(
            _call(
                server.url,
                "artifactRegistry.createRepository",
                {"bindingName": "art", "repoName": "app"},
            )
        )
        assert "result" in created, created
        reply = asyncio.run(
            _call(
                server.url,
                "artifactRegistry.generateCredentials",
                {"bindingName": "art", "repoId": created["result"]["name"], "permissions": "pull"},
            )
        )
        password = reply["result"]["password"]
        token = base64.b64encode(f"AWS:{password}".encode()).decode()
        assert wait_for(lambda: "GetAuthorizationToken" in server.stderr)
        assert wait_for(lambda: "authorizationToken" in server.stderr)  # botocore's dump ran
    logged = server.stderr
    assert "botocore" in logged and "Response body" in logged
    assert password not in logged
    assert token not in logged
    assert token[:24] not in logged
    assert "'Authorization': b'***'" in logged  # the SigV4 header botocore dumps
    assert "Credential=testing" not in logged
    assert "botocore.auth: Signature:\\n***" in logged
    for line in logged.splitlines():  # one record, one line: botocore's dumps are escaped
        assert line[:4].isdigit() or line.startswith(("Traceback", " ", "caused by")), line
