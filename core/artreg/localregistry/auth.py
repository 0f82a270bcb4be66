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
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Final

import bcrypt

from .tokens import Grant, TokenService

REALM: Final = "artreg"
_CACHE_SIZE: Final = 256
#: The holder name of tokens issued to clients of the static token (no user can be named so).
STATIC_TOKEN_HOLDER: Final = ":token"


class AuthConfigError(ValueError):
    """An htpasswd or token file that cannot be used."""


class Authenticator:
    """Accepts requests carrying any of the configured credentials.

    ``users`` maps user names to bcrypt hashes (as in an ``htpasswd -B`` file); ``token`` is a
    static bearer token, also accepted as the password of Basic auth with any user name. The
    registry's token endpoint trades a user name and password (never a bearer token) or a
    refresh token for a signed bearer token that expires after ``token_ttl`` seconds
    (:mod:`.tokens`).
    """

    def __init__(
        self,
        *,
        users: dict[str, bytes] | None = None,
        token: str | None = None,
        token_ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not users and not token:
            raise AuthConfigError("no credentials configured")
        self._users = dict(users or {})
        self._token = token.encode() if token else None
        self.token_ttl = token_ttl
        self.tokens = TokenService(access_ttl=token_ttl, clock=clock)
        self._verified: OrderedDict[bytes, None] = OrderedDict()
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

    def issue_token(self, authorization: str | None, *, offline: bool = False) -> Grant | None:
        """A bearer token (and a refresh token when ``offline``) for a request carrying a
        valid user name and password as Basic auth; None otherwise. A bearer token, even a
        valid one, never buys another."""
        credentials = _basic(authorization)
        if credentials is None:
            return None
        holder = self._holder(*credentials)
        return self.tokens.grant(holder, offline=offline) if holder is not None else None

    def grant_password(self, username: str, password: str, *, offline: bool) -> Grant | None:
        """The token endpoint's ``grant_type=password``: tokens for valid credentials."""
        holder = self._holder(username.encode(), password.encode())
        return self.tokens.grant(holder, offline=offline) if holder is not None else None

    def grant_refresh(self, refresh_token: str) -> Grant | None:
        """The token endpoint's ``grant_type=refresh_token``: a new access token."""
        holder = self.tokens.holder(refresh_token, "refresh")
        return self.tokens.grant(holder, offline=False) if holder is not None else None

    def check(self, authorization: str | None) -> bool:
        """True when the ``Authorization`` header carries valid credentials."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            raw = value.strip()
            if self._token is not None and hmac.compare_digest(raw.encode(), self._token):
                return True
            return self.tokens.holder(raw, "access") is not None
        credentials = _basic(authorization)
        return credentials is not None and self._holder(*credentials) is not None

    def _holder(self, user: bytes, password: bytes) -> str | None:
        """Who the user name and password identify: the user, the static token's holder, or
        None when they are not valid."""
        if self._token is not None and hmac.compare_digest(password, self._token):
            return STATIC_TOKEN_HOLDER
        name = user.decode("utf-8", "replace")
        stored = self._users.get(name)
        if stored is None:
            return None
        key = hashlib.sha256(user + b":" + password).digest()
        with self._lock:
            if key in self._verified:
                self._verified.move_to_end(key)
                return name
        try:
            ok = bcrypt.checkpw(password, stored)
        except ValueError:
            return None
        if not ok:
            return None
        with self._lock:
            self._verified[key] = None
            while len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        return name


def _basic(authorization: str | None) -> tuple[bytes, bytes] | None:
    """User name and password of a ``Basic`` header; None for anything else."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


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
