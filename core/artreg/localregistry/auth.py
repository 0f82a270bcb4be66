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
from collections import OrderedDict
from pathlib import Path
from typing import Final

import bcrypt

REALM: Final = "artreg"
_CACHE_SIZE: Final = 256


class AuthConfigError(ValueError):
    """An htpasswd or token file that cannot be used."""


class Authenticator:
    """Accepts requests carrying any of the configured credentials.

    ``users`` maps user names to bcrypt hashes (as in an ``htpasswd -B`` file); ``token`` is a
    static bearer token, also accepted as the password of Basic auth with any user name.
    """

    def __init__(self, *, users: dict[str, bytes] | None = None, token: str | None = None) -> None:
        if not users and not token:
            raise AuthConfigError("no credentials configured")
        self._users = dict(users or {})
        self._token = token.encode() if token else None
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

    def challenges(self) -> list[str]:
        """``WWW-Authenticate`` values to send with a 401."""
        out = [f'Basic realm="{REALM}"']
        if self._token is not None:
            out.append(f'Bearer realm="{REALM}",service="{REALM}"')
        return out

    def check(self, authorization: str | None) -> bool:
        """True when the ``Authorization`` header carries valid credentials."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return self._token is not None and hmac.compare_digest(value.encode(), self._token)
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
