"""Fault injection around the embedded registry, for testing clients' retries and error paths.

Wrap the in-process registry and script how it misbehaves::

    from tests.fakes.faults import Fault, faulty_registry

    with faulty_registry(tmp_path) as (registry, faults):
        faults.status(503, nth=2)                       # the 2nd request gets a 503
        faults.rate_limit(retry_after=1, method="PUT")  # the 1st PUT gets 429 + Retry-After: 1
        faults.delay(0.5, path=r"/blobs/")              # the 1st blob request waits 0.5 s
        faults.drop(after_bytes=100, method="GET", path=r"/blobs/sha256:")  # cut a download
        faults.add(Fault(status=500), nth=1, times=None)    # every request from now on: 500
        ...
        assert faults.requests[-1] == ("GET", "/v2/ns/repo/blobs/sha256:...")

Rules:
- Each rule counts only the requests it matches (``method`` exactly, ``path`` by ``re.search``).
  It fires on its ``nth`` matching request (1-based) and the ``times - 1`` matching requests
  after it; ``times=None`` fires forever after. Rules are tried in the order they were added;
  the first one that fires decides. Requests no rule fires on reach the registry untouched.
- A fault with ``status`` answers that status with a distribution-spec error body (``code``
  defaults from the status, e.g. 429 → TOOMANYREQUESTS, 5xx → UNAVAILABLE) and ``Retry-After``
  when ``retry_after`` is set; the registry never sees the request. The request body is read and
  dropped first, so the connection stays usable.
- ``delay`` sleeps before the request is handled (or answered with ``status``).
- ``drop_after`` lets the registry answer but passes on only the first N body bytes of its
  response, then aborts the connection (the client sees the peer close mid-body, with fewer bytes
  than ``Content-Length`` announced). With ``drop_after=0`` the client gets the headers only.
- ``faults.requests`` logs ``(method, path)`` of every request, faulted or not;
  ``faults.fired`` the ones a rule fired on. ``faults.clear()`` removes rules and logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.registries import RunningRegistry

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN", 429: "TOOMANYREQUESTS"}


class DroppedConnection(Exception):
    """Raised inside the server to make uvicorn abort the connection mid-response."""


@dataclass(frozen=True)
class Fault:
    """What happens to a request a rule fires on (fields combine; see the module docstring)."""

    status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop_after: int | None = None


@dataclass
class _Rule:
    fault: Fault
    method: str | None
    path: re.Pattern[str] | None
    nth: int
    times: int | None
    seen: int = 0

    def fires(self, method: str, path: str) -> bool:
        if self.method is not None and method != self.method.upper():
            return False
        if self.path is not None and not self.path.search(path):
            return False
        self.seen += 1
        if self.seen < self.nth:
            return False
        return self.times is None or self.seen < self.nth + self.times


@dataclass
class Faults:
    """ASGI middleware that applies scripted faults to the wrapped app (thread-safe)."""

    app: ASGIApp
    requests: list[tuple[str, str]] = field(default_factory=list)
    fired: list[tuple[str, str, Fault]] = field(default_factory=list)
    _rules: list[_Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- scripting ---------------------------------------------------------------------------

    def add(
        self,
        fault: Fault,
        *,
        nth: int = 1,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Apply ``fault`` to the ``nth`` matching request and ``times - 1`` more."""
        if nth < 1:
            raise ValueError("nth is 1-based")
        rule = _Rule(fault, method, re.compile(path) if path else None, nth, times)
        with self._lock:
            self._rules.append(rule)
        return fault

    def status(self, status: int, *, code: str | None = None, **match: Any) -> Fault:
        """Answer ``status`` (with a spec error body) instead of the registry."""
        return self.add(Fault(status=status, code=code), **match)

    def rate_limit(self, retry_after: float = 1, **match: Any) -> Fault:
        """Answer 429 TOOMANYREQUESTS with ``Retry-After: retry_after``."""
        return self.add(Fault(status=429, retry_after=retry_after), **match)

    def delay(self, seconds: float, **match: Any) -> Fault:
        """Hold the request ``seconds`` before the registry handles it."""
        return self.add(Fault(delay=seconds), **match)

    def drop(self, after_bytes: int = 0, **match: Any) -> Fault:
        """Let the registry answer, cut the response body after ``after_bytes`` bytes."""
        return self.add(Fault(drop_after=after_bytes), **match)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.requests.clear()
            self.fired.clear()

    # -- ASGI --------------------------------------------------------------------------------

    def _match(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests.append((method, path))
            chosen: Fault | None = None
            for rule in self._rules:  # every rule counts the request, the first firing wins
                if rule.fires(method, path) and chosen is None:
                    chosen = rule.fault
            if chosen is not None:
                self.fired.append((method, path, chosen))
            return chosen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = self._match(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is not None:
            await _answer(fault, receive, send)
            return
        if fault.drop_after is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _truncating(send, fault.drop_after))


async def _answer(fault: Fault, receive: Receive, send: Send) -> None:
    while True:  # read the request body to its end so the reply is not a reset
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    assert fault.status is not None
    code = fault.code or _CODES.get(
        fault.status, "UNAVAILABLE" if fault.status >= 500 else "UNKNOWN"
    )
    body = json.dumps(
        {"errors": [{"code": code, "message": f"injected fault {fault.status}", "detail": {}}]}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"docker-distribution-api-version", b"registry/2.0"),
    ]
    if fault.retry_after is not None:
        value = fault.retry_after
        text = str(int(value)) if float(value).is_integer() else str(value)
        headers.append((b"retry-after", text.encode()))
    if fault.status == 401:
        headers.append((b"www-authenticate", b'Basic realm="artreg"'))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _truncating(send: Send, limit: int) -> Send:
    passed = 0

    async def wrapped(message: Message) -> None:
        nonlocal passed
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        room = limit - passed
        if len(body) < room or (len(body) == room and message.get("more_body")):
            passed += len(body)
            await send(message)
            return
        if room > 0:
            await send({"type": "http.response.body", "body": body[:room], "more_body": True})
            passed = limit
        raise DroppedConnection(f"connection dropped after {limit} body bytes (injected)")

    return wrapped


@contextlib.contextmanager
def faulty_registry(tmp: Path, *, memory: bool = False) -> Iterator[tuple[RunningRegistry, Faults]]:
    """The embedded registry in-process on a free loopback port, behind a :class:`Faults`."""
    from artreg.localregistry import start_in_thread

    holder: list[Faults] = []

    def wrap(app: Any) -> Faults:
        holder.append(Faults(app))
        return holder[0]

    data = tmp / "faulty-data"
    server = start_in_thread(None if memory else data, middleware=wrap)
    try:
        yield RunningRegistry("embedded", server.host, data, None, {"server": server}), holder[0]
    finally:
        server.stop()
