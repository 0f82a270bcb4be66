"""Short-lived, scope-limited bearer tokens (Docker's token spec), signed, held nowhere.

A token is a JWT (HS256) whose claims name the user and the granted ``access`` list
(``[{"type": "repository", "name", "actions"}]``). It is signed with a key derived from the
proxy's signing key, so any replica sharing that key accepts the tokens of another, and the
proxy keeps no table of issued tokens. Refresh tokens (``offline_token=true``) are JWTs too,
without access, accepted only by the token endpoint; removing a user from the users file
revokes them.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from artreg.serving.b64url import b64url_decode, b64url_encode

__all__ = ["Access", "Claims", "TokenIssuer", "parse_scopes"]

ISSUER: Final = "artreg-proxy"
_HEADER: Final = b'{"alg":"HS256","typ":"JWT"}'
_KNOWN_ACTIONS: Final = ("pull", "push", "delete")
#: Seconds a replica's clock may run ahead of the one that issued a token.
CLOCK_SKEW: Final = 60


@dataclass(frozen=True, slots=True)
class Access:
    """One entry of a token's access list: ``repository:NAME:pull,push``."""

    type: str
    name: str
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: Iterable[str]) -> list[Access]:
    """``scope`` parameters (each possibly several, space-separated) as access requests.
    Malformed entries are ignored, as the token spec lets a server do."""
    wanted: list[Access] = []
    for value in values:
        for item in value.split():
            kind, sep, rest = item.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not (sep and sep2 and kind and name):
                continue
            acts = tuple(a for a in actions.split(",") if a)
            if "*" in acts:
                acts = _KNOWN_ACTIONS
            wanted.append(Access(kind, name, acts))
    return wanted


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says."""

    subject: str
    expires: int
    access: tuple[Access, ...] = ()
    refresh: bool = False

    def allows(self, repository: str, action: str) -> bool:
        return any(
            a.type == "repository" and a.name == repository and action in a.actions
            for a in self.access
        )


class TokenIssuer:
    """Issues and verifies the proxy's tokens with a key derived from the signing key."""

    def __init__(
        self,
        signing_key: bytes,
        *,
        service: str,
        ttl: int = 300,
        refresh_ttl: int = 7 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = hmac.new(signing_key, b"artreg-proxy-bearer-token", hashlib.sha256).digest()
        self.service = service
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenIssuer(service={self.service!r}, ttl={self.ttl})"

    def issue(
        self, subject: str, access: Iterable[Access] = (), *, refresh: bool = False
    ) -> tuple[str, int]:
        """A signed token and its lifetime in seconds."""
        now = int(self._clock())
        ttl = self.refresh_ttl if refresh else self.ttl
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "aud": self.service,
            "iat": now,
            "nbf": now - 1,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
        }
        if refresh:
            claims["typ"] = "refresh"
        else:
            claims["access"] = [a.to_json() for a in access]
        payload = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{b64url_encode(_HEADER)}.{payload}"
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url_encode(signature)}", ttl

    def verify(self, token: str) -> Claims | None:
        """The claims of a token this proxy (or a replica with the same key) signed and that
        has not expired; None for anything else."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        try:
            signature = b64url_decode(parts[2])
            if not hmac.compare_digest(signature, expected):
                return None
            claims = json.loads(b64url_decode(parts[1]))
        except (binascii.Error, ValueError):
            return None
        return self._claims(claims)

    def _claims(self, claims: Any) -> Claims | None:
        if not isinstance(claims, dict) or claims.get("aud") != self.service:
            return None
        if claims.get("iss") != ISSUER:
            return None
        not_before = claims.get("nbf")
        if isinstance(not_before, int) and not_before > self._clock() + CLOCK_SKEW:
            return None
        subject, expires = claims.get("sub"), claims.get("exp")
        if not isinstance(subject, str) or not isinstance(expires, int):
            return None
        if expires <= self._clock():
            return None
        access = tuple(
            Access(str(a["type"]), str(a["name"]), tuple(str(x) for x in a["actions"]))
            for a in claims.get("access") or ()
            if isinstance(a, dict) and {"type", "name", "actions"} <= set(a)
        )
        return Claims(subject, expires, access, refresh=claims.get("typ") == "refresh")
