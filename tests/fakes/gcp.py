"""A local stand-in for the Google endpoints the GAR provider talks to.

It follows the official definitions, not artreg's code:

* the OAuth 2.0 service-account flow ("Using OAuth 2.0 for Server to Server Applications";
  google-auth's ``google/oauth2/_client.py`` is the client side);
* the IAM Credentials API v1 discovery document (``iamcredentials.googleapis.com/$discovery/
  rest?version=v1``), method ``projects.serviceAccounts.generateAccessToken``, and
  google-auth's ``impersonated_credentials.py`` for the exact request it sends;
* the Artifact Registry API v1 discovery document, methods
  ``projects.locations.repositories.getIamPolicy`` / ``setIamPolicy``, with the IAM ``Policy``
  resource as the IAM v1 reference defines it (``version``, ``bindings[{role, members,
  condition}]``, ``etag``, ``auditConfigs``; member kinds ``user:``, ``serviceAccount:``,
  ``group:``, ``domain:``, ``principal:``, ``principalSet:``, ``allUsers``,
  ``allAuthenticatedUsers``, ``deleted:…?uid=…`` and the basic-role ``project…:`` members).

One ASGI app serves the three, each checked the way Google checks it:

* ``POST /token`` — the OAuth 2.0 token endpoint for service-account JWT grants: the form must
  carry ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an RS256 ``assertion``
  signed by a registered service-account key, with ``iss`` = its email and
  ``aud`` = ``https://oauth2.googleapis.com/token``. Answers ``{access_token, expires_in,
  token_type}``.
* ``POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`` — IAM Credentials:
  ``Authorization: Bearer <token from /token>``, JSON ``{scope: [...], lifetime: "Ns",
  delegates?}``. Answers ``{accessToken, expireTime: "YYYY-MM-DDTHH:MM:SSZ"}``.
* ``GET …/repositories/{r}:getIamPolicy`` and ``POST …:setIamPolicy`` — Artifact Registry IAM
  with etags: a stale etag is refused with 409 ``ABORTED``, as IAM does (never 412).

Anything the real service would refuse is answered with Google's error shape *and* recorded in
``violations``; a test fixture asserts that list is empty at teardown. Unknown routes are
violations too.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["FakeGcp", "LoopbackOnlyRequest", "ServiceAccountKey", "make_service_account_key"]

GOOGLE_TOKEN_AUD = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
MEMBER_PREFIXES = (
    "user:",
    "serviceAccount:",
    "group:",
    "domain:",
    "principal:",
    "principalSet:",
    "deleted:user:",
    "deleted:serviceAccount:",
    "deleted:group:",
    "projectOwner:",
    "projectEditor:",
    "projectViewer:",
)
#: Members that are a whole word, not a prefix.
MEMBER_WORDS = ("allUsers", "allAuthenticatedUsers")


@dataclass
class ServiceAccountKey:
    """A generated service-account key: ``info`` is the JSON Google hands out."""

    email: str
    project_id: str
    private_key: rsa.RSAPrivateKey
    key_id: str

    def info(self, token_uri: str) -> dict[str, str]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.email,
            "client_id": "1" + "0" * 20,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }


def make_service_account_key(email: str, project_id: str) -> ServiceAccountKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ServiceAccountKey(email, project_id, key, secrets.token_hex(20))


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


@dataclass
class _Token:
    email: str
    scopes: list[str]
    expires: float
    kind: str  # "source" or "impersonated"


@dataclass
class _Repository:
    policy: dict[str, Any] = field(default_factory=dict)
    etag: str = ""


class FakeGcp:
    """State and routes of the fake; ``app`` is the ASGI application to serve."""

    def __init__(self, *, project_id: str = "fake-project", location: str = "us-central1") -> None:
        self.project_id = project_id
        self.location = location
        self.base_url = ""  # set by whoever serves the app
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.token_requests: list[dict[str, Any]] = []  # decoded JWT claims of /token calls
        self.generate_requests: list[dict[str, Any]] = []  # {email, body, authorization}
        self.set_policy_bodies: list[dict[str, Any]] = []  # the policies sent, as received
        self.get_policy_queries: list[dict[str, str]] = []
        self._keys: dict[str, ServiceAccountKey] = {}
        self._target_accounts: set[str] = set()
        self._denied_targets: set[str] = set()
        self._tokens: dict[str, _Token] = {}
        self._repositories: dict[str, _Repository] = {}
        self._lock = threading.Lock()
        #: Before each of the next N setIamPolicy calls, someone else changes the policy.
        self.concurrent_changes = 0
        #: When set, generateAccessToken issues this token (e.g. one an htpasswd file knows).
        self.fixed_access_token: str | None = None
        #: When set, generateAccessToken answers 200 with an unusable expireTime (and a token).
        self.malformed_generate_reply = False
        #: When set, the token endpoint holds its reply until the test opens this gate (proof
        #: that the client's event loop kept running while a token was being fetched).
        self.gate: threading.Event | None = None
        self.gate_reached = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route(
                    "/v1/projects/-/serviceAccounts/{target:path}",
                    self._generate_access_token,
                    methods=["POST"],
                ),
                Route(
                    "/v1/projects/{project}/locations/{location}/repositories/{rest:path}",
                    self._repository_iam,
                    methods=["GET", "POST"],
                ),
                Route(
                    "/{path:path}",
                    self._unexpected,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                ),
            ]
        )

    # -- setup ----------------------------------------------------------------------------------

    def add_service_account_key(self, email: str) -> ServiceAccountKey:
        """A key for a caller (source) service account that /token accepts."""
        key = make_service_account_key(email, self.project_id)
        self._keys[email] = key
        return key

    def add_target_service_account(self, email: str, *, may_impersonate: bool = True) -> None:
        """A service account generateAccessToken can mint tokens for."""
        self._target_accounts.add(email)
        if not may_impersonate:
            self._denied_targets.add(email)

    def add_repository(self, name: str, policy: dict[str, Any] | None = None) -> None:
        repo = _Repository()
        self._store(repo, policy or {})
        self._repositories[name] = repo

    def issue_source_token(
        self, email: str = "injected@fake", scopes: list[str] | None = None
    ) -> str:
        """A bearer token the fake accepts, for tests that inject their own credentials."""
        token = "ya29.src-" + secrets.token_urlsafe(24)
        self._tokens[token] = _Token(
            email, scopes or [CLOUD_PLATFORM], time.time() + 3600, "source"
        )
        return token

    def policy(self, repository: str) -> dict[str, Any]:
        """The stored policy (without etag)."""
        return copy.deepcopy(self._repositories[repository].policy)

    def access_token_valid(self, token: str) -> bool:
        entry = self._tokens.get(token)
        return entry is not None and entry.kind == "impersonated" and entry.expires > time.time()

    # -- helpers --------------------------------------------------------------------------------

    def _violation(self, request: Request, message: str) -> None:
        self.violations.append(f"{request.method} {request.url.path}: {message}")

    @staticmethod
    def _store(repo: _Repository, policy: dict[str, Any]) -> None:
        repo.policy = copy.deepcopy(policy)
        digest = hashlib.sha256(
            json.dumps(policy, sort_keys=True).encode() + secrets.token_bytes(8)
        )
        repo.etag = base64.b64encode(digest.digest()[:8]).decode()

    def _bearer(self, request: Request, *, scopes: set[str]) -> _Token | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            self._violation(request, "missing bearer token")
            return None
        entry = self._tokens.get(header[len("Bearer ") :])
        if entry is None or entry.kind != "source" or entry.expires < time.time():
            self._violation(request, "unknown or expired bearer token")
            return None
        if not scopes & set(entry.scopes):
            self._violation(request, f"token lacks the scopes {sorted(scopes)}")
            return None
        return entry

    # -- routes ---------------------------------------------------------------------------------

    async def _unexpected(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        self._violation(request, "unexpected request")
        return _error(404, "NOT_FOUND", "The requested URL was not found on this server.")

    async def _token(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if self.gate is not None:
            self.gate_reached.set()
            if not await asyncio.to_thread(self.gate.wait, 10):
                self._violation(request, "the gate was never opened: the client blocked its loop")
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            self._violation(request, "token request is not form-encoded")
            return JSONResponse({"error": "invalid_request"}, 400)
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != JWT_BEARER or "assertion" not in form:
            self._violation(request, f"bad grant: {sorted(form)}")
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        claims = self._verify_assertion(request, form["assertion"])
        if claims is None:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400
            )
        self.token_requests.append(claims)
        token = "ya29.src-" + secrets.token_urlsafe(24)
        scopes = str(claims.get("scope", "")).split()
        self._tokens[token] = _Token(claims["iss"], scopes, time.time() + 3600, "source")
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _verify_assertion(self, request: Request, assertion: str) -> dict[str, Any] | None:
        try:
            head_b64, claims_b64, sig_b64 = assertion.split(".")
            header = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(claims_b64))
        except ValueError:
            self._violation(request, "assertion is not a JWT")
            return None
        if header.get("alg") != "RS256":
            self._violation(request, f"assertion alg not accepted: {header}")
            return None
        key = self._keys.get(str(claims.get("iss")))
        if key is None:  # an unknown account: Google's ordinary invalid_grant, not a bad request
            return None
        if header.get("kid") != key.key_id:
            self._violation(request, "assertion kid is not the key's private_key_id")
            return None
        try:
            key.private_key.public_key().verify(
                _b64url_decode(sig_b64),
                f"{head_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            self._violation(request, "assertion signature does not verify")
            return None
        now = time.time()
        problems = []
        if claims.get("aud") != GOOGLE_TOKEN_AUD:
            problems.append(f"aud {claims.get('aud')!r}")
        if not (now - 300 <= claims.get("iat", 0) <= now + 300):
            problems.append("iat not now")
        if not (0 < claims.get("exp", 0) - claims.get("iat", 0) <= 3600):
            problems.append("exp not within an hour of iat")
        if not str(claims.get("scope", "")).strip():
            problems.append("no scope")
        if problems:
            self._violation(request, "assertion claims: " + ", ".join(problems))
            return None
        return dict(claims)

    async def _generate_access_token(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        target = unquote(request.path_params["target"])
        if not target.endswith(":generateAccessToken"):
            self._violation(request, "unexpected IAM Credentials method")
            return _error(404, "NOT_FOUND", "Method not found.")
        email = target[: -len(":generateAccessToken")]
        if self._bearer(request, scopes={CLOUD_PLATFORM, IAM_SCOPE}) is None:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if not request.headers.get("content-type", "").startswith("application/json"):
            self._violation(request, "body is not JSON")
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            self._violation(request, "body is not valid JSON")
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        self.generate_requests.append(
            {"email": email, "body": body, "authorization": request.headers.get("authorization")}
        )
        unknown = set(body) - {"delegates", "scope", "lifetime"}
        scope = body.get("scope")
        lifetime = body.get("lifetime", "3600s")
        if unknown:
            self._violation(request, f"unknown fields {sorted(unknown)}")
            return _error(400, "INVALID_ARGUMENT", f"Unknown name {sorted(unknown)[0]!r}")
        if not isinstance(scope, list) or not scope or not all(isinstance(s, str) for s in scope):
            self._violation(request, "scope must be a non-empty list of strings")
            return _error(400, "INVALID_ARGUMENT", "Scope required.")
        if body.get("delegates") not in (None, []):
            self._violation(request, "unexpected delegates")
        if not (isinstance(lifetime, str) and lifetime.endswith("s") and lifetime[:-1].isdigit()):
            self._violation(request, f"lifetime {lifetime!r} is not a duration")
            return _error(400, "INVALID_ARGUMENT", "Invalid value at 'lifetime'.")
        seconds = int(lifetime[:-1])
        if not 1 <= seconds <= 3600:
            self._violation(request, f"lifetime {seconds}s is outside 1..3600")
            return _error(
                400,
                "INVALID_ARGUMENT",
                "The lifetime value must be less than or equal to 3600 seconds.",
            )
        if email not in self._target_accounts:
            return _error(404, "NOT_FOUND", f"Requested entity was not found. ({email})")
        if email in self._denied_targets:
            return _error(
                403,
                "PERMISSION_DENIED",
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
            )
        token = self.fixed_access_token or "ya29.imp-" + secrets.token_urlsafe(32)
        if self.malformed_generate_reply:
            return JSONResponse({"accessToken": token, "expireTime": "soon"})
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
        self._tokens[token] = _Token(email, list(scope), expires.timestamp(), "impersonated")
        return JSONResponse(
            {"accessToken": token, "expireTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        )

    async def _repository_iam(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        rest = request.path_params["rest"]
        name, _, verb = rest.partition(":")
        project = request.path_params["project"]
        location = request.path_params["location"]
        expected = {"getIamPolicy": "GET", "setIamPolicy": "POST"}
        if expected.get(verb) != request.method:
            self._violation(request, f"unexpected method {verb!r} with {request.method}")
            return _error(404, "NOT_FOUND", "Method not found.")
        if self._bearer(request, scopes={CLOUD_PLATFORM}) is None:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        repo = self._repositories.get(name)
        if project != self.project_id or location != self.location or repo is None:
            return _error(
                404,
                "NOT_FOUND",
                f"Requested entity was not found. projects/{project}/locations/{location}/repositories/{name}",
            )
        if verb == "getIamPolicy":
            query = dict(request.query_params)
            self.get_policy_queries.append(query)
            unknown = set(query) - {"options.requestedPolicyVersion"}
            if unknown:
                self._violation(request, f"unknown query parameters {sorted(unknown)}")
            requested = int(query.get("options.requestedPolicyVersion", "0") or 0)
            if requested not in (0, 1, 3):
                self._violation(request, f"requestedPolicyVersion {requested}")
                return _error(400, "INVALID_ARGUMENT", "Invalid requested policy version.")
            with self._lock:
                return JSONResponse(self._render_policy(repo, requested))
        return await self._set_policy(request, repo)

    @staticmethod
    def _render_policy(repo: _Repository, requested: int) -> dict[str, Any]:
        policy = copy.deepcopy(repo.policy)
        bindings = policy.get("bindings") or []
        if requested < 3 and any(b.get("condition") for b in bindings):
            # What Google does for a v1 read of a conditional policy: the condition is dropped
            # and the role renamed, so the result cannot be written back.
            for binding in bindings:
                if binding.pop("condition", None) is not None:
                    binding["role"] += "_withcond_" + secrets.token_hex(10)
            policy["version"] = 1
        out: dict[str, Any] = {}
        if policy.get("version"):
            out["version"] = policy["version"]
        if bindings:
            out["bindings"] = bindings
        for key, value in policy.items():
            if key not in ("version", "bindings", "etag"):
                out[key] = value
        out["etag"] = repo.etag
        return out

    async def _set_policy(self, request: Request, repo: _Repository) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            self._violation(request, "body is not JSON")
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(body, dict) or set(body) - {"policy", "updateMask"}:
            self._violation(request, "body must be {policy, updateMask?}")
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        policy = body.get("policy")
        if not isinstance(policy, dict):
            self._violation(request, "no policy object")
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        self.set_policy_bodies.append(copy.deepcopy(policy))
        problem = self._check_policy(policy)
        if problem:
            self._violation(request, problem)
            return _error(400, "INVALID_ARGUMENT", problem)
        with self._lock:
            if self.concurrent_changes > 0:
                self.concurrent_changes -= 1
                changed = copy.deepcopy(repo.policy)
                changed.setdefault("bindings", []).append(
                    {
                        "role": "roles/artifactregistry.writer",
                        "members": [f"user:other{len(self.set_policy_bodies)}@example.com"],
                    }
                )
                self._store(repo, changed)
            etag = policy.get("etag")
            if etag is None:
                self._violation(request, "setIamPolicy without an etag (blind overwrite)")
            elif etag != repo.etag:
                return _error(
                    409,
                    "ABORTED",
                    "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
                )
            stored = {k: v for k, v in policy.items() if k != "etag"}
            if not stored.get("bindings"):
                stored.pop("bindings", None)
            self._store(repo, stored)
            return JSONResponse(self._render_policy(repo, 3))

    @staticmethod
    def _check_policy(policy: dict[str, Any]) -> str | None:
        unknown = set(policy) - {"version", "bindings", "etag", "auditConfigs"}
        if unknown:
            return f"unknown policy fields {sorted(unknown)}"
        bindings = policy.get("bindings", [])
        if not isinstance(bindings, list):
            return "bindings must be a list"
        conditional = False
        for binding in bindings:
            if not isinstance(binding, dict) or set(binding) - {"role", "members", "condition"}:
                return f"bad binding {binding!r}"
            role = binding.get("role")
            if not isinstance(role, str) or not role.startswith("roles/") or "_withcond_" in role:
                return f"bad role {role!r}"
            members = binding.get("members")
            if not isinstance(members, list) or not members:
                return f"binding for {role} has no members"
            for member in members:
                if not isinstance(member, str) or not (
                    member in MEMBER_WORDS or member.startswith(MEMBER_PREFIXES)
                ):
                    return f"bad member {member!r}"
                if member.startswith("deleted:") and "?uid=" not in member:
                    return f"bad member {member!r}: a deleted principal carries its ?uid="
            if len(set(members)) != len(members):
                return f"duplicate members in {role}"
            conditional = conditional or bool(binding.get("condition"))
        if conditional and policy.get("version") != 3:
            return "conditional role bindings require policy version 3"
        return None


class LoopbackOnlyRequest:
    """A google-auth transport for tests that refuses any host but loopback, so a stray call
    to a Google host fails loudly instead of leaving the machine (or hanging)."""

    def __init__(self) -> None:
        import google.auth.transport.requests

        self._inner = google.auth.transport.requests.Request()
        self.urls: list[str] = []

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        from urllib.parse import urlsplit

        import google.auth.exceptions

        host = urlsplit(url).hostname
        self.urls.append(url)
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise google.auth.exceptions.TransportError(f"refusing non-loopback host {host!r}")
        return self._inner(
            url, method=method, body=body, headers=headers, timeout=timeout, **kwargs
        )
