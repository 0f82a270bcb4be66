"""Finding the code blocks of the documentation site, with the marker that may precede each.

A block is a fenced code block (```` ``` ```` or ``~~~``, possibly indented inside a tab or an
admonition). The line right before it (blank lines skipped) may be an HTML comment that changes
how the tests treat it:

- ``<!-- not-runnable: REASON -->``: the block needs a real cloud. Python blocks are still
  compiled and type-checked with mypy, TypeScript blocks type-checked with tsc, shell blocks
  syntax-checked with ``bash -n``.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "docs-site"
DOCS = SITE / "docs"

LANGUAGES = {
    "python": "python",
    "py": "python",
    "ts": "ts",
    "typescript": "ts",
    "sh": "shell",
    "bash": "shell",
    "shell": "shell",
    "json": "json",
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<key>not-runnable)\s*:\s*(?P<value>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str  # path relative to docs/, e.g. "providers/ecr.md"
    line: int  # 1-based line of the opening fence
    language: str  # "python", "ts", "shell", "json", or the raw info word
    code: str
    not_runnable: str | None = None  # the reason, when marked

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.not_runnable is None


def page_blocks(path: Path, root: Path = DOCS) -> list[Block]:
    """Every fenced block of one Markdown page, in order."""
    page = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence = match.group("indent"), match.group("fence")
        info = match.group("info").strip().lstrip("{").strip()
        word = info.split()[0].lstrip(".").lower() if info else ""
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            body.append(lines[i])
            i += 1
        else:
            raise ValueError(f"{page}:{start + 1}: unclosed code fence")
        i += 1
        code = textwrap.dedent(
            "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in body)
        )
        markers: dict[str, str] = {}
        j = start - 1
        while j >= 0:
            text = lines[j].strip()
            if not text:
                j -= 1
                continue
            marker = _MARKER.match(text)
            if marker is None:
                break
            markers[marker.group("key")] = marker.group("value")
            j -= 1
        blocks.append(
            Block(
                page=page,
                line=start + 1,
                language=LANGUAGES.get(word, word),
                code=code + "\n",
                not_runnable=markers.get("not-runnable"),
            )
        )
    return blocks


def all_blocks() -> list[Block]:
    """The blocks of every page of the site."""
    return [b for path in sorted(DOCS.rglob("*.md")) for b in page_blocks(path)]


def blocks_of(language: str) -> list[Block]:
    return [b for b in all_blocks() if b.language == language]
