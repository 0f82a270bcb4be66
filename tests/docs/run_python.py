"""Run one Python example from the docs: ``python run_python.py FILE``.

Examples are complete scripts, or snippets using top-level ``await`` as in ``python -m asyncio``
or a notebook; the latter run inside ``asyncio.run``.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from pathlib import Path


def main(path: str) -> None:
    source = Path(path).read_text(encoding="utf-8")
    code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": path}
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


if __name__ == "__main__":
    main(sys.argv[1])
