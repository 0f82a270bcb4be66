"""Package boundaries that hold: the sidecar (artreg_rpc) builds on artreg's core and never on its
command line; the core never imports the sidecar; only the command line wires the two."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: Path, forbidden: str, skip: str | None = None) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        if skip is not None and skip in path.parts:
            continue
        bad = sorted(n for n in _imports(path) if n == forbidden or n.startswith(forbidden + "."))
        if bad:
            found.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    return found


def test_the_sidecar_never_imports_the_command_line() -> None:
    assert _offenders(ROOT / "rpc" / "artreg_rpc", "artreg.cli") == []


def test_only_the_command_line_imports_the_sidecar() -> None:
    assert _offenders(ROOT / "core" / "artreg", "artreg_rpc", skip="cli") == []
