"""Shared fixtures: real registries on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registries import RunningRegistry, distribution_registry


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[RunningRegistry]:
    """Debian's CNCF distribution registry (``docker-registry``), anonymous, deletes enabled."""
    with distribution_registry(tmp_path) as reg:
        yield reg
