"""Password checks that cannot be used to stall a server or to probe for user names.

bcrypt costs tens to hundreds of milliseconds by design. Run on the event loop, a handful of
clients sending wrong passwords stalls every other request; answered instantly for unknown
users, the response time tells which names exist. Here every check:

- runs in a small thread pool (``workers``), with at most ``max_pending`` checks queued; a
  check that finds the queue full is refused as busy (:class:`TooManyAttempts`) instead of
  growing the queue;
- costs one bcrypt verification whether or not the user exists (unknown users are checked
  against a dummy hash of the same cost);
- is throttled per client address and per user name (:class:`AuthThrottle`) *before* any
  bcrypt work, and counts as a failure when it fails. A pair already verified is still
  answered for a throttled *user* from the address that verified it (the owner keeps working
  while someone guesses their password elsewhere), never for a throttled *address*.

A successful check is remembered (a SHA-256 of client address, user and password, never the
password) so a client's many requests do not each pay bcrypt's cost.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import bcrypt

from .ratelimit import AuthThrottle, TooManyAttempts

__all__ = ["PasswordChecker", "basic_credentials", "bcrypt_cost"]

_CACHE_SIZE: Final = 1024
#: Seconds a client is asked to wait when every worker is busy.
BUSY_RETRY_AFTER: Final = 1


def basic_credentials(value: str) -> tuple[bytes, bytes] | None:
    """User name and password of the credentials of a ``Basic`` ``Authorization`` header
    (``base64(user:password)``, the part after the scheme); None when they are not strict
    base64 or have no colon."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost factor of a ``$2?$NN$…`` hash; None when it is not bcrypt."""
    parts = hashed.split(b"$")
    if len(parts) < 4 or parts[1] not in (b"2a", b"2b", b"2y") or not parts[2].isdigit():
        return None
    return int(parts[2])


class PasswordChecker:
    """Verifies ``user``/``password`` pairs against bcrypt hashes (``htpasswd -B``)."""

    def __init__(
        self,
        users: Mapping[str, bytes],
        *,
        throttle: AuthThrottle | None = None,
        workers: int = 2,
        max_pending: int = 32,
    ) -> None:
        self._users = dict(users)
        self.throttle = throttle or AuthThrottle()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artreg-bcrypt")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        costs = Counter(c for c in map(bcrypt_cost, self._users.values()) if c is not None)
        cost = min(max(costs.most_common(1)[0][0] if costs else 10, 4), 31)
        # a hash of a random password nobody knows, at the cost most entries use
        self._dummy = bcrypt.hashpw(secrets.token_bytes(18), bcrypt.gensalt(cost))

    def __repr__(self) -> str:
        return f"PasswordChecker(users={len(self._users)})"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _cache_key(self, user: str, password: bytes, address: str | None) -> bytes:
        # per address: a pair verified from one client does not answer a guess from another
        # while the user is throttled (a 200-or-429 answer would tell a right guess apart)
        who = f"{address or ''}\0{user}".encode("utf-8", "surrogateescape")
        return hashlib.sha256(who + b"\0" + password).digest()

    def _verify(self, user: str, password: bytes) -> bool:
        stored = self._users.get(user)
        try:
            ok = bcrypt.checkpw(password, stored if stored is not None else self._dummy)
        except ValueError:
            ok = False
        return ok and stored is not None

    def _verify_in_slot(self, user: str, password: bytes) -> bool:
        # the slot is given back when bcrypt is done, even if the waiting request was cancelled
        try:
            return self._verify(user, password)
        finally:
            self._slots.release()

    async def check(self, user: str, password: bytes, address: str | None) -> bool:
        """True for a valid pair. Raises :class:`TooManyAttempts` when the address or the
        user is throttled, or when the pool is saturated."""
        # The address is throttled before the cache (a throttled guesser gets no answer, even
        # a right one); the user after it, so an attack on a name does not lock its owner out
        # of a session already verified.
        self.throttle.check(address)
        key = self._cache_key(user, password, address)
        with self._lock:
            if key in self._verified:
                self._verified.move_to_end(key)
                return True
        self.throttle.charge(address, user)
        if not self._slots.acquire(blocking=False):
            self.throttle.refund(address, user)  # not tried: not a failure
            raise TooManyAttempts(BUSY_RETRY_AFTER)
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool, self._verify_in_slot, user, password)
        except RuntimeError:  # the pool is shut down
            self._slots.release()
            self.throttle.refund(address, user)
            raise
        if not await future:
            return False  # the charge stays: one failure
        self.throttle.refund(address, user)
        with self._lock:
            self._verified[key] = None
            while len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        return True

    def check_sync(self, user: str, password: bytes) -> bool:
        """The same verification, blocking and unthrottled (tools, not servers)."""
        return self._verify(user, password)
