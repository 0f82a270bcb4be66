"""The limits every listener applies, and the small counters that enforce them."""

from __future__ import annotations

import resource
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Final

__all__ = ["ByteBudget", "ConnectionCap", "Limits"]

#: File descriptors kept free for the store, the log and upstream connections.
_FD_RESERVE: Final = 64


@dataclass(frozen=True)
class Limits:
    """Bounds on what one client can make a server hold.

    ``max_header_bytes``: request line plus headers (431 beyond). ``header_timeout``: seconds
    from the connection (or the first byte of a request) to the end of its headers (408, closed).
    ``keepalive_timeout``: seconds an idle keep-alive connection is kept. ``body_idle_timeout``:
    seconds a request body may go without a byte arriving (the server not having paused reading
    itself) before the connection is closed. ``max_connections``
    and ``max_connections_per_address``: open connections, in all and from one client address.
    ``max_json_depth``: nesting of JSON documents the server parses.
    """

    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    body_idle_timeout: float = 60.0
    max_connections: int = 1000
    max_connections_per_address: int = 128
    max_json_depth: int = 64

    def connection_ceiling(self) -> int:
        """``max_connections``, lowered to fit the process's file-descriptor limit."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - _FD_RESERVE))


class ConnectionCap:
    """Counts open connections, in all and per client address (thread-safe)."""

    def __init__(self, limits: Limits) -> None:
        self.total_limit = limits.connection_ceiling()
        self.per_address = limits.max_connections_per_address
        self._open: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def acquire(self, address: str) -> str | None:
        """Count a new connection from ``address``; the reason it is refused, or None."""
        with self._lock:
            if self._total >= self.total_limit:
                return "too many connections"
            if self._open[address] >= self.per_address:
                return "too many connections from this address"
            self._open[address] += 1
            self._total += 1
            return None

    def release(self, address: str) -> None:
        with self._lock:
            self._total -= 1
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open_from(self, address: str) -> int:
        with self._lock:
            return self._open[address]


class ByteBudget:
    """A shared allowance of bytes (replies queued for slow readers, for instance)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False (nothing reserved) when that would exceed the limit."""
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.used = max(0, self.used - size)
