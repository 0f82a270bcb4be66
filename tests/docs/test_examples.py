"""Every code example of the documentation site is a test.

Each page's examples run in order, as a reader would run them, in one working directory and one
environment: ``sh`` blocks run under bash (their ``export`` lines carry over to the blocks after
them), ``python`` blocks run as scripts, ``ts`` blocks are compiled with the TypeScript client's
own ``tsc`` and run with node, ``json`` blocks must parse. Blocks marked ``not-runnable`` (only
allowed for blocks that need a real cloud, or that install software or run a server) are still
checked: Python by mypy, TypeScript by tsc, shell by ``bash -n``. Every Python block, runnable or
not, is type-checked with mypy in strict mode.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from artreg import types
from artreg.binding import binding_name_from_env_var, parse_binding
from artreg.errors import ArtregError
from artreg.rpcspec import method_by_name
from tests.docs.blocks import DOCS, REPO, Block, all_blocks, page_blocks
from tests.docs.conftest import Profile, ServeInfo, base_env, binding_exports, parse_env0
from tests.peers import IN_CI, require_binary

TS = REPO / "clients" / "ts"
RUN_PYTHON = Path(__file__).with_name("run_python.py")
EXECUTED = {"python", "ts", "shell", "json"}

#: The environment profile of each page (default ``local``): see ``conftest.profiles``.
PAGE_PROFILES = {
    "providers/ecr.md": "ecr",
    "concepts/cross-account.md": "clouds",
    "getting-started/cli.md": "ecr",
    "providers/gar.md": "gar",
    "providers/acr.md": "acr",
}

#: Reasons a Python or TypeScript block may give for not running: it needs a real cloud.
CLOUD_REASON = re.compile(r"\bneeds (AWS|GCP|Google Cloud|Azure)\b")

PAGES = sorted(
    {b.page for b in all_blocks() if b.language in EXECUTED}, key=lambda p: (p.count("/"), p)
)


def _example_name(block: Block) -> str:
    return re.sub(r"\W", "_", block.page.removesuffix(".md")) + f"_L{block.line}"


def _fail(block: Block, what: str, proc: subprocess.CompletedProcess[str] | None = None) -> None:
    detail = ""
    if proc is not None:
        detail = (
            f"\n--- exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    pytest.fail(f"{block.id}: {what}\n--- code\n{block.code}{detail}", pytrace=False)


# -- TypeScript: compile every block once ---------------------------------------------------------


@dataclass(frozen=True)
class CompiledTs:
    out_dir: Path

    def script(self, block: Block) -> Path:
        return self.out_dir / f"{_example_name(block)}.js"


def _tsc() -> Path:
    # by path: the package also carries TypeScript 5.9, whose ``tsc`` may win node_modules/.bin
    tsc = TS / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.exists():
        message = "clients/ts/node_modules is missing (make node-deps installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return tsc


@pytest.fixture(scope="session")
def compiled_ts(tmp_path_factory: pytest.TempPathFactory) -> CompiledTs:
    """The client package built into a scratch ``node_modules``, and every ``ts`` block of the
    site compiled against it with strict settings. Type errors fail here, for every block."""
    require_binary("node")
    tsc = _tsc()
    root = tmp_path_factory.mktemp("ts-examples")
    modules = root / "node_modules"
    package = modules / "@artreg" / "client"
    package.mkdir(parents=True)
    shutil.copy(TS / "package.json", package / "package.json")
    built = subprocess.run(
        [
            str(tsc),
            "-p",
            str(TS / "tsconfig.build.json"),
            "--outDir",
            str(package / "dist" / "esm"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, f"building @artreg/client failed:\n{built.stdout}{built.stderr}"
    for dependency in ("ws", "@types"):
        (modules / dependency).symlink_to(TS / "node_modules" / dependency)
    (root / "package.json").write_text('{"type": "module", "private": true}\n')
    sources = root / "examples"
    sources.mkdir()
    blocks = [b for b in all_blocks() if b.language == "ts"]
    for block in blocks:
        (sources / f"{_example_name(block)}.ts").write_text(block.code)
    (root / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "target": "ES2022",
                    "lib": ["ES2022"],
                    "module": "NodeNext",
                    "moduleResolution": "NodeNext",
                    "types": ["node"],
                    "strict": True,
                    "noUncheckedIndexedAccess": True,
                    "noImplicitReturns": True,
                    "skipLibCheck": True,
                    "rootDir": "examples",
                    "outDir": "out",
                },
                "include": ["examples"],
            }
        )
    )
    if blocks:
        checked = subprocess.run(
            [str(tsc), "-p", str(root / "tsconfig.json")],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=root,
        )
        if checked.returncode != 0:
            pytest.fail(
                "TypeScript examples do not type-check (file names are page_Lline):\n"
                + checked.stdout
                + checked.stderr,
                pytrace=False,
            )
    return CompiledTs(root / "out")


# -- documented JSON is checked against the wire types ------------------------------------------


def check_wire_json(data: Any) -> str | None:
    """Decode JSON that has the shape of a binding, a wire type or a JSON-RPC message into its
    type (raising when it does not fit); the name of what it was, or None for other JSON."""
    if not isinstance(data, dict):
        return None
    if "service" in data:
        parse_binding("docs", json.dumps(data))
        return "binding"
    if data.get("type") in ("aws", "gcp") or data.get("platform") in ("aws", "gcp"):
        types.convert(data, types.CrossAccountAccess)
        return "CrossAccountAccess"
    if "authMethod" in data:
        types.convert(data, types.ArtifactRegistryCredentials)
        return "ArtifactRegistryCredentials"
    if "code" in data and "retryable" in data:
        types.convert(data, types.ErrorData)
        return "ErrorData"
    if data.get("jsonrpc") == "2.0":
        method = method_by_name(str(data.get("method", "")))
        if method is not None:
            types.convert(data.get("params", {}), method.params)
        elif "result" in data and set(data["result"]) == {"name", "uri", "createdAt"}:
            types.convert(data["result"], types.RepositoryResponse)
        return "JSON-RPC"
    return None


def test_wire_json_check_refuses_what_does_not_fit() -> None:
    assert check_wire_json({"service": "local", "registryUrl": "h:1", "dataDir": None})
    with pytest.raises(ArtregError):
        check_wire_json({"service": "local", "registryUrl": "h:1"})  # dataDir is required
    with pytest.raises(msgspec.ValidationError):
        check_wire_json({"type": "aws", "accountIds": []})
    with pytest.raises(msgspec.ValidationError):
        check_wire_json(
            {"jsonrpc": "2.0", "id": 1, "method": "artifactRegistry.getRepository", "params": {}}
        )
    assert check_wire_json({"credHelpers": {}}) is None


# -- running one page ----------------------------------------------------------------------------


class PageRun:
    """Runs a page's blocks in order in one directory, carrying the environment along."""

    def __init__(self, workdir: Path, pinned: dict[str, str], request: pytest.FixtureRequest):
        self.workdir = workdir
        self.pinned = pinned
        self.env = {**base_env(), **pinned}
        self.request = request
        self.ran: list[str] = []

    def run(self, block: Block) -> None:
        if block.language == "json":
            self.json(block)
        elif block.language == "shell":
            self.shell(block)
        elif block.language == "python" and block.runnable:
            self.python(block)
        elif block.language == "ts" and block.runnable:
            self.ts(block)

    def _check_marker(self, block: Block) -> None:
        if block.language in {"python", "ts"} and not CLOUD_REASON.search(block.not_runnable or ""):
            _fail(
                block,
                f"may be not-runnable only when it needs a real cloud: {block.not_runnable!r}",
            )

    def json(self, block: Block) -> None:
        try:
            data = json.loads(block.code)
        except json.JSONDecodeError as exc:
            _fail(block, f"invalid JSON: {exc}")
        try:
            check_wire_json(data)
        except (msgspec.ValidationError, ArtregError) as exc:
            _fail(block, f"JSON does not fit the wire type it shows: {exc}")

    def shell(self, block: Block) -> None:
        for name, value in binding_exports(block.code).items():
            binding = binding_name_from_env_var(name)
            assert binding is not None
            parse_binding(binding, value)  # a binding the docs show must parse
        if not block.runnable:
            proc = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
            if proc.returncode != 0:
                _fail(block, "shell syntax error", proc)
            return
        env_file = self.workdir / ".env0"
        script = f"set -euo pipefail\n{block.code}\nenv -0 > {env_file}\n"
        proc = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=60,
        )
        if proc.returncode != 0:
            _fail(block, "shell block failed", proc)
        self.env = {**parse_env0(env_file.read_bytes()), **self.pinned}
        env_file.unlink()
        self.ran.append(block.id)

    def python(self, block: Block) -> None:
        script = self.workdir / f"{_example_name(block)}.py"
        script.write_text(block.code)
        proc = subprocess.run(
            [sys.executable, str(RUN_PYTHON), str(script)],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=60,
        )
        if proc.returncode != 0:
            _fail(block, "Python example failed", proc)
        self.ran.append(block.id)

    def ts(self, block: Block) -> None:
        compiled: CompiledTs = self.request.getfixturevalue("compiled_ts")
        proc = subprocess.run(
            [require_binary("node"), str(compiled.script(block))],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=60,
        )
        if proc.returncode != 0:
            _fail(block, "TypeScript example failed", proc)
        self.ran.append(block.id)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples(
    page: str,
    tmp_path: Path,
    profiles: dict[str, Profile],
    request: pytest.FixtureRequest,
) -> None:
    blocks = [b for b in page_blocks(DOCS / page) if b.language in EXECUTED]
    runnable = [b for b in blocks if b.runnable and b.language != "json"]
    pinned = profiles[PAGE_PROFILES.get(page, "local")](tmp_path) if runnable else {}
    runner = PageRun(tmp_path, pinned, request)
    for block in blocks:
        if not block.runnable:
            runner._check_marker(block)
        runner.run(block)
    assert len(runner.ran) == len(runnable)


