"""A request-checking stand-in in front of moto, for the rules where moto is looser than AWS.

Each rule follows AWS's own definition, not artreg's code:

- **STS AssumeRole** (botocore's ``sts`` model and the STS API reference): ``DurationSeconds``
  from 900 to 43200; above the role's ``MaxSessionDuration`` (3600 unless the test sets the role's
  limit) "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."; above
  3600 when the caller's credentials are themselves a role session, "The requested
  DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."; a
  ``RoleArn`` that is not an IAM role ARN is a ValidationError naming ``roleArn``. moto accepts
  any duration and any ARN.
- **IAM GetRole** answers the role limits the test set (moto knows no role it did not create).
- **ECR SetRepositoryPolicy** (the ``ecr`` model: ``policyText`` at most 10240 characters; IAM's
  rule that groups are not principals): a longer policy, or one naming an IAM group, is
  ``InvalidParameterException``. moto stores any text.
- **ECR replication** (the ECR guide's ``replication.md``): ``PutReplicationConfiguration``
  takes up to 10 rules with ``PREFIX_MATCH`` filters (moto refuses a second rule);
  ``DescribeRegistry`` returns them; a ``PutImage`` under a rule creates the replica repositories
  in the destination regions of the same account, without the source's policy (moto never creates
  replicas). Nothing appears before a push.

Use it through ``MotoServer(rules=AwsRules(...))``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MIN_DURATION = 900
MAX_DURATION = 43200
CHAINED_LIMIT = 3600
DEFAULT_ROLE_LIMIT = 3600
MAX_POLICY_TEXT = 10240
MAX_REPLICATION_RULES = 10
_ROLE_ARN = re.compile(r"arn:[a-z0-9-]+:iam::\d{12}:role/[\w+=,.@/-]+")
_GROUP_PRINCIPAL = re.compile(r"arn:[a-z0-9-]+:iam::\d{12}:group/")


@dataclass(frozen=True)
class Request:
    """One request as the rules saw it."""

    service: str
    operation: str
    params: dict[str, Any]
    access_key_id: str | None
    region: str | None


@dataclass
class AwsRules:
    """The rules above. ``role_limits`` maps a role ARN to its ``MaxSessionDuration``;
    ``is_role_session(access_key)`` tells whether a key belongs to an assumed-role session."""

    role_limits: dict[str, int] = field(default_factory=dict)
    endpoint: str = ""
    is_role_session: Callable[[str], bool] = lambda key: False
    refused: list[str] = field(default_factory=list)
    _replication: dict[tuple[str | None, str], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self._replication.clear()
            self.refused.clear()

    # -- the middleware ------------------------------------------------------------------------

    def wrap(self, app: WsgiApp, describe: Callable[[dict[str, Any], bytes], Any]) -> WsgiApp:
        def middleware(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            call = describe(environ, body)
            if call is None:
                return app(environ, start_response)
            request = Request(
                call.service, call.operation, call.params, call.access_key_id, call.region
            )
            answer = self._check(request)
            if answer is not None:
                status, headers, payload = answer
                start_response(status, headers)
                return [payload]
            if request.service == "ecr" and request.operation == "PutImage":
                result = list(app(environ, start_response))
                self._replicate(request)
                return result
            return app(environ, start_response)

        return middleware

    def _check(self, request: Request) -> tuple[str, list[tuple[str, str]], bytes] | None:
        handler = {
            ("sts", "AssumeRole"): self._assume_role,
            ("iam", "GetRole"): self._get_role,
            ("ecr", "SetRepositoryPolicy"): self._set_policy,
            ("ecr", "PutReplicationConfiguration"): self._put_replication,
            ("ecr", "DescribeRegistry"): self._describe_registry,
        }.get((request.service, request.operation))
        return handler(request) if handler else None

    # -- STS and IAM (query protocol, XML) -----------------------------------------------------

    def _query_error(self, status: int, code: str, message: str) -> tuple[str, Any, bytes]:
        self.refused.append(f"{code}: {message}")
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()
        reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}[status]
        return f"{status} {reason}", [("Content-Type", "text/xml")], body

    def _assume_role(self, request: Request) -> tuple[str, Any, bytes] | None:
        role = str(request.params.get("RoleArn", ""))
        if not _ROLE_ARN.fullmatch(role):
            return self._query_error(
                400,
                "ValidationError",
                f"1 validation error detected: Value '{role}' at 'roleArn' failed to satisfy "
                "constraint: Member must be an IAM role ARN",
            )
        text = request.params.get("DurationSeconds")
        if text is None:
            return None
        duration = int(text)
        if not MIN_DURATION <= duration <= MAX_DURATION:
            bound = (
                "greater than or equal to 900"
                if duration < MIN_DURATION
                else ("less than or equal to 43200")
            )
            return self._query_error(
                400,
                "ValidationError",
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed "
                f"to satisfy constraint: Member must have value {bound}",
            )
        if duration > CHAINED_LIMIT and self.is_role_session(request.access_key_id or ""):
            return self._query_error(
                400,
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining.",
            )
        if duration > self.role_limits.get(role, DEFAULT_ROLE_LIMIT):
            return self._query_error(
                400,
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            )
        return None

    def _get_role(self, request: Request) -> tuple[str, Any, bytes] | None:
        name = str(request.params.get("RoleName", ""))
        for arn, limit in self.role_limits.items():
            if arn.rsplit("/", 1)[-1] == name:
                account = arn.split(":")[4]
                body = (
                    '<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
                    f"<GetRoleResult><Role><Path>/</Path><RoleName>{escape(name)}</RoleName>"
                    f"<RoleId>AROA{account}EXAMPLE</RoleId><Arn>{escape(arn)}</Arn>"
                    "<CreateDate>2026-01-01T00:00:00Z</CreateDate>"
                    "<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>"
                    f"<MaxSessionDuration>{limit}</MaxSessionDuration></Role></GetRoleResult>"
                    "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000"
                    "</RequestId></ResponseMetadata></GetRoleResponse>"
                ).encode()
                return "200 OK", [("Content-Type", "text/xml")], body
        return self._query_error(404, "NoSuchEntity", f"The role with name {name} cannot be found.")

    # -- ECR (JSON protocol) -------------------------------------------------------------------

    def _json(self, status: int, payload: dict[str, Any]) -> tuple[str, Any, bytes]:
        reason = {200: "OK", 400: "Bad Request"}[status]
        headers = [("Content-Type", "application/x-amz-json-1.1")]
        if "__type" in payload:
            self.refused.append(f"{payload['__type']}: {payload['message']}")
            headers.append(("x-amzn-ErrorType", str(payload["__type"])))
        return f"{status} {reason}", headers, json.dumps(payload).encode()

    def _invalid(self, message: str) -> tuple[str, Any, bytes]:
        return self._json(400, {"__type": "InvalidParameterException", "message": message})

    def _set_policy(self, request: Request) -> tuple[str, Any, bytes] | None:
        text = str(request.params.get("policyText", ""))
        if len(text) > MAX_POLICY_TEXT:
            return self._invalid(
                "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                f"'Member must have length less than or equal to {MAX_POLICY_TEXT}'"
            )
        if _GROUP_PRINCIPAL.search(text):
            return self._invalid(
                "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                "'Invalid repository policy provided'"
            )
        return None

    def _put_replication(self, request: Request) -> tuple[str, Any, bytes]:
        config = request.params.get("replicationConfiguration") or {}
        rules = config.get("rules") or []
        if len(rules) > MAX_REPLICATION_RULES:
            return self._invalid("Invalid parameter: at most 10 replication rules")
        for rule in rules:
            for f in rule.get("repositoryFilters") or []:
                if f.get("filterType") != "PREFIX_MATCH":
                    return self._invalid("Invalid parameter: filterType must be PREFIX_MATCH")
            for destination in rule.get("destinations") or []:
                if destination.get("region") == request.region:
                    return self._invalid(
                        "Invalid parameter at 'replicationConfiguration' failed to satisfy "
                        "constraint: 'Replication destination cannot be the same as the source "
                        "registry'"
                    )
        with self._lock:
            self._replication[(request.access_key_id, request.region or "")] = config
        return self._json(200, {"replicationConfiguration": config})

    def _describe_registry(self, request: Request) -> tuple[str, Any, bytes]:
        with self._lock:
            config = self._config_for(request.region or "")
        return self._json(
            200, {"registryId": _ACCOUNT, "replicationConfiguration": config or {"rules": []}}
        )

    def _config_for(self, region: str) -> dict[str, Any] | None:
        # one account (moto's): the configuration of the region, whoever wrote it
        for (_, written_region), config in self._replication.items():
            if written_region == region:
                return config
        return None

    def _replicate(self, request: Request) -> None:
        """After a push, create the replicas the source region's rules ask for (same account)."""
        repository = str(request.params.get("repositoryName", ""))
        with self._lock:
            config = self._config_for(request.region or "") or {}
        for rule in config.get("rules") or []:
            filters = rule.get("repositoryFilters") or []
            if filters and not any(repository.startswith(f["filter"]) for f in filters):
                continue
            for destination in rule.get("destinations") or []:
                if destination.get("registryId", _ACCOUNT) != _ACCOUNT:
                    continue
                client = boto3.client(
                    "ecr",
                    endpoint_url=self.endpoint,
                    region_name=destination["region"],
                    aws_access_key_id="replication",
                    aws_secret_access_key="replication",
                    config=Config(retries={"max_attempts": 1}),
                )
                with contextlib.suppress(client.exceptions.RepositoryAlreadyExistsException):
                    client.create_repository(repositoryName=repository)


#: moto's account for any credentials.
_ACCOUNT = "123456789012"
