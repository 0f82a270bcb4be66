"""The TypeScript client's generated types and method map match schemas/ (no drift)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artreg.rpcspec import METHODS
from tests.peers import IN_CI, require_binary

TS = Path(__file__).resolve().parents[2] / "clients" / "ts"
GENERATED = TS / "src" / "generated"
FILES = ("types.ts", "methods.ts")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node = require_binary("node")
    if not (TS / "node_modules" / "json-schema-to-typescript").is_dir():
        message = "clients/ts/node_modules is missing (make node-deps installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("ts-generated")
    proc = subprocess.run(
        [node, "scripts/generate.mjs", "--out", str(out)],
        cwd=TS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("name", FILES)
def test_committed_file_matches_a_fresh_generation(regenerated: Path, name: str) -> None:
    fresh = (regenerated / name).read_text(encoding="utf-8")
    committed = (GENERATED / name).read_text(encoding="utf-8")
    assert committed == fresh, f"clients/ts/src/generated/{name} is stale: run `make schemas`"


def test_types_keep_the_wire_contract() -> None:
    types = (GENERATED / "types.ts").read_text(encoding="utf-8")
    assert (
        "export type CrossAccountAccess = AwsCrossAccountAccess | GcpCrossAccountAccess;" in types
    )
    assert 'type: "aws";' in types and 'type: "gcp";' in types
    assert 'export type ArtifactRegistryPermissions = "pull" | "push-pull";' in types
    assert 'export type RegistryAuthMethod = "basic" | "bearer";' in types
    assert 'export type ComputeServiceType = "worker";' in types
    assert "[k: string]: unknown" not in types.replace("context?: {\n    [k: string]: unknown;", "")


def test_method_map_lists_every_sidecar_method() -> None:
    methods = (GENERATED / "methods.ts").read_text(encoding="utf-8")
    for method in METHODS:
        assert f'"{method.rpc_name}": {{ params: ' in methods, method.rpc_name
