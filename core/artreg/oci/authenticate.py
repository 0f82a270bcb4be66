"""The authentication layer of the transport (ggcr's ``bearerTransport``), in the order of the
handshake:

1. A call to the registry's own origin carries what the credentials and the last challenge say:
   a static bearer token as is; Basic where the registry asked for Basic; for a Bearer challenge a
   token for the call's scopes, from the cache or fetched once per scope set at a time.
2. A 401 with a challenge not seen before (first contact, or the registry moved) is learned and the
   call sent again, with any ``scope`` the challenge names added to the token request.
3. A 401 to credentials that were presented, or a token endpoint refusing them, invalidates the
   provider's credentials once (they may have expired) and sends the call again.

At most three rounds per call; credentials never go to another origin (a redirect target, a
Location on another host) nor a token request over plain HTTP for an HTTPS registry.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from artreg.errors import AuthenticationError
from artreg.hosts import is_loopback
from artreg.oci.auth import (
    Anonymous,
    Auth,
    Basic,
    BearerToken,
    Challenge,
    CredentialCache,
    CredentialsProvider,
    IdentityToken,
    TokenCache,
    parse_challenges,
)
from artreg.oci.call import Call, Layer
from artreg.oci.errors import RegistryStatusError
from artreg.types import ArtifactRegistryPermissions

__all__ = ["AuthLayer"]

#: Challenge rounds (learn, refresh) one call may go through.
_MAX_ROUNDS = 3


@dataclass
class _Rounds:
    """What one call has tried so far."""

    count: int = 0
    learned: bool = False
    refreshed: bool = False
    hint_scope: str | None = None


class AuthLayer:
    """Authenticates calls to one registry, sending them through ``inner``; token requests go
    through ``tokens`` (a layer without authentication, with retries)."""

    def __init__(
        self,
        inner: Layer,
        tokens: Layer,
        *,
        base_url: str,
        credentials: Auth | CredentialsProvider | None,
    ) -> None:
        self.inner = inner
        self._token_sender = tokens
        self._base_url = base_url
        self.registry = urlsplit(base_url).netloc
        self._static: Auth | None = None
        self._creds: CredentialCache | None = None
        if credentials is None or isinstance(
            credentials, (Anonymous, Basic, BearerToken, IdentityToken)
        ):
            self._static = credentials or Anonymous()
        else:
            self._creds = CredentialCache(credentials)
        self._tokens = TokenCache()
        self._challenge: Challenge | None = None
        self._token_locks: dict[str, asyncio.Lock] = {}

    def forget_tokens(self) -> None:
        """Drop every cached bearer token (the next request fetches fresh ones)."""
        self._tokens = TokenCache()

    async def send(self, call: Call) -> httpx.Response:
        rounds = _Rounds()
        while True:
            authorization = await self._authorize(call, rounds) if call.same_origin else None
            response = await self.inner.send(call.authorized(authorization))
            if response.status_code != 401 or not (call.replayable and call.same_origin):
                return response
            if rounds.count >= _MAX_ROUNDS or not self._answer(
                call, response, authorization, rounds
            ):
                return response
            await response.aclose()

    # -- the challenge ---------------------------------------------------------------------------

    def _answer(
        self, call: Call, response: httpx.Response, authorization: str | None, rounds: _Rounds
    ) -> bool:
        """Learn from a 401; True when the call should be sent again."""
        challenges = parse_challenges(response.headers.get("www-authenticate", ""))
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) or next(
            (c for c in challenges if c.scheme == "basic"), None
        )
        self._tokens.invalidate(self.registry, " ".join(call.scopes))
        if (
            chosen is not None
            and not rounds.learned
            and (authorization is None or not _same(chosen, self._challenge))
        ):
            rounds.learned = True
            # First contact, or the registry moved: now we know how to authenticate.
            self._challenge = Challenge(
                chosen.scheme, {k: v for k, v in chosen.params.items() if k != "scope"}
            )
        elif authorization is not None and not rounds.refreshed:
            # Credentials were presented and refused: a token or provider credentials may have
            # expired; get fresh ones once.
            self._invalidate_credentials(call)
            rounds.refreshed = True
        else:
            return False
        # A scope the registry asked for in this challenge is requested too.
        rounds.hint_scope = chosen.params.get("scope") if chosen is not None else None
        rounds.count += 1
        return True

    # -- credentials -----------------------------------------------------------------------------

    async def _credentials(self, call: Call) -> Auth:
        if self._creds is None:
            assert self._static is not None
            return self._static
        return await self._creds.get(call.repository, _permissions(call.push))

    def _invalidate_credentials(self, call: Call) -> bool:
        if self._creds is None:
            return False
        self._creds.invalidate(call.repository, _permissions(call.push))
        return True

    async def _authorize(self, call: Call, rounds: _Rounds) -> str | None:
        try:
            return await self._authorization(call, rounds.hint_scope)
        except AuthenticationError:
            # The token endpoint refused provider credentials: they may have expired.
            if rounds.refreshed or not self._invalidate_credentials(call):
                raise
            rounds.refreshed = True
            return await self._authorization(call, rounds.hint_scope)

    async def _authorization(self, call: Call, hint_scope: str | None) -> str | None:
        auth = await self._credentials(call)
        if isinstance(auth, BearerToken):
            return auth.header()
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return auth.header() if isinstance(auth, Basic) else None
        if challenge.scheme != "bearer" or not challenge.realm:
            return None
        key = " ".join(call.scopes)
        token = self._tokens.get(self.registry, key)
        if token is None:
            async with self._token_locks.setdefault(key, asyncio.Lock()):
                token = self._tokens.get(self.registry, key)
                if token is None:
                    token = await self._fetch_token(challenge, call, auth, hint_scope)
        return f"Bearer {token}"

    # -- the token service -----------------------------------------------------------------------

    async def _fetch_token(
        self, challenge: Challenge, call: Call, auth: Auth, extra: str | None
    ) -> str:
        realm = self._checked_realm(challenge.realm, call.operation)
        wanted = list(call.scopes)
        if extra:
            wanted += [s for s in extra.split(" ") if s and s not in wanted]
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params += [("scope", s) for s in wanted]
        response = await self._token_sender.send(
            _token_call(realm, params, call, auth, self.registry)
        )
        if response.status_code != 200:
            raise AuthenticationError(
                operation_context=call.operation,
                details=f"token endpoint answered {response.status_code}",
            ) from RegistryStatusError(
                response.status_code,
                (),
                response.request.method,
                urlsplit(realm).path,
                "token request refused",
            )
        token, expires_in = _token_of(response.content)
        if token is None:
            raise AuthenticationError(
                operation_context=call.operation, details="token endpoint returned no token"
            )
        self._tokens.put(self.registry, " ".join(call.scopes), token, expires_in)
        return token

    def _checked_realm(self, realm: str, operation: str) -> str:
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # A registry that only accepts a static bearer token (no token service) names a
            # plain realm; there is nothing to fetch, the caller must bring the token.
            raise AuthenticationError(
                operation_context=operation,
                details=f"the registry wants a bearer token and names no token endpoint (realm {realm!r})",
                hint="configure a bearer token for this registry",
            )
        if (
            parts.scheme == "http"
            and not is_loopback(parts.netloc)
            and not self._base_url.startswith("http://")
        ):
            raise AuthenticationError(
                operation_context=operation,
                details="refusing a plain-HTTP token realm for an HTTPS registry",
            )
        return realm


def _token_call(
    realm: str,
    params: list[tuple[str, str | int | float | bool | None]],
    call: Call,
    auth: Auth,
    registry: str,
) -> Call:
    """The token request: ``GET realm?service&scope`` (anonymous or Basic); with an identity
    token, Docker's OAuth form ``POST realm`` with ``grant_type=refresh_token`` (distribution's
    ``docs/spec/auth/oauth.md``; ACR's ``/oauth2/token``), scopes space-separated."""
    operation = f"{call.operation} (token request)"
    if not isinstance(auth, IdentityToken):
        return Call(
            "GET",
            httpx.URL(realm, params=httpx.QueryParams(params)),
            operation,
            "token service",
            registry,
            headers={"Authorization": auth.header()} if isinstance(auth, Basic) else {},
            retryable=True,
        )
    form: list[tuple[str, str | int | float | bool | None]] = [
        ("grant_type", "refresh_token"),
        ("refresh_token", auth.token),
        ("client_id", "artreg"),
    ]
    form += [(k, str(v)) for k, v in params if k == "service"]
    scopes = " ".join(str(v) for k, v in params if k == "scope")
    if scopes:
        form.append(("scope", scopes))
    return Call(
        "POST",
        httpx.URL(realm),
        operation,
        "token service",
        registry,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=str(httpx.QueryParams(form)).encode(),
        retryable=True,
    )


def _permissions(push: bool) -> ArtifactRegistryPermissions:
    return ArtifactRegistryPermissions.PUSH_PULL if push else ArtifactRegistryPermissions.PULL


def _token_of(body: bytes) -> tuple[str | None, float]:
    """The token and its lifetime in seconds from a token service's JSON answer."""
    try:
        data = json.loads(body)
        token = data.get("token") or data.get("access_token")
        expires_in = float(data.get("expires_in") or 60)
    except (ValueError, AttributeError, TypeError):
        return None, 60.0
    return (token if isinstance(token, str) and token else None), expires_in


def _same(a: Challenge, b: Challenge | None) -> bool:
    return b is not None and (a.scheme, a.realm, a.params.get("service")) == (
        b.scheme,
        b.realm,
        b.params.get("service"),
    )
