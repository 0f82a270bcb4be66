"""Throttling failed authentication, and logging a repeated event once per window.

Each key (a client address, a user name) has a bucket of ``burst`` failures that refills at one
failure per ``refill_seconds``; a key whose bucket is empty is refused with a ``Retry-After``
until the next failure would fit. Successes cost nothing. Unknown and known user names are
throttled alike, so a 429 tells nothing about which names exist.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["AuthThrottle", "FailureLimiter", "LogOnce", "TooManyAttempts"]

#: Keys remembered at most; beyond it the least recently failed go (already refilled ones first).
DEFAULT_MAX_KEYS: Final = 10_000


class TooManyAttempts(Exception):
    """Too many failed attempts: answer 429 with ``Retry-After: retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass(slots=True)
class _Bucket:
    level: float  # failures "in" the bucket
    updated: float


class FailureLimiter:
    """Failed attempts per key, as a leaky bucket (thread-safe)."""

    def __init__(
        self,
        *,
        burst: int = 10,
        refill_seconds: float = 6.0,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, bucket: _Bucket, now: float) -> float:
        return max(0.0, bucket.level - (now - bucket.updated) / self.refill_seconds)

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again; None when it may try now."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            level = self._level(bucket, now)
        if level + 1 <= self.burst:
            return None
        return max(1, math.ceil((level + 1 - self.burst) * self.refill_seconds))

    def charge(self, key: str) -> int | None:
        """Count an attempt by ``key`` as failed up front (so concurrent attempts cannot all
        slip through before the first failure is recorded): None when it was charged, else
        the seconds to wait (nothing charged). :meth:`refund` it when the attempt succeeds."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            level = self._level(bucket, now) if bucket is not None else 0.0
            if level + 1 > self.burst:
                return max(1, math.ceil((level + 1 - self.burst) * self.refill_seconds))
            self._buckets.pop(key, None)
            self._buckets[key] = _Bucket(level + 1, now)
            if len(self._buckets) > self.max_keys:
                self._evict(now)
            return None

    def refund(self, key: str) -> None:
        """Take back a :meth:`charge` (the attempt succeeded)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.level = max(0.0, self._level(bucket, now) - 1)
                bucket.updated = now

    def failed(self, key: str) -> None:
        """Record one failed attempt by ``key``."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(key, None)
            level = self._level(bucket, now) if bucket is not None else 0.0
            self._buckets[key] = _Bucket(min(level + 1, self.burst + 1), now)
            if len(self._buckets) > self.max_keys:
                self._evict(now)

    def _evict(self, now: float) -> None:
        drained = [k for k, b in self._buckets.items() if self._level(b, now) == 0.0]
        for key in drained:
            del self._buckets[key]
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


class AuthThrottle:
    """Failed-authentication limits per client address and per user name."""

    def __init__(
        self,
        *,
        per_address: FailureLimiter | None = None,
        per_user: FailureLimiter | None = None,
    ) -> None:
        self.per_address = per_address or FailureLimiter(burst=20, refill_seconds=3.0)
        self.per_user = per_user or FailureLimiter(burst=10, refill_seconds=6.0)

    def check(self, address: str | None, user: str | None = None) -> None:
        """Raise :class:`TooManyAttempts` when the address or the user must wait."""
        waits = []
        if address is not None:
            waits.append(self.per_address.retry_after(address))
        if user is not None:
            waits.append(self.per_user.retry_after(user))
        longest = max((w for w in waits if w is not None), default=None)
        if longest is not None:
            raise TooManyAttempts(longest)

    def charge(self, address: str | None, user: str | None = None) -> None:
        """Charge an attempt to the address and the user before checking it; raises
        :class:`TooManyAttempts` (charging nothing) when either must wait."""
        if address is not None:
            wait = self.per_address.charge(address)
            if wait is not None:
                raise TooManyAttempts(wait)
        if user is not None:
            wait = self.per_user.charge(user)
            if wait is not None:
                if address is not None:
                    self.per_address.refund(address)
                raise TooManyAttempts(wait)

    def refund(self, address: str | None, user: str | None = None) -> None:
        """The charged attempt succeeded."""
        if address is not None:
            self.per_address.refund(address)
        if user is not None:
            self.per_user.refund(user)

    def failed(self, address: str | None, user: str | None = None) -> None:
        """Record a failed attempt that was not charged."""
        if address is not None:
            self.per_address.failed(address)
        if user is not None:
            self.per_user.failed(user)


class LogOnce:
    """True the first time a key is seen in each ``window`` seconds (bounded memory)."""

    def __init__(
        self,
        window: float = 60.0,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str) -> tuple[bool, int]:
        """``(log_now, suppressed_since_last)`` for an event from ``key``."""
        now = self._clock()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last < self.window:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False, 0
            self._seen.pop(key, None)
            self._seen[key] = now
            while len(self._seen) > self.max_keys:
                old, _ = self._seen.popitem(last=False)
                self._suppressed.pop(old, None)
            return True, self._suppressed.pop(key, 0)
