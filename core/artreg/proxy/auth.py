"""Client authentication and authorisation for the proxy.

Who is calling: ``Basic`` (a user's password, or their bearer token as the password), ``Bearer``
(a token from the proxy's token endpoint, or a user's static token), or nobody. What they may do:
a request for ``pull`` or ``push`` on a repository is allowed when the caller's scopes in the
users file cover it — and, for a token from the endpoint, when the token grants it too. A caller
the users file allows but whose token lacks the scope gets 401 with a challenge naming it (the
client fetches a wider token); a caller the users file does not allow gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from artreg.serving.passwords import PasswordChecker, basic_credentials

from .tokens import Access, Claims, TokenIssuer
from .users import Action, User, UserDirectory

__all__ = ["ANONYMOUS", "Caller", "ClientAuth", "Decision"]

SERVICE: Final = "artreg-proxy"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated client: its user (None when the proxy runs without users) and, for a
    token from the token endpoint, what the token grants."""

    name: str
    user: User | None = None
    claims: Claims | None = None


#: The caller when the proxy has no users file (loopback only).
ANONYMOUS: Final = Caller("anonymous")


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed``; or refused with ``status`` 401 (log in / widen the token) or 403."""

    allowed: bool
    status: int = 200


class ClientAuth:
    """Authenticates requests against the users file and the proxy's own tokens."""

    def __init__(
        self, users: UserDirectory | None, tokens: TokenIssuer, passwords: PasswordChecker | None
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.passwords = passwords

    def __repr__(self) -> str:
        return f"ClientAuth(users={self.users!r})"

    @property
    def enabled(self) -> bool:
        return self.users is not None

    async def basic(self, header_value: str, address: str | None) -> Caller | None:
        """The caller for ``Basic base64(user:password)``; None when it is not valid. Raises
        ``TooManyAttempts`` when the address or user is throttled."""
        credentials = basic_credentials(header_value)
        if credentials is None or self.users is None:
            return None
        try:
            name, password = credentials[0].decode("utf-8"), credentials[1].decode("utf-8")
        except UnicodeDecodeError:
            return None
        user = self.users.check_token_password(name, password)
        if (
            user is None
            and self.passwords is not None
            and await self.passwords.check(name, password.encode(), address)
        ):
            user = self.users.get(name)
        return Caller(user.name, user) if user is not None else None

    def bearer(self, token: str) -> Caller | None:
        """The caller for ``Bearer TOKEN``: a token of the token endpoint (refresh tokens are
        not accepted here) or a user's static token."""
        if self.users is None:
            return None
        claims = self.tokens.verify(token)
        if claims is not None:
            user = self.users.get(claims.subject)
            if user is None or claims.refresh:
                return None
            return Caller(user.name, user, claims)
        user = self.users.check_token(token)
        return Caller(user.name, user) if user is not None else None

    async def authenticate(self, authorization: str | None, address: str | None) -> Caller | None:
        """The caller an ``Authorization`` header identifies, ANONYMOUS without users, or None."""
        if self.users is None:
            return ANONYMOUS
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return await self.basic(value.strip(), address)
        if scheme == "bearer":
            return self.bearer(value.strip())
        return None

    def decide(self, caller: Caller, action: Action, repository: str) -> Decision:
        """May ``caller`` ``action`` the repository?"""
        if caller.user is None:
            return Decision(self.users is None, 401)
        if not caller.user.may(action, repository):
            return Decision(False, 403)
        if caller.claims is not None and not caller.claims.allows(repository, action):
            return Decision(False, 401)
        return Decision(True)

    def grant(self, user: User, wanted: Iterable[Access]) -> list[Access]:
        """What of ``wanted`` the token endpoint grants ``user``: each action the users file
        allows (``delete`` goes with ``push``), ``registry:catalog:*`` to anyone with a scope."""
        granted: list[Access] = []
        for access in wanted:
            if access.type == "registry" and access.name == "catalog":
                if user.may_list():
                    granted.append(Access("registry", "catalog", ("*",)))
                continue
            if access.type != "repository":
                continue
            actions = tuple(
                a
                for a in dict.fromkeys(access.actions)
                if (a == "pull" and user.may("pull", access.name))
                or (a in ("push", "delete") and user.may("push", access.name))
            )
            if actions:
                granted.append(Access("repository", access.name, actions))
        return granted
