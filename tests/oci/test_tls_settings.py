"""Which CAs the OCI client trusts: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as Python's ssl module
reads them (a PEM bundle, a hashed directory); a setting that cannot be loaded is a typed error
for an HTTPS registry and does not stop a plain-HTTP one."""

from __future__ import annotations

from pathlib import Path

import pytest

from artreg.errors import ClientConfigInvalid
from artreg.oci import RegistryClient
from artreg.oci.transport import trusted_ssl_context
from tests.fakes.tls import make_certificate
from tests.registries import RunningRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#: A manifest of no layers whose config is the empty JSON descriptor the image spec defines.
MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":'
    b'"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,'
    b'"data":"e30="},"layers":[]}'
)


def test_a_missing_ca_file_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with pytest.raises(ClientConfigInvalid) as caught:
        trusted_ssl_context()
    assert caught.value.code == "CLIENT_CONFIG_INVALID"
    assert str(caught.value) == (
        "Client configuration invalid for platform 'tls': SSL_CERT_FILE names "
        "'/nonexistent/ca.pem', which cannot be loaded as CA certificates: "
        "No such file or directory"
    )


def test_a_file_without_certificates_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bad))
    with pytest.raises(ClientConfigInvalid, match=r"SSL_CERT_FILE names .*not-a-ca\.pem"):
        trusted_ssl_context()


def test_the_ca_file_is_what_is_trusted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert = make_certificate(tmp_path / "pki")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.ca_file))
    subjects = [dict(x[0] for x in c["subject"]) for c in trusted_ssl_context().get_ca_certs()]
    assert subjects == [{"commonName": "artreg test CA"}]  # that CA, and not certifi's bundle


async def test_an_https_registry_needs_loadable_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with pytest.raises(ClientConfigInvalid):
        RegistryClient("registry.example.com")


async def test_a_plain_http_registry_works_whatever_the_settings(
    monkeypatch: pytest.MonkeyPatch, embedded: RunningRegistry
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    async with RegistryClient(embedded.host) as client:
        await client.upload_blob("ns/plain", EMPTY, b"{}")
        digest = await client.put_manifest("ns/plain", "v1", MANIFEST, OCI_MANIFEST)
        assert await client.get_manifest("ns/plain", digest) == (MANIFEST, OCI_MANIFEST)
