"""schemas/ is generated from the wire types, committed, and says what the wire carries."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from artreg import schemagen
from artreg import types as t

ROOT = Path(__file__).parents[2]
WIRE = ROOT / "tests" / "fixtures" / "wire"


def test_committed_schemas_match_a_fresh_generation() -> None:
    problems = schemagen.check()
    assert problems == [], f"schemas/ drifted, run `make schemas`: {problems}"


def test_check_detects_drift(tmp_path: Path) -> None:
    schemagen.write(tmp_path)
    assert schemagen.check(tmp_path) == []
    (tmp_path / "RepositoryResponse.schema.json").write_text("{}")
    (tmp_path / "Stale.schema.json").write_text("{}")
    assert schemagen.check(tmp_path) == ["RepositoryResponse.schema.json", "Stale.schema.json"]


def test_one_schema_file_per_wire_type() -> None:
    for name in t.WIRE_TYPES:
        doc = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
        assert doc["title"] == name
        assert doc["$ref"] == f"#/$defs/{name}"


def test_cross_account_access_is_a_named_discriminated_union() -> None:
    defs = json.loads((ROOT / "schemas" / "artreg.schema.json").read_text())["$defs"]
    union = defs["CrossAccountAccess"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == {"aws", "gcp"}
    assert defs["CrossAccountPermissions"]["properties"]["access"] == {
        "$ref": "#/$defs/CrossAccountAccess"
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Models regenerated from schemas/ by datamodel-code-generator."""
    out = tmp_path_factory.mktemp("dmcg") / "regenerated_models.py"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "datamodel_code_generator",
            "--input",
            str(ROOT / "schemas" / "artreg.schema.json"),
            "--input-file-type",
            "jsonschema",
            "--output-model-type",
            "msgspec.Struct",
            "--enum-field-as-literal",
            "all",
            "--snake-case-field",
            "--use-annotated",
            "--target-python-version",
            "3.11",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    spec = importlib.util.spec_from_file_location("regenerated_models", out)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["regenerated_models"] = module
    spec.loader.exec_module(module)
    return module


def _plain(value: Any) -> Any:
    """Builtins with null/unset optionals dropped (the regenerated models drop them)."""
    data = msgspec.to_builtins(value)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(data)


VALID = sorted(p for p in WIRE.glob("*/valid-*.json") if p.parent.name in t.WIRE_TYPES)


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_regenerated_models_decode_golden_fixtures_to_the_same_values(
    path: Path, regenerated: Any
) -> None:
    name = path.parent.name
    ours = t.decode(path.read_bytes(), t.WIRE_TYPES[name])
    theirs = msgspec.json.decode(path.read_bytes(), type=getattr(regenerated, name))
    assert _plain(theirs) == _plain(ours)


INVALID = json.loads((WIRE / "invalid.json").read_text())


@pytest.mark.parametrize("name", sorted(INVALID))
def test_regenerated_models_reject_what_we_reject(name: str, regenerated: Any) -> None:
    type_name = name.split("/")[0]
    model = getattr(regenerated, type_name)
    if name == "ManifestResponse/invalid-not-base64.json":
        # JSON Schema's contentEncoding is an annotation: the schema says so, the models read a str.
        schema = json.loads((ROOT / "schemas" / "ManifestResponse.schema.json").read_text())
        assert (
            schema["$defs"]["ManifestResponse"]["properties"]["manifest"]["contentEncoding"]
            == "base64"
        )
        assert msgspec.json.decode((WIRE / name).read_bytes(), type=model).manifest == "%%%"
        return
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
        msgspec.json.decode((WIRE / name).read_bytes(), type=model)


def test_descriptions_are_the_same_however_a_docstring_is_indented() -> None:
    # msgspec 0.22 copies docstrings as written, 0.23 dedents them: both must generate one text.
    as_written = {"description": "First line,\n    second line.", "properties": {}}
    dedented = {"description": "First line,\nsecond line.", "properties": {}}
    assert schemagen._clean_descriptions(as_written) == {
        "description": "First line,\nsecond line.",
        "properties": {},
    }
    assert schemagen._clean_descriptions(dedented) == schemagen._clean_descriptions(as_written)