# -- type-checking every Python block ------------------------------------------------------------


def _as_module(code: str) -> str:
    """The block as mypy can check it: a snippet using top-level ``await`` (``async with``,
    ``async for``) is wrapped in an ``async def``, as ``run_python.py`` effectively runs it.
    Line numbers in mypy's messages are then one more than the block's."""
    try:
        compile(code, "<example>", "exec")
    except SyntaxError as exc:
        if "outside async function" not in str(exc) and "outside function" not in str(exc):
            raise
        body = "".join(f"    {line}" if line.strip() else line for line in code.splitlines(True))
        return f"async def _example() -> None:\n{body}"
    return code


def test_python_examples_typecheck(tmp_path: Path) -> None:
    """mypy --strict over every Python block, runnable or not: a changed API fails here."""
    blocks = [b for b in all_blocks() if b.language == "python"]
    if not blocks:
        pytest.skip("no Python examples")
    for block in blocks:
        (tmp_path / f"{_example_name(block)}.py").write_text(_as_module(block.code))
    cache = REPO / ".mypy_cache" / "docs-examples"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(cache),
            "--python-version",
            "3.11",
            *sorted(str(p.name) for p in tmp_path.glob("*.py")),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": f"{REPO / 'core'}{os.pathsep}{REPO / 'rpc'}"},
        timeout=240,
    )
    if proc.returncode != 0:
        pytest.fail(
            "Python examples do not type-check (file names are page_Lline):\n"
            + proc.stdout
            + proc.stderr,
            pytrace=False,
        )


