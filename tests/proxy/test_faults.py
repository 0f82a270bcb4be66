"""What a client sees when the upstream side fails, and what the proxy logs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from pathlib import Path

import httpx
import pytest

from artreg.localregistry.server import ThreadedRegistry
from tests.proxy.conftest import PASSWORDS, ProxyFactory, basic, local_binding


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more


def test_unreachable_upstream_is_502_unavailable(run_proxy: ProxyFactory) -> None:
    binding = json.dumps(
        {"service": "local", "registryUrl": f"127.0.0.1:{closed_port()}", "dataDir": None}
    )
    proxy = run_proxy({"ALIEN_GONE_BINDING": binding})
    answer = httpx.get(f"{proxy.url}/v2/gone/app/tags/list")
    assert answer.status_code == 502
    error = answer.json()["errors"][0]
    assert error["code"] == "UNAVAILABLE"
    assert error["detail"] == {"binding": "gone"}


def test_a_binding_that_cannot_mint_is_502_naming_it(run_proxy: ProxyFactory) -> None:
    env = {
        "ALIEN_IMAGES_BINDING": json.dumps({"service": "ecr", "repositoryPrefix": "team"}),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "do-not-log-this-secret",
        "AWS_ACCOUNT_ID": "123456789012",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
        "AWS_MAX_ATTEMPTS": "1",
        "ARTREG_ECR_REGISTRY_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
    }
    proxy = run_proxy(env)
    answer = httpx.get(f"{proxy.url}/v2/team-app/manifests/v1", timeout=60)
    assert answer.status_code == 502
    error = answer.json()["errors"][0]
    assert error["code"] == "UNAVAILABLE"
    assert error["message"] == "could not mint upstream credentials through binding images"
    assert error["detail"]["binding"] == "images"
    assert "do-not-log-this-secret" not in answer.text


def test_one_access_line_per_request_and_no_secret_in_any_log(
    upstream: ThreadedRegistry,
    run_proxy: ProxyFactory,
    users_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    auth = {"authorization": basic("alice", PASSWORDS["alice"])}
    with caplog.at_level(logging.DEBUG):
        blob = b"x" * 1000
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        done = httpx.post(
            f"{proxy.url}/v2/main/logged/blobs/uploads/?digest={digest}",
            content=blob,
            headers={**auth, "content-type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        got = httpx.get(f"{proxy.url}/v2/main/logged/blobs/{digest}", headers=auth)
        assert got.content == blob
        httpx.get(f"{proxy.url}/v2/", headers={"authorization": basic("alice", "nope")})
        # the line is written just after the reply: ask once more so it has been
        httpx.get(f"{proxy.url}/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "artreg.proxy.access"]
    pulled = [line for line in lines if f'"GET /v2/main/logged/blobs/{digest}"' in line]
    assert len(pulled) == 1
    assert "user=alice" in pulled[0] and "repo=main/logged" in pulled[0]
    assert "status=200 upstream=200 bytes=1000 " in pulled[0]
    assert any('user=- "GET /v2/" repo=- status=401 upstream=-' in line for line in lines)
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORDS["alice"] not in everything
    assert basic("alice", PASSWORDS["alice"]).split()[1] not in everything


def test_a_client_that_hangs_up_mid_download_stops_the_upstream_read(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)})
    blob = os.urandom(24 << 20)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    put = httpx.post(f"{upstream.url}/v2/main/big/blobs/uploads/?digest={digest}", content=blob)
    assert put.status_code == 201
    with caplog.at_level(logging.INFO, logger="artreg.proxy.access"):
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(
                f"GET /v2/main/big/blobs/{digest} HTTP/1.1\r\nHost: {proxy.address}\r\n\r\n".encode()
            )
            assert b"200 OK" in sock.recv(65536)
        deadline = time.monotonic() + 10
        line = None
        while line is None and time.monotonic() < deadline:
            lines = [r.getMessage() for r in caplog.records if digest in r.getMessage()]
            line = lines[0] if lines else None
            time.sleep(0.05)
    assert line is not None and "status=499 upstream=200" in line
    sent = int(line.split("bytes=")[1].split()[0])
    assert sent < len(blob)


def test_a_client_that_hangs_up_mid_upload_is_logged_499_without_an_error(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)})
    start = httpx.post(f"{proxy.url}/v2/main/cut/blobs/uploads/")
    assert start.status_code == 202
    path = start.headers["location"].removeprefix(proxy.url)
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            head = (
                f"PATCH {path} HTTP/1.1\r\nHost: {proxy.address}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
            )
            sock.sendall(head.encode() + os.urandom(1_000_000))
        deadline = time.monotonic() + 10
        lines: list[str] = []
        while not lines and time.monotonic() < deadline:
            lines = [r.getMessage() for r in caplog.records if '"PATCH ' in r.getMessage()]
            time.sleep(0.05)
    assert lines and "status=499" in lines[0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the proxy still serves
    assert httpx.get(f"{proxy.url}/v2/main/cut/tags/list").status_code in (200, 404)


def test_an_upstream_that_breaks_off_mid_body_truncates_the_reply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import threading

    from artreg.proxy import ProxyApp, ProxyConfig
    from artreg.proxy import start_in_thread as start_proxy
    from artreg.proxy.auth import ClientAuth
    from artreg.proxy.location import UploadSigner
    from artreg.proxy.routing import RoutingTable
    from artreg.proxy.tokens import TokenIssuer
    from tests.proxy.test_units import Minting

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_once() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
            conn.sendall(head + b"x" * 100_000)  # then hang up, 900 kB short

    threading.Thread(target=serve_once, daemon=True).start()

    class Broken(Minting):
        def registry_endpoint(self) -> str:
            return f"http://127.0.0.1:{port}"

    key = b"k" * 32
    app = ProxyApp(
        RoutingTable.build([("b", Broken("b", "team"))]),
        ClientAuth(None, TokenIssuer(key, service="artreg-proxy"), None),
        UploadSigner(key),
    )
    with start_proxy(ProxyConfig(port=0), app=app) as proxy, caplog.at_level(logging.INFO):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{proxy.url}/v2/team-x/blobs/sha256:{'0' * 64}", timeout=30)
        assert httpx.get(f"{proxy.url}/healthz").status_code == 200
    listener.close()
    assert any("upstream broke off GET" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.exc_info]  # no traceback
