"""The proxy's users: who may log in, and which repositories each may pull or push.

The users file is TOML (see the "Registry proxy" docs page)::

    [users.alice]
    password_hash = "$2b$12$..."          # bcrypt, as `htpasswd -nbB alice PASSWORD` prints it
    pull = ["*"]
    push = ["team-a", "artifacts/default"]

    [users.ci]
    token_sha256 = "9f86d0..."            # hex SHA-256 of a bearer token (tokens are random)
    push = ["team-b"]

A scope entry is ``*`` (every repository) or a repository prefix, matched the way routes are: the
prefix ``team-a`` covers ``team-a``, ``team-a/x`` and ``team-a-x`` but not ``team-ab``. ``push``
implies ``pull``. Passwords are bcrypt hashes, checked by the shared password checker (off the
event loop, rate-limited); tokens are compared through their SHA-256, so the file holds no
usable secret.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

__all__ = ["Action", "User", "UserDirectory", "UsersFileError", "scope_covers"]

Action = Literal["pull", "push"]

_SEPARATORS: Final = "/-_."
_BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")
_KEYS: Final = {"password_hash", "token_sha256", "pull", "push"}


class UsersFileError(ValueError):
    """A users file that cannot be used (the message names the file and the user)."""


def scope_covers(entry: str, repository: str) -> bool:
    """True when the scope entry (``*`` or a prefix) covers ``repository``."""
    if entry == "*" or repository == entry:
        return True
    if not entry or not repository.startswith(entry):
        return False
    return entry[-1] in _SEPARATORS or repository[len(entry)] in _SEPARATORS


@dataclass(frozen=True, slots=True)
class User:
    """One user of the proxy. ``repr`` shows no credential."""

    name: str
    pull: tuple[str, ...] = ()
    push: tuple[str, ...] = ()
    password_hash: bytes | None = None
    token_sha256: bytes | None = None

    def __repr__(self) -> str:
        return f"User(name={self.name!r}, pull={self.pull!r}, push={self.push!r})"

    def may(self, action: Action, repository: str) -> bool:
        """True when the user may ``action`` (``pull`` or ``push``) the repository."""
        entries = self.push if action == "push" else (*self.pull, *self.push)
        return any(scope_covers(entry, repository) for entry in entries)

    def may_list(self) -> bool:
        """True when the user may read the catalog (some pull or push scope at all)."""
        return bool(self.pull or self.push)


class UserDirectory:
    """Users by name, and by token digest; checks credentials."""

    def __init__(self, users: Iterable[User]) -> None:
        self._users = {user.name: user for user in users}
        self._tokens = {u.token_sha256: u for u in self._users.values() if u.token_sha256}

    def __repr__(self) -> str:
        return f"UserDirectory(users={len(self._users)})"

    def __len__(self) -> int:
        return len(self._users)

    def get(self, name: str) -> User | None:
        return self._users.get(name)

    @classmethod
    def from_file(cls, path: str | Path) -> UserDirectory:
        """Read a users file; :class:`UsersFileError` says what is wrong and where."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise UsersFileError(f"cannot read users file {path}: {reason}") from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsersFileError(f"users file {path} is not valid TOML: {exc}") from None
        return cls.from_mapping(doc, source=str(path))

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], source: str = "users") -> UserDirectory:
        table = doc.get("users")
        unknown = set(doc) - {"users"}
        if unknown:
            raise UsersFileError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
        if not isinstance(table, dict) or not table:
            raise UsersFileError(f"{source}: no [users.NAME] table")
        return cls(_user(name, entry, source) for name, entry in table.items())

    def password_hashes(self) -> dict[str, bytes]:
        """bcrypt hashes by user name (for the shared password checker)."""
        return {u.name: u.password_hash for u in self._users.values() if u.password_hash}

    def check_token_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is the bearer token of user ``name`` (Basic auth with
        the token as password, as ``docker login`` sends it); None otherwise. Fast."""
        user = self._users.get(name)
        if user is None or user.token_sha256 is None:
            return None
        digest = hashlib.sha256(password.encode()).digest()
        return user if hmac.compare_digest(digest, user.token_sha256) else None

    def check_token(self, token: str) -> User | None:
        """The user a static bearer token belongs to, or None. Fast (one SHA-256)."""
        digest = hashlib.sha256(token.encode()).digest()
        user = self._tokens.get(digest)
        if user is None or user.token_sha256 is None:
            return None
        return user if hmac.compare_digest(digest, user.token_sha256) else None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsersFileError(f"{where}: expected a list of strings")
    return tuple(value)


def _user(name: str, entry: Any, source: str) -> User:
    where = f"{source}: user {name!r}"
    if not isinstance(entry, dict):
        raise UsersFileError(f"{where}: expected a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise UsersFileError(f"{where}: unknown key(s) {sorted(unknown)}")
    password_hash = entry.get("password_hash")
    token = entry.get("token_sha256")
    if password_hash is None and token is None:
        raise UsersFileError(f"{where}: needs password_hash or token_sha256")
    hashed: bytes | None = None
    if password_hash is not None:
        if not isinstance(password_hash, str) or not password_hash.startswith(_BCRYPT_PREFIXES):
            raise UsersFileError(f"{where}: password_hash must be a bcrypt hash ($2b$...)")
        hashed = password_hash.encode()
    digest: bytes | None = None
    if token is not None:
        try:
            digest = bytes.fromhex(token) if isinstance(token, str) else b""
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise UsersFileError(f"{where}: token_sha256 must be 64 hex digits")
    return User(
        name=name,
        pull=_strings(entry.get("pull", []), f"{where}, pull"),
        push=_strings(entry.get("push", []), f"{where}, push"),
        password_hash=hashed,
        token_sha256=digest,
    )
