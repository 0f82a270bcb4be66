"""The documentation site builds strictly, its generated references are complete, it works
offline, and a real browser shows its pages."""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from artreg.errors import ERROR_CLASSES
from tests.docs.blocks import REPO, SITE
from tests.peers import require_binary


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mkdocs build --strict`` into a temporary site directory (warnings, broken links and
    anchors fail the build)."""
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--clean",
            "-f",
            str(SITE / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{proc.stdout}{proc.stderr}", pytrace=False)
    return site


def _text(path: Path) -> str:
    """The visible text of a built page's article."""
    page = path.read_text(encoding="utf-8")
    match = re.search(r"<article.*?</article>", page, re.S)
    assert match is not None, f"{path}: no article"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(0)))


def test_site_builds_strict(built_site: Path) -> None:
    for page in ("index.html", "providers/ecr/index.html", "reference/python/index.html"):
        assert (built_site / page).is_file(), page


def test_api_reference_reads_cleanly(built_site: Path) -> None:
    """The API pages carry the docstrings, without Sphinx roles or internal notes."""
    for name in ("python", "providers", "oci"):
        text = _text(built_site / "reference" / name / "index.html")
        assert "ArtifactRegistry" in text or "RegistryClient" in text
        assert ":data:" not in text and ":class:" not in text, name
        assert "§" not in text, name


def test_broken_internal_links_fail_the_build(tmp_path: Path) -> None:
    """A link to a missing page or a missing anchor fails the strict build."""
    shutil.copytree(SITE, tmp_path / "docs-site", ignore=shutil.ignore_patterns("site"))
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    for page in (tmp_path / "docs-site" / "docs" / "reference").glob("*.md"):
        # API pages are the slow part of a build and irrelevant here.
        page.write_text(re.sub(r"^::: .*$", "", page.read_text(), flags=re.M))
    index = tmp_path / "docs-site" / "docs" / "index.md"
    index.write_text(
        index.read_text()
        + "\n[gone](no-such-page.md) and [nowhere](concepts/names.md#no-such-section)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(tmp_path / "docs-site" / "mkdocs.yml"),
            "-d",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    assert proc.returncode != 0
    assert "no-such-page.md" in proc.stderr
    assert "no-such-section" in proc.stderr


def test_error_codes_table_lists_every_code(built_site: Path) -> None:
    text = _text(built_site / "reference" / "errors" / "index.html")
    for code, cls in ERROR_CLASSES.items():
        row = re.search(rf"{code}\s+{cls.__name__}\s+(\S+)\s+(yes|no)\s+(yes|no)", text)
        assert row is not None, f"{code} missing from the error table"
        assert row.group(1) == str(cls.http_status)
        assert row.group(2) == ("yes" if cls.retryable else "no")
        assert row.group(3) == ("yes" if cls.internal else "no")


def test_json_rpc_reference_matches_openrpc(built_site: Path) -> None:
    document = json.loads((REPO / "schemas" / "openrpc.json").read_text())
    page = (built_site / "reference" / "json-rpc" / "index.html").read_text()
    text = _text(built_site / "reference" / "json-rpc" / "index.html")
    for method in document["methods"]:
        anchor = method["name"].replace(".", "").lower()
        assert f'id="{anchor}"' in page, f"no section for {method['name']}"
        for param in method["params"]:
            assert param["name"] in text
    for name in document["components"]["schemas"]:
        assert f'id="{name.lower()}"' in page, f"no section for type {name}"


def test_cli_reference_lists_every_command(built_site: Path) -> None:
    import typer

    from artreg.cli import app

    group = typer.main.get_command(app)
    ctx = group.context_class(group)
    text = _text(built_site / "reference" / "cli" / "index.html")
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        assert f"artreg {name}" in text


def test_site_needs_no_network(built_site: Path) -> None:
    """No page loads a script, stylesheet, font or image from another host."""
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    offenders = []
    for page in built_site.rglob("*.html"):
        for match in remote.finditer(page.read_text(encoding="utf-8")):
            tag = match.group(0)
            if re.search(r"""rel=["'](?:canonical|alternate)""", tag):
                continue
            offenders.append(f"{page.relative_to(built_site)}: {tag}")
    for css in built_site.rglob("*.css"):
        for match in re.finditer(r"""@import\s+url\(["']?https?://[^)]*""", css.read_text()):
            offenders.append(f"{css.relative_to(built_site)}: {match.group(0)}")
    assert not offenders, "\n".join(offenders)


# -- in a real browser ---------------------------------------------------------------------------


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _dump_dom(chromium: str, url: str, profile: Path) -> str:
    proc = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        pytest.fail(f"chromium did not finish loading {url}")
    assert proc.returncode == 0, f"chromium failed on {url}: {err.decode(errors='replace')[-2000:]}"
    return out.decode("utf-8", errors="replace")


def _headings(dom: str, level: int) -> list[str]:
    found = re.findall(rf"<h{level}\b[^>]*>(.*?)</h{level}>", dom, re.S)
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", h)).replace("¶", "").split()) for h in found
    ]


def test_pages_render_in_chromium(built_site: Path, tmp_path: Path) -> None:
    """Headless Chromium loads the home page and the ECR page from a local server and sees
    their headings, with the theme's scripts run."""
    chromium = require_binary("chromium")
    with _serve(built_site) as base:
        home = _dump_dom(chromium, f"{base}/", tmp_path / "profile-home")
        ecr = _dump_dom(chromium, f"{base}/providers/ecr/", tmp_path / "profile-ecr")
    assert _headings(home, 1) == ["artreg"]
    assert "What it looks like" in _headings(home, 2)
    assert _headings(ecr, 1) == ["AWS ECR"]
    ecr_sections = _headings(ecr, 2)
    for section in ("Binding", "Names and URIs", "Methods", "Credentials", "Errors", "Limits"):
        assert section in ecr_sections, f"ECR page lacks {section!r}: {ecr_sections}"
    # The theme's JavaScript ran (offline): it adds a copy button to every code block.
    static = (built_site / "index.html").read_text()
    assert 'class="md-code__button"' not in static
    assert 'class="md-code__button"' in home
    assert 'class="md-code__button"' in ecr
