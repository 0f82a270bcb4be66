"""How code blocks and their markers are found in a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.blocks import page_blocks

PAGE = """# Title

```python
print("plain")
```

<!-- not-runnable: needs AWS (a real account) -->

```ts
const x: number = 1;
```

=== "Tab"

    ```sh
    echo in-a-tab
    ```

```text
not executed
```

<!-- a comment that is no marker -->
~~~json
{"a": 1}
~~~
"""


def test_blocks_languages_markers_and_indentation(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = page_blocks(page, root=tmp_path)
    assert [(b.language, b.line) for b in blocks] == [
        ("python", 3),
        ("ts", 9),
        ("shell", 15),
        ("text", 19),
        ("json", 24),
    ]
    assert blocks[0].code == 'print("plain")\n' and blocks[0].runnable
    assert blocks[1].not_runnable == "needs AWS (a real account)"
    assert blocks[2].code == "echo in-a-tab\n"  # the tab's indentation is removed
    assert blocks[4].runnable  # an unrelated comment marks nothing
    assert blocks[0].id == "page.md:3"


def test_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1)\n")
    with pytest.raises(ValueError, match="unclosed code fence"):
        page_blocks(page, root=tmp_path)


def test_snippets_with_top_level_await_are_wrapped_for_mypy() -> None:
    from tests.docs.test_examples import _as_module

    script = "import asyncio\n\nasyncio.run(asyncio.sleep(0))\n"
    assert _as_module(script) == script
    snippet = "import asyncio\n\nawait asyncio.sleep(0)\n"
    wrapped = _as_module(snippet)
    assert wrapped.startswith("async def _example() -> None:\n    import asyncio\n")
    compile(wrapped, "<wrapped>", "exec")
    with pytest.raises(SyntaxError):
        _as_module("def broken(:\n")
