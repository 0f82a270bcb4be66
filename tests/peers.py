"""Finding the peer programs tests run against (skopeo, docker-registry, node, chromium…)."""

from __future__ import annotations

import os
import shutil

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
