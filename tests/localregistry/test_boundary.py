"""artreg.localregistry depends on nothing in artreg but the digest and error helpers and the
shared listener layer (artreg.serving), so the registry can be reasoned about (and vendored)
on its own. Checked two ways: statically, every
import statement in the package; dynamically, what importing it adds to ``sys.modules`` beyond
what the ``artreg`` package itself loads."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import artreg.localregistry

ALLOWED = {"artreg.digest", "artreg.errors"}
#: The listener layer every server shares; it depends on nothing else in artreg but the one
#: host module (the loopback test the clients use too).
SHARED = "artreg.serving"
SHARED_DEPENDS_ON = {"artreg.hosts"}
PACKAGE = Path(artreg.localregistry.__file__).parent


def test_import_statements() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if (name == "artreg" or name.startswith("artreg.")) and not (
                    name in ALLOWED | SHARED_DEPENDS_ON
                    or name.startswith(("artreg.localregistry", SHARED))
                ):
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert offenders == []


def test_modules_loaded() -> None:
    code = (
        "import json, sys\n"
        "import artreg\n"
        "before = set(sys.modules)\n"
        "import artreg.localregistry, artreg.localregistry.__main__\n"
        "added = sorted(m for m in set(sys.modules) - before if m.startswith('artreg'))\n"
        "third = [m for m in ('starlette', 'fastapi', 'typer', 'boto3') if m in sys.modules]\n"
        "print(json.dumps({'added': added, 'frameworks': third}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out)
    outside = {m for m in result["added"] if not m.startswith(("artreg.localregistry", SHARED))}
    allowed = ALLOWED | SHARED_DEPENDS_ON
    assert outside <= allowed, f"artreg.localregistry pulls in {sorted(outside - allowed)}"
    assert "artreg.localregistry.app" in result["added"]
    assert result["frameworks"] == []  # raw ASGI on uvicorn: no web framework, no CLI stack


def test_the_listener_layer_depends_on_nothing_else_in_artreg() -> None:
    package = PACKAGE.parent / "serving"
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = node.module
                assert not module.startswith("artreg") or module in SHARED_DEPENDS_ON, module
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("artreg") for a in node.names), path.name
