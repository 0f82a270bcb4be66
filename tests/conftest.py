"""Shared fixtures: real registries on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registries import RunningRegistry, distribution_registry, embedded_registry


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[RunningRegistry]:
    """Debian's CNCF distribution registry (``docker-registry``), anonymous, deletes enabled."""
    with distribution_registry(tmp_path) as reg:
        yield reg


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[RunningRegistry]:
    """artreg's embedded registry, in-process on a free loopback port, anonymous, on disk."""
    with embedded_registry(tmp_path) as reg:
        yield reg


@pytest.fixture(params=["embedded", "distribution"])
def any_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningRegistry]:
    """Each scenario once against the embedded registry and once against Debian's registry."""
    factory = embedded_registry if request.param == "embedded" else distribution_registry
    with factory(tmp_path) as reg:
        yield reg
