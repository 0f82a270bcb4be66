"""Generate ``schemas/`` (a JSON Schema per wire type, a bundle, and ``openrpc.json``) from the
msgspec types in :mod:`artreg.types` and the method table in :mod:`artreg.rpcspec`.

    python -m artreg.schemagen write   # regenerate (``make schemas``)
    python -m artreg.schemagen check   # exit 1 when the committed files differ (drift)
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Final

import msgspec

import artreg
from artreg import rpcspec
from artreg import types as t
from artreg.errors import ERROR_CLASSES

__all__ = ["SCHEMA_DIR", "check", "generate", "write"]

SCHEMA_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"
_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_UNIONS: Final[dict[str, Any]] = {"CrossAccountAccess": t.CrossAccountAccess}


def _components(types: list[Any], ref_prefix: str) -> tuple[list[Any], dict[str, Any]]:
    """msgspec's schema components, with union aliases given their own names."""
    raw_schemas, defs = msgspec.json.schema_components(types, ref_template=ref_prefix + "{name}")
    named: dict[str, Any] = {}
    for name, union in _UNIONS.items():
        (inline,), union_defs = msgspec.json.schema_components(
            [union], ref_template=ref_prefix + "{name}"
        )
        defs.update(union_defs)
        named[name] = inline
    ref_of = {json.dumps(s, sort_keys=True): {"$ref": ref_prefix + n} for n, s in named.items()}

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            key = json.dumps(node, sort_keys=True)
            if key in ref_of:
                return copy.deepcopy(ref_of[key])
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    defs = {k: swap(v) for k, v in defs.items()}
    schemas = [swap(s) for s in raw_schemas]
    for name, inline in named.items():
        defs[name] = {"title": name, **inline}
        if name in t.WIRE_TYPES:
            defs[name]["description"] = (
                "Cross-account access, tagged by `type`; decoding also accepts the `platform` tag."
            )
    return schemas, dict(sorted(defs.items()))


def _reachable(defs: dict[str, Any], root: str) -> dict[str, Any]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for ref in _refs(defs[name]):
            todo.append(ref.rsplit("/", 1)[1])
    return {k: v for k, v in defs.items() if k in seen}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for v in node.values():
            found += _refs(v)
        return found
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _type_schemas() -> dict[str, Any]:
    everything = list(t.WIRE_TYPES.values()) + list(t.PARAMS_TYPES.values())
    _, defs = _components(everything, "#/$defs/")
    files: dict[str, Any] = {}
    for name in [*t.WIRE_TYPES, *t.PARAMS_TYPES]:
        files[f"{name}.schema.json"] = {
            "$schema": _DIALECT,
            "$id": f"{name}.schema.json",
            "title": name,
            "$ref": f"#/$defs/{name}",
            "$defs": _reachable(defs, name),
        }
    files["artreg.schema.json"] = {
        "$schema": _DIALECT,
        "$id": "artreg.schema.json",
        "title": "artreg",
        "description": "Every artreg wire type, under $defs.",
        "type": "object",
        "additionalProperties": False,
        "$defs": defs,
    }
    return files


def _openrpc() -> dict[str, Any]:
    prefix = "#/components/schemas/"
    results = [m.result for m in rpcspec.METHODS]
    params = [m.params for m in rpcspec.METHODS]
    all_types = list(t.WIRE_TYPES.values()) + params + results
    schemas, defs = _components(all_types, prefix)
    result_schemas = schemas[len(t.WIRE_TYPES) + len(params) :]
    methods = []
    for method, result_schema in zip(rpcspec.METHODS, result_schemas, strict=True):
        pdef = defs[method.params.__name__]
        required = set(pdef.get("required", []))
        methods.append(
            {
                "name": method.rpc_name,
                "summary": method.summary,
                "paramStructure": "by-name",
                "params": [
                    {"name": pname, "required": pname in required, "schema": pschema}
                    for pname, pschema in pdef["properties"].items()
                ],
                "result": {"name": "result", "schema": result_schema},
                "errors": [{"$ref": "#/components/errors/ArtregError"}],
            }
        )
    return {
        "openrpc": "1.3.2",
        "info": {
            "title": "artreg JSON-RPC sidecar",
            "version": artreg.__version__,
            "description": (
                "JSON-RPC 2.0 over WebSocket. Params are by name. artreg errors use code -32000 "
                "with data in the ErrorData shape; standard JSON-RPC errors carry the same shape."
            ),
        },
        "methods": methods,
        "components": {
            "schemas": defs,
            "errors": {
                "ArtregError": {
                    "code": -32000,
                    "message": "An artreg error; data holds its code ("
                    + ", ".join(sorted(ERROR_CLASSES))
                    + "), message and flags.",
                    "data": {"$ref": prefix + "ErrorData"},
                },
            },
        },
    }


def _clean_descriptions(node: Any) -> Any:
    """``node`` with every ``description`` string run through :func:`inspect.cleandoc`.

    msgspec copies docstrings into descriptions, and how it renders them changed between releases
    (0.23 dedents continuation lines, 0.22 kept them as written); cleaning them here makes the
    generated files the same bytes whichever release is installed.
    """
    if isinstance(node, dict):
        return {
            k: inspect.cleandoc(v)
            if k == "description" and isinstance(v, str)
            else _clean_descriptions(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(v) for v in node]
    return node


def generate() -> dict[str, bytes]:
    """Every generated file, by name relative to ``schemas/``."""
    files = _type_schemas()
    files["openrpc.json"] = _openrpc()
    return {
        name: (json.dumps(_clean_descriptions(doc), indent=2) + "\n").encode()
        for name, doc in files.items()
    }


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write the generated files, removing stale ``*.json`` ones; return the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = generate()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, data in files.items():
        path = directory / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return sorted(files)


def check(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of files that are missing, stale or differ from a fresh generation."""
    files = generate()
    problems = [
        n
        for n, d in files.items()
        if not (directory / n).exists() or (directory / n).read_bytes() != d
    ]
    problems += [p.name for p in directory.glob("*.json") if p.name not in files]
    return sorted(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artreg.schemagen", description=__doc__)
    parser.add_argument("action", choices=["write", "check"])
    args = parser.parse_args(argv)
    if args.action == "write":
        names = write()
        print(f"wrote {len(names)} files to schemas/")
        return 0
    problems = check()
    if problems:
        print("schemas/ differs from the wire types; run `make schemas`: " + ", ".join(problems))
        return 1
    print("schemas/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
