"""Attacks on the HTTP listener layer (header size, header timeout, connection caps, Host and
Origin, X-Forwarded-For), each reproduced over loopback against the real embedded registry,
with the bounded answer it must get and a valid request succeeding meanwhile."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.localregistry import ThreadedRegistry, start_in_thread
from artreg.serving import Limits
from tests.serving.attack import (
    open_fds,
    read_reply,
    registry_process,
    rss_bytes,
    status_of,
    wait_for,
)

MiB = 1 << 20


@pytest.fixture
def registry() -> Iterator[ThreadedRegistry]:
    limits = Limits(
        header_timeout=0.5,
        keepalive_timeout=1,
        body_idle_timeout=0.5,
        max_connections_per_address=8,
    )
    with start_in_thread(limits=limits, allowed_hosts=["registry.internal"]) as reg:
        yield reg


def _connect(reg: ThreadedRegistry) -> socket.socket:
    return socket.create_connection(("127.0.0.1", reg.port), timeout=10)


def _get(reg: ThreadedRegistry, path: str = "/v2/", **headers: str) -> httpx.Response:
    with httpx.Client(base_url=reg.url, timeout=10) as client:
        return client.get(path, headers=headers)


# -- header size ------------------------------------------------------------------------------


def test_a_huge_header_is_refused_after_the_limit_and_memory_stays_flat(tmp_path: Path) -> None:
    with registry_process(tmp_path / "data") as server:
        before = rss_bytes(server.proc.pid)
        sent = 0
        with server.connect() as sock:
            sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
            chunk = b"a" * MiB
            with contextlib.suppress(OSError):  # the server hangs up once the limit is passed
                for _ in range(256):
                    sock.sendall(chunk)
                    sent += len(chunk)
            reply = read_reply(sock)
        assert sent < 64 * MiB  # refused long before the 256 MiB were sent
        assert status_of(reply) in (431, None)  # None: the reset beat the reply to the client
        with server.client() as client:
            assert client.get("/v2/").status_code == 200
        assert rss_bytes(server.proc.pid) - before < 16 * MiB


def test_a_request_line_over_the_limit_is_refused(registry: ThreadedRegistry) -> None:
    with _connect(registry) as sock:
        sock.sendall(b"GET /v2/" + b"a" * (70 * 1024) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert status_of(read_reply(sock)) == 431
    assert _get(registry).status_code == 200


def test_many_small_headers_add_up_to_the_limit(registry: ThreadedRegistry) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(1000))
    with _connect(registry) as sock:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
        assert status_of(read_reply(sock)) == 431


def test_headers_just_under_the_limit_are_served(registry: ThreadedRegistry) -> None:
    assert _get(registry, **{"X-Padding": "p" * (60 * 1024)}).status_code == 200


def test_a_large_body_is_not_counted_as_headers(registry: ThreadedRegistry) -> None:
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        location = client.post("/v2/ns/app/blobs/uploads/").headers["location"]
        data = b"x" * (3 * MiB)
        r = client.patch(
            location, content=data, headers={"Content-Type": "application/octet-stream"}
        )
        assert r.status_code == 202, r.text


# -- timeouts and connection caps -------------------------------------------------------------


def test_a_connection_that_never_finishes_its_headers_is_closed(registry: ThreadedRegistry) -> None:
    with _connect(registry) as sock:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: local")
        assert status_of(read_reply(sock)) == 408


def test_a_connection_that_sends_nothing_is_closed(registry: ThreadedRegistry) -> None:
    with _connect(registry) as sock:
        assert read_reply(sock) == b""


def test_a_stalled_request_body_closes_the_connection(registry: ThreadedRegistry) -> None:
    with httpx.Client(base_url=registry.url, timeout=10) as client:
        location = client.post("/v2/ns/app/blobs/uploads/").headers["location"]
    with _connect(registry) as sock:
        sock.sendall(
            b"PATCH " + location.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10
        )
        sock.settimeout(20)
        while True:  # the server hangs up (a timeout here would fail the test)
            try:
                if not sock.recv(65536):
                    break
            except ConnectionResetError:
                break
    assert _get(registry).status_code == 200


def test_an_idle_keepalive_connection_is_closed(registry: ThreadedRegistry) -> None:
    with _connect(registry) as sock:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reply = read_reply(sock)  # the reply, then the close once keep-alive expires
        assert status_of(reply) == 200


def test_connections_per_address_are_capped_and_freed(registry: ThreadedRegistry) -> None:
    held = [_connect(registry) for _ in range(8)]
    try:
        for sock in held:  # each holds a half-sent request, so none is idle
            sock.sendall(b"GET /v2/ HTTP/1.1\r\n")
        with _connect(registry) as extra:
            assert status_of(read_reply(extra)) == 503
    finally:
        for sock in held:
            sock.close()
    # the server notices the closes as it reads; then a new connection is served
    assert wait_for(lambda: _served(registry))


def _served(registry: ThreadedRegistry) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return _get(registry).status_code == 200
    return False


def test_slow_header_connections_do_not_exhaust_descriptors(tmp_path: Path) -> None:
    with registry_process(tmp_path / "data") as server:
        pid = server.proc.pid
        sockets = []
        try:
            for _ in range(300):
                try:
                    sock = server.connect()
                    sock.sendall(b"GET /v2/ HTTP/1.1\r\n")
                except OSError:
                    break
                sockets.append(sock)
            # the per-address cap (128) keeps the server's descriptors bounded
            assert wait_for(lambda: open_fds(pid) < 200)
            refused = sum(1 for s in sockets[128:] if status_of(read_reply(s)) == 503)
            assert refused == len(sockets) - 128
        finally:
            for sock in sockets:
                sock.close()


# -- Host and Origin --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.nip.io", "x y"])
def test_a_loopback_listener_refuses_foreign_host_names(
    registry: ThreadedRegistry, host: str
) -> None:
    r = _get(registry, Host=host)
    assert r.status_code == 403
    assert r.json()["errors"][0]["code"] == "DENIED"


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:5000",
        "127.0.0.1",
        "127.0.0.2:80",
        "[::1]:5000",
        "app.localhost",
        "registry.internal",
        "REGISTRY.internal:443",
    ],
)
def test_loopback_and_configured_host_names_are_served(
    registry: ThreadedRegistry, host: str
) -> None:
    assert _get(registry, Host=host).status_code == 200


def test_a_cross_site_simple_post_stores_nothing(registry: ThreadedRegistry) -> None:
    with httpx.Client(base_url=registry.url, timeout=10) as client:
        r = client.post(
            "/v2/ns/app/blobs/uploads/?digest=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            content=b"hello",
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        assert r.json()["errors"][0]["code"] == "DENIED"
        assert client.get("/v2/_catalog").json()["repositories"] == []
        for method in ("PUT", "PATCH", "DELETE"):
            r = client.request(method, "/v2/ns/app/manifests/v1", headers={"Origin": "null"})
            assert r.status_code == 403
        # the same request from a tool (no Origin) or a loopback page goes through
        r = client.post("/v2/ns/app/blobs/uploads/", headers={"Origin": "http://localhost:3000"})
        assert r.status_code == 202


def test_a_rebinding_page_cannot_read(registry: ThreadedRegistry) -> None:
    # after DNS rebinding the browser sends the attacker's name as Host, and no Origin on GET
    assert _get(registry, "/v2/_catalog", Host="attacker.example").status_code == 403


# -- X-Forwarded-For --------------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_unless_the_peer_is_allowed(
    tmp_path: Path,
) -> None:
    forged = '10.0.0.1 "GET /v2/admin" 200 0 0.1ms\n1.2.3.4'
    with registry_process(tmp_path / "data") as server, server.client() as client:
        client.get("/v2/", headers={"X-Forwarded-For": forged.replace("\n", " ")})
        client.get("/v2/ns/x%0aforged/tags/list")
    with (
        registry_process(tmp_path / "d2", "--forwarded-allow-ips", "127.0.0.1") as proxied,
        proxied.client() as client,
    ):
        client.get("/v2/", headers={"X-Forwarded-For": "203.0.113.7"})
        client.get("/v2/", headers={"X-Forwarded-For": 'not-an-ip, 198.51.100.1"'})
    logged = server.stderr
    assert "10.0.0.1" not in logged and "1.2.3.4" not in logged
    assert '127.0.0.1 "GET /v2/" 200' in logged
    assert "\nforged" not in logged and "x\\nforged" in logged
    assert '203.0.113.7 "GET /v2/" 200' in proxied.stderr
    assert "not-an-ip" not in proxied.stderr
