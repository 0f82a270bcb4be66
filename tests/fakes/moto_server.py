"""moto's server mode on loopback, with a server-side record of the AWS calls it received.

:class:`MotoServer` runs ``ThreadedMotoServer`` on ``127.0.0.1`` port 0. Every request that reaches
it is recorded as a :class:`Call`: the service and operation, the decoded parameters, the access
key that signed it (from the SigV4 ``Authorization`` header) and the region of its credential
scope. AssumeRole answers are read too, so each call can be traced to the role session whose
credentials signed it (:attr:`Call.session`). ``reset()`` wipes moto's state and the record.
"""

from __future__ import annotations

import io
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from tests.fakes.aws_rules import AwsRules
from werkzeug.serving import make_server

#: moto's account for the dummy credentials the tests use.
ACCOUNT_ID = "123456789012"

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class RoleSession:
    """A role session moto issued: who it is and the access key of its credentials."""

    role_arn: str
    session_name: str
    duration_seconds: int | None
    access_key_id: str


@dataclass(frozen=True)
class Call:
    """One AWS API request as the server received it."""

    service: str
    operation: str
    params: dict[str, Any]
    access_key_id: str | None
    region: str | None
    session: RoleSession | None = field(default=None)


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.sessions: dict[str, RoleSession] = {}

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.sessions.clear()

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            call = self._describe(environ, body)
            if call is None:
                return app(environ, start_response)
            if call.operation != "AssumeRole":
                with self.lock:
                    self.calls.append(call)
                return app(environ, start_response)
            # AssumeRole: read the answer to learn the new session's access key.
            status: list[str] = []

            def capture(st: str, headers: Any, exc_info: Any = None) -> Any:
                status.append(st)
                return start_response(st, headers, exc_info)

            chunks = list(app(environ, capture))
            answer = b"".join(chunks)
            session = None
            if status and status[0].startswith("200"):
                key = _xml_text(answer, "AccessKeyId")
                if key:
                    duration = call.params.get("DurationSeconds")
                    session = RoleSession(
                        role_arn=str(call.params.get("RoleArn")),
                        session_name=str(call.params.get("RoleSessionName")),
                        duration_seconds=int(duration) if duration is not None else None,
                        access_key_id=key,
                    )
            with self.lock:
                self.calls.append(call)
                if session is not None:
                    self.sessions[session.access_key_id] = session
            return [answer]

        return middleware

    @staticmethod
    def _describe(environ: dict[str, Any], body: bytes) -> Call | None:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = _CREDENTIAL.search(auth)
        key, region, service = (
            (match.group(1), match.group(2), match.group(3)) if match else (None, None, "")
        )
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            operation = target.rsplit(".", 1)[-1]
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
            return Call(service or "?", operation, params, key, region)
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) if body else {}
        form.update(parse_qsl(environ.get("QUERY_STRING", "")))
        action = form.pop("Action", None)
        if action is None:
            return None
        form.pop("Version", None)
        return Call(service or "?", action, form, key, region)


def _xml_text(document: bytes, tag: str) -> str | None:
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag:
            return element.text
    return None


class _RecordingMotoServer(ThreadedMotoServer):
    def __init__(self, recorder: _Recorder, rules: AwsRules | None) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self._recorder = recorder
        self._rules = rules

    def _server_entry(self) -> None:
        app: WsgiApp = DomainDispatcherApplication(create_backend_app)
        if self._rules is not None:
            app = self._rules.wrap(app, _Recorder._describe)
        app = self._recorder.wrap(app)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class MotoServer:
    """moto on ``127.0.0.1:<free port>``; use as a context manager or call start()/stop().
    With ``rules``, requests first pass the AWS rules moto does not check
    (:mod:`tests.fakes.aws_rules`)."""

    def __init__(self, rules: AwsRules | None = None) -> None:
        self._recorder = _Recorder()
        self.rules = rules
        self._server = _RecordingMotoServer(self._recorder, rules)
        self.url = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        if self.rules is not None:
            self.rules.endpoint = self.url
            recorder = self._recorder
            self.rules.is_role_session = lambda key: key in recorder.sessions
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource moto holds and every recorded call."""
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        self._recorder.clear()
        if self.rules is not None:
            self.rules.reset()

    def env(self, region: str = "us-east-1", **extra: str) -> dict[str, str]:
        """Environment for a provider talking to this server with dummy credentials."""
        env = {
            "AWS_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": self.url,
            "AWS_MAX_ATTEMPTS": "1",
        }
        env.update(extra)
        return env

    def calls(self, operation: str | None = None) -> list[Call]:
        """The recorded calls (optionally only one operation), each tied to its role session."""
        with self._recorder.lock:
            sessions = dict(self._recorder.sessions)
            calls = list(self._recorder.calls)
        result = [
            Call(
                c.service,
                c.operation,
                c.params,
                c.access_key_id,
                c.region,
                sessions.get(c.access_key_id or ""),
            )
            for c in calls
        ]
        return [c for c in result if operation is None or c.operation == operation]

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls()]

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls())


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    """One moto server per test module (a thread in this process)."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """The module's moto server, emptied for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture(scope="module")
def strict_moto_server() -> Iterator[MotoServer]:
    """A moto server behind the AWS rules stand-in, one per test module."""
    with MotoServer(rules=AwsRules()) as server:
        yield server


@pytest.fixture
def strict_moto(strict_moto_server: MotoServer) -> MotoServer:
    """The module's strict moto server, emptied for this test (role limits cleared too)."""
    strict_moto_server.reset()
    assert strict_moto_server.rules is not None
    strict_moto_server.rules.role_limits.clear()
    return strict_moto_server
