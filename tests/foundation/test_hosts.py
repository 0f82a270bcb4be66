"""The one loopback test and the one host normalisation (artreg.hosts), with literal cases."""

from __future__ import annotations

import pytest

from artreg.hosts import host_of, is_loopback, normalize_host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.1",
        "127.1.2.3:5000",
        "::1",
        "[::1]",
        "[::1]:80",
        "localhost",
        "LOCALHOST.",
        "localhost:5000",
        "app.localhost",
        "user:secret@127.0.0.1:5000",
        "http://[::1]:5000/v2/",
    ],
)
def test_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "[::]",
        "10.0.0.1",
        "example.com",
        "127.example.com",
        "localhost.evil.com",
        "127.0.0.1.nip.io",
        "fe80::1",
        "",
    ],
)
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ("https://Example.com/v2/", "example.com"),
        ("https://example.com:443", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("http://example.com:443", "example.com:443"),
        ("http://localhost:5000", "localhost:5000"),
        ("registry.local:5000", "registry.local:5000"),
        (" 127.0.0.1:8080\n", "127.0.0.1:8080"),
        ("[::1]:5000", "[::1]:5000"),
        ("::1", "[::1]"),
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("docker.io", "index.docker.io"),
        ("registry-1.docker.io", "index.docker.io"),
        ("Registry.Example.com:5000", "registry.example.com:5000"),
        ("https://user:pw@ghcr.io/v2/", "ghcr.io"),
        ("", ""),
    ],
)
def test_normalize_host(server: str, key: str) -> None:
    assert normalize_host(server) == key


def test_host_of() -> None:
    assert host_of("https://User@Example.COM.:8443/v2/") == "example.com"
    assert host_of("[::1]:5000") == "::1"
