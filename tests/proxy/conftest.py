"""Fixtures for the proxy: embedded registries as upstreams, users files, a running proxy."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from artreg.localregistry import start_in_thread
from artreg.localregistry.auth import Authenticator
from artreg.localregistry.server import ThreadedRegistry
from artreg.proxy import ProxyConfig, ThreadedProxy
from artreg.proxy import start_in_thread as start_proxy

#: Users of the proxy in the tests (bcrypt at the lowest cost keeps the tests quick).
PASSWORDS = {"alice": "alice-secret", "reader": "reader-secret", "team": "team-secret"}
USERS_TOML = """
[users.alice]
password_hash = "{alice}"
push = ["*"]

[users.reader]
password_hash = "{reader}"
pull = ["*"]

[users.team]
password_hash = "{team}"
push = ["main/team"]
"""


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.toml"
    path.write_text(
        USERS_TOML.format(**{name: hashed(password) for name, password in PASSWORDS.items()})
    )
    return path


def local_binding(registry: ThreadedRegistry, **extra: Any) -> str:
    return json.dumps({"service": "local", "registryUrl": registry.url, "dataDir": None, **extra})


@pytest.fixture
def upstream() -> Iterator[ThreadedRegistry]:
    """An anonymous embedded registry (in memory)."""
    with start_in_thread() as registry:
        yield registry


@pytest.fixture
def htpasswd_upstream() -> Iterator[ThreadedRegistry]:
    """An embedded registry with one bcrypt user, ``up``/``up-password``."""
    auth = Authenticator(users={"up": hashed("up-password").encode()})
    with start_in_thread(auth=auth) as registry:
        yield registry


ProxyFactory = Callable[..., ThreadedProxy]


@pytest.fixture
def run_proxy(tmp_path: Path) -> Iterator[ProxyFactory]:
    """``run_proxy(env, bindings=[...], users=FILE, ...)`` starts a proxy on a free port."""
    stack = contextlib.ExitStack()

    def start(env: dict[str, str], **options: Any) -> ThreadedProxy:
        config = ProxyConfig(host="127.0.0.1", port=0, env=env, **options)
        return stack.enter_context(start_proxy(config))

    with stack:
        yield start
