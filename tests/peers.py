"""Finding the peer programs tests run against (skopeo, docker-registry, node, chromium…)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str) -> str:
    """The path of a peer program the test needs. Missing: a skip on a developer machine,
    a failure in CI (a test that needs a missing peer must not silently pass there)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make system-deps installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd line for ``user`` with a bcrypt hash, made by Apache's ``htpasswd -Bbn``."""
    return subprocess.run(
        [require_binary("htpasswd"), "-Bbn", user, password],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def write_htpasswd(directory: Path, user: str, password: str) -> Path:
    """``directory/htpasswd`` holding the one line :func:`htpasswd_line` makes."""
    path = directory / "htpasswd"
    path.write_text(htpasswd_line(user, password) + "\n")
    return path
