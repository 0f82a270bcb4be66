"""Retry policy: exponential backoff with full jitter, ``Retry-After`` honoured, bounded in
attempts and in total time."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry idempotent requests.

    ``max_attempts`` counts the first try; ``total_seconds`` bounds the time spent waiting
    between attempts (a ``Retry-After`` that would exceed it ends the retries at once).
    """

    max_attempts: int = 5
    initial_delay: float = 0.2
    max_delay: float = 8.0
    total_seconds: float = 60.0
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before attempt ``attempt + 1`` (``attempt`` starts at 1)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_delay, self.initial_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)