def test_examples_fit_the_page() -> None:
    """Python and TypeScript lines stay within 88 characters, so code reads without scrolling."""
    long = [
        f"{b.id} line {n}: {len(line)} characters"
        for b in all_blocks()
        if b.language in {"python", "ts"}
        for n, line in enumerate(b.code.splitlines(), 1)
        if len(line) > 88
    ]
    assert not long, "\n".join(long)


def test_markers_are_attached_to_blocks() -> None:
    """A marker comment must sit right before a code block, or it marks nothing."""
    marker = re.compile(r"<!--\s*not-runnable\s*:")
    for path in sorted(DOCS.rglob("*.md")):
        blocks = page_blocks(path)
        marked_lines = {b.line for b in blocks if b.not_runnable is not None}
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if not marker.search(line):
                continue
            following = next((n for n in range(index + 1, len(lines)) if lines[n].strip()), None)
            assert following is not None and following + 1 in marked_lines, (
                f"{path.relative_to(DOCS)}:{index + 1}: marker not followed by a code block"
            )


# -- what the pages say a command prints ---------------------------------------------------------


def _normalize_banner(text: str) -> list[str]:
    text = re.sub(r"\b127\.0\.0\.1:\d+", "HOST:PORT", text)
    text = re.sub(r"\(data in [^)]*\)", "(data in DIR)", text)
    text = re.sub(r'"dataDir":"[^"]*"', '"dataDir":DIR', text)
    text = re.sub(r"\S*/artreg\b", "artreg", text)  # the command's path, as the banner names it
    return [" ".join(line.split()) for line in text.strip().splitlines()]


def test_serve_banner_matches_the_docs(artreg_serve: ServeInfo) -> None:
    """The output Install and run shows for `artreg serve` is what it prints (addresses and
    the data directory aside)."""
    blocks = page_blocks(DOCS / "getting-started" / "index.md")
    index = next(i for i, b in enumerate(blocks) if b.code.strip() == "artreg serve")
    shown = blocks[index + 1]
    assert shown.language == "text"
    assert _normalize_banner(shown.code) == _normalize_banner("".join(artreg_serve.banner))
