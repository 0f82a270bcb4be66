"""Authentication for the embedded registry: htpasswd (bcrypt) basic auth and a static token.

Credentials are compared in constant time, and neither they nor the Authorization header are
ever logged or put in an error. Passwords are checked by :class:`artreg.serving.PasswordChecker`:
bcrypt off the event loop in a bounded pool, the same cost for unknown users, failed attempts
throttled per client address and per user (the server answers 429 with ``Retry-After``).
:meth:`Authenticator.check` is the blocking, unthrottled form, for tools and tests.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from artreg.serving import AuthThrottle, PasswordChecker, TooManyAttempts
from artreg.serving.passwords import basic_credentials

from .tokens import Grant, TokenService

__all__ = [
    "REALM",
    "STATIC_TOKEN_HOLDER",
    "AuthConfigError",
    "Authenticator",
    "TooManyAttempts",
    "load_htpasswd",
]

REALM: Final = "artreg"
#: The holder name of tokens issued to clients of the static token (no user can be named so).
STATIC_TOKEN_HOLDER: Final = ":token"
#: The holder name of tokens issued to the in-process client of the service token.
SERVICE_TOKEN_HOLDER: Final = ":service"


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
        throttle: AuthThrottle | None = None,
        service_token: str | None = None,
    ) -> None:
        if not users and not token:
            raise AuthConfigError("no credentials configured")
        self.throttle = throttle or AuthThrottle()
        self._passwords = PasswordChecker(users or {}, throttle=self.throttle) if users else None
        self._user_count = len(users or {})
        self._token = token.encode() if token else None
        # A second static token, for a client in this process (``artreg serve``'s sidecar):
        # accepted like ``token`` but never advertised (challenges follow ``token`` alone).
        self._service_token = service_token.encode() if service_token else None
        self.token_ttl = token_ttl
        self.tokens = TokenService(access_ttl=token_ttl, clock=clock)

    def __repr__(self) -> str:
        token = "set" if self._token else "unset"
        return f"Authenticator(users={self._user_count}, token={token})"

    def close(self) -> None:
        """Stop the password-check threads."""
        if self._passwords is not None:
            self._passwords.close()

    @classmethod
    def from_files(
        cls,
        *,
        htpasswd: str | Path | None = None,
        token_file: str | Path | None = None,
        service_token: str | None = None,
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
        return cls(users=users, token=token, service_token=service_token)

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

    async def issue_token(
        self, authorization: str | None, address: str | None = None, *, offline: bool = False
    ) -> Grant | None:
        """A bearer token (and a refresh token when ``offline``) for a request carrying a
        valid user name and password as Basic auth; None otherwise. A bearer token, even a
        valid one, never buys another. Raises :class:`TooManyAttempts` as :meth:`verify`."""
        credentials = _basic(authorization)
        if credentials is None:
            return None
        holder = await self._holder(*credentials, address)
        return self.tokens.grant(holder, offline=offline) if holder is not None else None

    async def grant_password(
        self, username: str, password: str, *, offline: bool, address: str | None = None
    ) -> Grant | None:
        """The token endpoint's ``grant_type=password``: tokens for valid credentials."""
        holder = await self._holder(username.encode(), password.encode(), address)
        return self.tokens.grant(holder, offline=offline) if holder is not None else None

    def grant_refresh(self, refresh_token: str) -> Grant | None:
        """The token endpoint's ``grant_type=refresh_token``: a new access token."""
        holder = self.tokens.holder(refresh_token, "refresh")
        return self.tokens.grant(holder, offline=False) if holder is not None else None

    async def verify(self, authorization: str | None, address: str | None = None) -> bool:
        """True when the ``Authorization`` header carries valid credentials. A wrong one counts
        against ``address`` (and the user named); raises :class:`TooManyAttempts` when either
        has failed too often — checked before any comparison, so a throttled client learns
        nothing. No header at all is not a failure (clients start anonymous)."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            raw = value.strip()
            if self.tokens.holder(raw, "access") is not None:
                return True  # signed, unguessable: nothing to throttle
            self.throttle.charge(address)
            if self._static(raw.encode()) is not None:
                self.throttle.refund(address)
                return True
            return False
        credentials = _basic(authorization)
        if credentials is None:
            self.throttle.charge(address)
            return False
        return await self._holder(*credentials, address) is not None

    def check(self, authorization: str | None) -> bool:
        """:meth:`verify`, blocking and unthrottled: for tools and tests, never a server."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            raw = value.strip()
            if self._static(raw.encode()) is not None:
                return True
            return self.tokens.holder(raw, "access") is not None
        credentials = _basic(authorization)
        if credentials is None:
            return False
        user, password = credentials
        if self._static(password) is not None:
            return True
        name = user.decode("utf-8", "replace")
        return self._passwords is not None and self._passwords.check_sync(name, password)

    def _static(self, value: bytes) -> str | None:
        """The holder name when ``value`` is one of the static tokens, compared in constant
        time; None otherwise."""
        if self._token is not None and hmac.compare_digest(value, self._token):
            return STATIC_TOKEN_HOLDER
        if self._service_token is not None and hmac.compare_digest(value, self._service_token):
            return SERVICE_TOKEN_HOLDER
        return None

    async def _holder(self, user: bytes, password: bytes, address: str | None) -> str | None:
        """Who the user name and password identify: the user, the static token's holder, or
        None when they are not valid (throttled; see :class:`~artreg.serving.PasswordChecker`)."""
        name = user.decode("utf-8", "replace")
        if self._token is not None or self._service_token is not None:
            self.throttle.check(address)
            static = self._static(password)
            if static is not None:
                return static
        if self._passwords is not None:
            return name if await self._passwords.check(name, password, address) else None
        self.throttle.charge(address, name)
        return None


def _basic(authorization: str | None) -> tuple[bytes, bytes] | None:
    """User name and password of a ``Basic`` header; None for anything else."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return basic_credentials(value) if scheme.lower() == "basic" else None


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
