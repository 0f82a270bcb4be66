"""A Docker token server (the distribution "token" auth spec) for registries in tests.

It issues RS256 JWTs whose header carries ``x5c`` (the signing certificate, which is also the
registry's ``rootcertbundle``), with claims ``iss, sub, aud, iat, nbf, exp, jti, access``.
Users authenticate with HTTP Basic; each user has the actions it may be granted per repository
(``*`` for every repository). Anonymous requests get only what ``anonymous`` allows.

Use :func:`token_protected_registry`: it runs the token server and Debian's ``docker-registry``
configured to trust it, and yields both.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fnmatch
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.fakes.tls import LoopbackServer
from tests.registries import RunningRegistry, distribution_registry

__all__ = ["TokenServer", "User", "token_protected_registry"]

SERVICE = "artreg-test-registry"
ISSUER = "artreg-test-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class User:
    """A user: password and the actions allowed per repository pattern (fnmatch)."""

    password: str
    grants: dict[str, set[str]] = field(default_factory=lambda: {"*": {"pull", "push", "delete"}})


@dataclass
class TokenRequest:
    """What the token server was asked: who, which scopes, and what it answered."""

    account: str | None
    scopes: list[str]
    status: int


class TokenServer:
    """The token endpoint as a Starlette app (``/token``)."""

    def __init__(
        self,
        users: Mapping[str, User],
        *,
        anonymous: Mapping[str, set[str]] | None = None,
        ttl: int = 300,
    ) -> None:
        self.users = dict(users)
        self.anonymous = dict(anonymous or {})
        self.ttl = ttl
        self.requests: list[TokenRequest] = []
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.app = Starlette(routes=[Route("/token", self._token, methods=["GET"])])

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def _account(self, request: Request) -> tuple[str | None, bool]:
        header = request.headers.get("authorization", "")
        if not header:
            return None, True
        if not header.lower().startswith("basic "):
            return None, False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, False
        known = self.users.get(user)
        if known is None or known.password != password:
            return user, False
        return user, True

    def _allowed(self, account: str | None, repository: str) -> set[str]:
        grants = self.anonymous if account is None else self.users[account].grants
        allowed: set[str] = set()
        for pattern, actions in grants.items():
            if fnmatch.fnmatchcase(repository, pattern):
                allowed |= actions
        return allowed

    async def _token(self, request: Request) -> Response:
        scopes = request.query_params.getlist("scope")
        account, ok = self._account(request)
        if not ok:
            self.requests.append(TokenRequest(account, scopes, 401))
            return JSONResponse(
                {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}, 401
            )
        access = []
        for scope in scopes:
            for part in scope.split(" "):
                kind, _, rest = part.partition(":")
                name, _, actions = rest.rpartition(":")
                if kind == "repository" and name:
                    allowed = self._allowed(account, name)
                    granted = [a for a in actions.split(",") if a in allowed]
                    access.append({"type": "repository", "name": name, "actions": granted})
                elif kind == "registry" and name == "catalog" and account is not None:
                    access.append({"type": "registry", "name": "catalog", "actions": ["*"]})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": account or "",
            "aud": request.query_params.get("service", SERVICE),
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{_b64url(signature)}"
        self.requests.append(TokenRequest(account, scopes, 200))
        return JSONResponse(
            {
                "token": token,
                "access_token": token,
                "expires_in": self.ttl,
                "issued_at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
            }
        )


@contextlib.contextmanager
def token_protected_registry(
    tmp: Path,
    users: Mapping[str, User],
    *,
    anonymous: Mapping[str, set[str]] | None = None,
    ttl: int = 300,
) -> Iterator[tuple[RunningRegistry, TokenServer]]:
    """Debian's distribution registry requiring bearer tokens from a :class:`TokenServer`."""
    server = TokenServer(users, anonymous=anonymous, ttl=ttl)
    bundle = tmp / "token-root.pem"
    bundle.write_bytes(server.cert_pem())
    with LoopbackServer(server.app) as web:
        auth_yaml = (
            "auth:\n"
            "  token:\n"
            f"    realm: {web.base_url}/token\n"
            f"    service: {SERVICE}\n"
            f"    issuer: {ISSUER}\n"
            f"    rootcertbundle: {bundle}\n"
        )
        with distribution_registry(tmp, auth_yaml=auth_yaml) as registry:
            registry.extra["token_server"] = server
            yield registry, server
