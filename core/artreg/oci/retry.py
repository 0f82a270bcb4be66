"""The retry layer of the transport and its policy: exponential backoff with jitter,
``Retry-After`` honoured, bounded in attempts and in total time. Only calls that can be sent again
(idempotent, with a body that reopens) are retried; a retryable status or transport error that
outlasts the policy becomes a typed error."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from artreg.oci.call import Call, Layer
from artreg.oci.errors import connection_error, error_for_stream

__all__ = ["RETRYABLE_STATUSES", "RetryLayer", "RetryPolicy", "parse_retry_after"]

log = logging.getLogger("artreg.oci")

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

    def allows(self, attempt: int, elapsed: float, delay: float) -> bool:
        """Whether attempt ``attempt + 1`` may follow after waiting ``delay`` seconds, ``elapsed``
        seconds after the first try began."""
        return attempt < self.max_attempts and elapsed + delay <= self.total_seconds

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


class RetryLayer:
    """Sends a call through ``inner`` again while the policy allows: after a transport error, a
    status in ``policy.statuses``, or (for a call that is not streamed) a failure reading the
    body. What is finally returned has a non-retryable status."""

    def __init__(
        self, inner: Layer, policy: RetryPolicy, sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.sleep = sleep

    async def send(self, call: Call) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._attempt(call)
            except httpx.TransportError as exc:
                delay = self.policy.backoff(attempt)
                if not self._again(call, attempt, started, delay):
                    raise connection_error(exc, operation=call.operation) from None
                log.debug("%s: %s, retrying in %.2fs", call.operation, type(exc).__name__, delay)
                await self.sleep(delay)
                continue
            status = response.status_code
            if status not in self.policy.statuses:
                return response
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = self.policy.backoff(attempt, retry_after)
            if not self._again(call, attempt, started, delay):
                raise await error_for_stream(
                    response,
                    operation=call.operation,
                    resource_type=call.resource_type,
                    resource_name=call.resource_name,
                )
            await response.aclose()
            log.debug("%s: registry answered %s, retrying in %.2fs", call.operation, status, delay)
            await self.sleep(delay)

    def _again(self, call: Call, attempt: int, started: float, delay: float) -> bool:
        return call.retryable and self.policy.allows(attempt, time.monotonic() - started, delay)

    async def _attempt(self, call: Call) -> httpx.Response:
        response = await self.inner.send(call)
        if call.stream or response.status_code in self.policy.statuses:
            return response
        try:
            await response.aread()
        except httpx.TransportError:
            await response.aclose()
            raise
        return response
