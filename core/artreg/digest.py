"""Content digests (``algorithm:hex``): parsing, validation and incremental verification.

Shared by the OCI client and the embedded registry; it depends on nothing else in artreg.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

#: Algorithms this project can compute, with the hex length the OCI image spec registers for each.
ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha512": 128}

_DIGEST_RE: Final = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")


class DigestError(ValueError):
    """A digest string that is malformed or uses an algorithm we cannot compute."""


@dataclass(frozen=True, slots=True)
class Digest:
    """A parsed, validated content digest such as ``sha256:e3b0c4…``."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Parse ``value``; raise :class:`DigestError` unless it is a supported, well-formed digest."""
        if not _DIGEST_RE.match(value):
            raise DigestError(f"invalid digest {value!r}: expected 'algorithm:hex'")
        algorithm, _, encoded = value.partition(":")
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise DigestError(f"unsupported digest algorithm {algorithm!r} in {value!r}")
        if len(encoded) != length or not re.fullmatch(r"[a-f0-9]+", encoded):
            raise DigestError(
                f"invalid digest {value!r}: {algorithm} needs {length} lowercase hex characters"
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Hasher:
    """Computes a digest incrementally, for streams that are never held whole in memory."""

    __slots__ = ("_h", "algorithm", "size")

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in ALGORITHMS:
            raise DigestError(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._h.update(chunk)
        self.size += len(chunk)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._h.hexdigest())

    def copy(self) -> Hasher:
        other = Hasher.__new__(Hasher)
        other.algorithm = self.algorithm
        other._h = self._h.copy()
        other.size = self.size
        return other
