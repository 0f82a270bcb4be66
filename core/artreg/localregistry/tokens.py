"""Bearer and refresh tokens the registry's token endpoint issues.

A token is self-contained and signed (HMAC-SHA256 with a key made at start-up): its kind,
expiry and holder travel inside it, so nothing is stored per token. No number of token
requests can therefore evict (or crowd out) another client's live token, and memory does not
grow with them. Tokens die with the process (a new key), as stored ones would.

An access token authorises requests; a refresh token (asked for with ``offline_token=true``
or ``access_type=offline``) only buys new access tokens at the token endpoint. Neither can
be used to mint a token of its own kind.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from artreg.serving.b64url import b64url_decode, b64url_encode

TokenKind = Literal["access", "refresh"]

_PREFIX: Final = "artreg"
_KIND_CODES: Final[dict[str, str]] = {"access": "a", "refresh": "r"}
#: Longest token accepted for parsing (a real one is about 120 characters).
_MAX_LENGTH: Final = 1024


@dataclass(frozen=True, slots=True)
class Grant:
    """What the token endpoint answers."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None

    def __repr__(self) -> str:
        return f"Grant(expires_in={self.expires_in}, refresh={self.refresh_token is not None})"


class TokenService:
    """Signs and checks tokens. ``clock`` is wall-clock seconds (injectable for tests)."""

    def __init__(
        self,
        *,
        access_ttl: float = 3600.0,
        refresh_ttl: float = 30 * 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        key: bytes | None = None,
    ) -> None:
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._clock = clock
        self._key = key or secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"TokenService(access_ttl={self.access_ttl}, refresh_ttl={self.refresh_ttl})"

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(self, holder: str, kind: TokenKind) -> str:
        """A new token of ``kind`` for ``holder`` (a user name, or a fixed name for holders
        of the static token)."""
        ttl = self.access_ttl if kind == "access" else self.refresh_ttl
        expiry = int(self._clock() + ttl)
        payload = ".".join(
            [
                _KIND_CODES[kind],
                str(expiry),
                b64url_encode(holder.encode()),
                b64url_encode(secrets.token_bytes(12)),
            ]
        ).encode()
        return f"{_PREFIX}.{b64url_encode(payload)}.{b64url_encode(self._sign(payload))}"

    def holder(self, token: str, kind: TokenKind) -> str | None:
        """The holder of a valid, unexpired token of ``kind``; None for anything else."""
        if len(token) > _MAX_LENGTH:
            return None
        prefix, _, rest = token.partition(".")
        encoded, _, mac = rest.partition(".")
        if prefix != _PREFIX or not encoded or not mac:
            return None
        try:
            payload, signature = b64url_decode(encoded), b64url_decode(mac)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            code, expiry, holder, _nonce = payload.decode().split(".")
            if code != _KIND_CODES[kind] or int(expiry) <= self._clock():
                return None
            return b64url_decode(holder).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def grant(self, holder: str, *, offline: bool) -> Grant:
        """An access token, and a refresh token too when ``offline``."""
        return Grant(
            access_token=self.issue(holder, "access"),
            expires_in=int(self.access_ttl),
            refresh_token=self.issue(holder, "refresh") if offline else None,
        )
