"""A nesting limit checked before a JSON document is parsed.

Python's ``json`` and msgspec both recurse per nesting level: a document 100,000 levels deep
raises ``RecursionError`` (a 500, or a reply that never comes) instead of a clean refusal.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["JsonTooDeep", "check_depth"]

_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: Every byte but the four brackets, deleted by ``bytes.translate``.
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SAME_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")


class JsonTooDeep(ValueError):
    """The document nests arrays and objects deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def check_depth(document: bytes | str, limit: int) -> None:
    """Raise :class:`JsonTooDeep` when ``document`` nests more than ``limit`` levels.

    Linear time in C (no per-byte Python loop): strings are blanked, everything but brackets
    dropped, then innermost pairs are removed ``limit`` times; a pair left means deeper.
    Malformed documents are let through for the parser to refuse.
    """
    data = document.encode() if isinstance(document, str) else bytes(document)
    if data.count(b"[") + data.count(b"{") <= limit:
        return
    brackets = _STRING.sub(b"", data).translate(_SAME_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            return
        brackets = reduced
    if b"[]" in brackets:
        raise JsonTooDeep(limit)
