"""A stub of ONE ECR API operation, for the calls moto cannot answer (``GetDownloadUrlForLayer``)
or cannot fail (throttling, access denied).

:class:`EcrOperationStub` listens on ``127.0.0.1:<free port>`` and checks each request the way
ECR's JSON protocol would: ``POST /``, ``Content-Type: application/x-amz-json-1.1``,
``X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.{Operation}``, a SigV4 ``Authorization``
header whose credential scope names the ``ecr`` service, and ``X-Amz-Date``. The stubbed operation
gets the configured answer (a JSON body, or an AWS error ``{"__type", "message"}`` with a status);
a malformed request gets the error ECR would send, any other operation ``UnknownOperationException``.
Point a provider at it with ``AWS_ENDPOINT_URL_ECR`` (STS can stay on moto).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/ecr/aws4_request, "
    r"SignedHeaders=(?P<headers>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class StubRequest:
    """A request the stub accepted."""

    operation: str
    body: dict[str, Any]
    access_key_id: str
    region: str


class EcrOperationStub:
    """Answers ``operation`` with ``answer`` (status 200) or with ``error=(status, type, message)``."""

    def __init__(
        self,
        operation: str,
        *,
        answer: dict[str, Any] | None = None,
        error: tuple[int, str, str] | None = None,
        required_fields: tuple[str, ...] = (),
    ) -> None:
        self.operation = operation
        self.answer = answer or {}
        self.error = error
        self.required_fields = required_fields
        self.requests: list[StubRequest] = []
        self.rejected: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def __enter__(self) -> EcrOperationStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(
                self, status: int, body: dict[str, Any], error_type: str | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(data)

            def _fail(self, status: int, error_type: str, message: str) -> None:
                stub.rejected.append(f"{error_type}: {message}")
                self._send(status, {"__type": error_type, "message": message}, error_type)

            def do_GET(self) -> None:
                self._fail(404, "UnknownOperationException", "only POST / is served")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != "/":
                    return self._fail(404, "UnknownOperationException", f"no route {self.path}")
                if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                    return self._fail(400, "SerializationException", "wrong content type")
                auth = _AUTH.match(self.headers.get("Authorization", ""))
                if auth is None or not self.headers.get("X-Amz-Date"):
                    return self._fail(
                        403, "MissingAuthenticationTokenException", "no SigV4 signature"
                    )
                signed = auth.group("headers").split(";")
                if "host" not in signed or "x-amz-target" not in signed:
                    return self._fail(403, "IncompleteSignatureException", "headers not signed")
                target = self.headers.get("X-Amz-Target", "")
                if not target.startswith(TARGET_PREFIX):
                    return self._fail(400, "UnknownOperationException", f"bad target {target!r}")
                operation = target[len(TARGET_PREFIX) :]
                if operation != stub.operation:
                    return self._fail(
                        400, "UnknownOperationException", f"{operation} is not stubbed"
                    )
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._fail(400, "SerializationException", "body is not JSON")
                missing = [f for f in stub.required_fields if not body.get(f)]
                if missing:
                    return self._fail(400, "InvalidParameterException", f"missing {missing}")
                stub.requests.append(
                    StubRequest(operation, body, auth.group("key"), auth.group("region"))
                )
                if stub.error is not None:
                    status, error_type, message = stub.error
                    return self._send(
                        status, {"__type": error_type, "message": message}, error_type
                    )
                return self._send(200, stub.answer)

        return Handler
