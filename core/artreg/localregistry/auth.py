"""Authentication for the embedded registry: htpasswd (bcrypt) basic auth and a static token.

Credentials are compared in constant time, and neither they nor the Authorization header are
ever logged or put in an error. A successful bcrypt check is remembered (keyed by a SHA-256 of
the header) so a client's many requests do not each pay bcrypt's cost.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Final

import bcrypt

REALM: Final = "artreg"
_CACHE_SIZE: Final = 256
_MAX_ISSUED: Final = 10_000


class AuthConfigError(ValueError):
    """An htpasswd or token file that cannot be used."""


class Authenticator:
    """Accepts requests carrying any of the configured credentials.

    ``users`` maps user names to bcrypt hashes (as in an ``htpasswd -B`` file); ``token`` is a
    static bearer token, also accepted as the password of Basic auth with any user name. The
    registry's token endpoint (``GET /v2/token``) trades valid credentials for a random bearer
    token that expires after ``token_ttl`` seconds (kept in memory only).
    """

    def __init__(
        self,
        *,
        users: dict[str, bytes] | None = None,
        token: str | None = None,
        token_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not users and not token:
            raise AuthConfigError("no credentials configured")
        self._users = dict(users or {})
        self._token = token.encode() if token else None
        self.token_ttl = token_ttl
        self._clock = clock
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._issued: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Authenticator(users={len(self._users)}, token={'set' if self._token else 'unset'})"

    @classmethod
    def from_files(
        cls, *, htpasswd: str | Path | None = None, token_file: str | Path | None = None
    ) -> Authenticator:
        """Read an htpasswd file (bcrypt entries only) and/or a file holding one token."""
        users = load_htpasswd(htpasswd) if htpasswd is not None else None
        token = None
        if token_file is not None:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                raise AuthConfigError(
                    f"cannot read token file {token_file}: {exc.strerror}"
                ) from None
            if not token:
                raise AuthConfigError(f"token file {token_file} is empty")
        return cls(users=users, token=token)

    @property
    def uses_tokens(self) -> bool:
        """True when a static token is configured: clients are then sent to the token
        endpoint (Docker's token flow) instead of being asked for Basic credentials."""
        return self._token is not None

    def challenges(self, token_realm: str | None = None) -> list[str]:
        """``WWW-Authenticate`` values to send with a 401: a Bearer challenge naming the token
        endpoint ``token_realm`` when tokens are in use, else Basic."""
        if self._token is not None and token_realm:
            return [f'Bearer realm="{token_realm}",service="{REALM}"']
        return [f'Basic realm="{REALM}"']

    def issue_token(self, authorization: str | None) -> tuple[str, int] | None:
        """A new short-lived bearer token for a request carrying valid credentials (Basic, or
        a bearer token already valid), with its lifetime in seconds; None otherwise."""
        if not self.check(authorization):
            return None
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            if len(self._issued) >= _MAX_ISSUED:
                for key in [k for k, exp in self._issued.items() if exp <= now]:
                    del self._issued[key]
                while len(self._issued) >= _MAX_ISSUED:
                    del self._issued[next(iter(self._issued))]
            self._issued[hashlib.sha256(token.encode()).digest()] = now + self.token_ttl
        return token, int(self.token_ttl)

    def _issued_valid(self, value: bytes) -> bool:
        key = hashlib.sha256(value).digest()
        with self._lock:
            expiry = self._issued.get(key)
            if expiry is None:
                return False
            if expiry <= self._clock():
                del self._issued[key]
                return False
            return True

    def check(self, authorization: str | None) -> bool:
        """True when the ``Authorization`` header carries valid credentials."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            raw = value.encode()
            if self._token is not None and hmac.compare_digest(raw, self._token):
                return True
            return self._issued_valid(raw)
        if scheme != "basic":
            return False
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        if not sep:
            return False
        if self._token is not None and hmac.compare_digest(password, self._token):
            return True
        stored = self._users.get(user.decode("utf-8", "replace"))
        if stored is None:
            return False
        key = hashlib.sha256(decoded).digest()
        with self._lock:
            if key in self._verified:
                self._verified.move_to_end(key)
                return True
        try:
            ok = bcrypt.checkpw(password, stored)
        except ValueError:
            return False
        if ok:
            with self._lock:
                self._verified[key] = None
                while len(self._verified) > _CACHE_SIZE:
                    self._verified.popitem(last=False)
        return ok


def load_htpasswd(path: str | Path) -> dict[str, bytes]:
    """``user:hash`` lines; only bcrypt hashes (``$2a$``, ``$2b$``, ``$2y$``) are accepted."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise AuthConfigError(f"cannot read htpasswd file {path}: {exc.strerror}") from None
    users: dict[str, bytes] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user:
            raise AuthConfigError(f"{path}:{lineno}: expected 'user:hash'")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise AuthConfigError(
                f"{path}:{lineno}: only bcrypt entries are supported (htpasswd -B)"
            )
        users[user] = hashed.encode()
    if not users:
        raise AuthConfigError(f"htpasswd file {path} has no entries")
    return users
