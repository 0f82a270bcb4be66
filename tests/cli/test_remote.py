"""Which credentials a registry host gets: the named binding first, then any binding serving the
host, then Docker's config, then anonymous; and where the host is reached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artreg.cli.remote import resolve_credentials
from artreg.errors import BindingNotConfigured
from artreg.oci.auth import Anonymous


def local(url: str) -> str:
    return json.dumps({"service": "local", "registryUrl": url, "dataDir": None})


async def test_binding_order_and_routes(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "ALIEN_ALPHA_BINDING": local("127.0.0.1:5000"),
        "ALIEN_BETA_BINDING": local("http://127.0.0.1:5000"),
        "ALIEN_OTHER_BINDING": local("registry.internal:5000"),
        "ALIEN_BROKEN_BINDING": "{not json",
    }
    found = resolve_credentials(
        ["127.0.0.1:5000", "registry.internal:5000", "x.example"], None, env
    )
    assert found.sources == {
        "127.0.0.1:5000": "binding alpha",
        "registry.internal:5000": "binding other",
    }
    # a plain-HTTP binding endpoint is reached over plain HTTP, whatever the host
    assert found.routes["registry.internal:5000"] == "http://registry.internal:5000"
    assert await found.keychain.resolve("x.example") == Anonymous()
    preferred = resolve_credentials(["127.0.0.1:5000"], "beta", env)
    assert preferred.sources == {"127.0.0.1:5000": "binding beta"}
    with pytest.raises(BindingNotConfigured):
        resolve_credentials(["127.0.0.1:5000"], "missing", env)
