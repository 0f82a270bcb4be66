"""HTTPS: the registry serves TLS with a given certificate; skopeo verifies it against the CA."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from artreg.localregistry import Authenticator, RegistryConfigError, start_in_thread
from tests.fakes.tls import make_certificate
from tests.localregistry.layout import Layout, read_tagged
from tests.peers import require_binary
from tests.registries import free_port


def test_https_round_trip_with_skopeo(tmp_path: Path) -> None:
    skopeo = require_binary("skopeo")
    cert = make_certificate(tmp_path / "pki")
    certs = tmp_path / "certs.d"
    certs.mkdir()
    shutil.copy(cert.ca_file, certs / "ca.crt")
    with start_in_thread(
        tmp_path / "data", tls_cert=cert.cert_file, tls_key=cert.key_file
    ) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert (
            httpx.get(
                f"{server.url}/v2/", verify=ssl.create_default_context(cafile=cert.ca_file)
            ).status_code
            == 200
        )
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/v2/")  # an unknown CA is refused by the client
        src = Layout(tmp_path / "src")
        image = src.image({"tls": b"over https\n"})
        src.tag(image, "v1")
        ref = f"docker://{server.host}/ns/tls:v1"
        for args in (
            ["copy", "--dest-cert-dir", str(certs), f"oci:{src.root}:v1", ref],
            ["copy", "--src-cert-dir", str(certs), ref, f"oci:{tmp_path / 'dst'}:v1"],
        ):
            proc = subprocess.run(
                [skopeo, "--insecure-policy", *args], capture_output=True, text=True, timeout=60
            )
            assert proc.returncode == 0, proc.stderr
        assert read_tagged(tmp_path / "dst", "v1")["digest"] == image.digest


def test_token_realm_follows_the_scheme(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path / "pki")
    auth = Authenticator(token="tls-token")
    with start_in_thread(
        tmp_path / "data", auth=auth, tls_cert=cert.cert_file, tls_key=cert.key_file
    ) as server:
        r = httpx.get(f"{server.url}/v2/", verify=ssl.create_default_context(cafile=cert.ca_file))
        assert r.status_code == 401
        assert f'realm="https://{server.host}/v2/token"' in r.headers["www-authenticate"]


def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path / "pki")
    with pytest.raises(RegistryConfigError, match="both"):
        start_in_thread(tmp_path / "data", tls_cert=cert.cert_file)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "artreg",
            "registry",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
            "--tls-key",
            str(cert.key_file),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "--tls-cert" in proc.stderr
