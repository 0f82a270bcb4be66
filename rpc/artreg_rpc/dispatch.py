"""JSON-RPC 2.0 dispatch: one WebSocket message in, one reply (or none) out.

The only module that touches jsonrpcserver. Parsing (msgspec, UTF-8 checked), batches (their
entries run concurrently, each validated on its own as the spec asks) and the error shapes are
handled here; jsonrpcserver's pipeline validates each request object, finds the method, calls
it (turning an escaped exception into an error result) and tells notifications apart. Its top-level
``dispatch`` is not used: it validates a batch as a whole (one bad entry fails them all) and
spends a task per message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

with warnings.catch_warnings():  # jsonrpcserver 5.0.9 uses importlib.resources' legacy API
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver import Error, Result, Success, async_dispatch_to_serializable

from artreg import schemagen
from artreg import types as t
from artreg.errors import ArtregError
from artreg.hosts import binding_order
from artreg.imageops import ImageOps
from artreg.oci.keychain import Keychain
from artreg.registry import ArtifactRegistry
from artreg.rpcspec import CANCEL_NOTIFICATION, RpcMethod
from artreg.serving.jsondepth import JsonTooDeep, check_depth
from artreg_rpc import errors
from artreg_rpc.calls import DEFAULT_CALL_TIMEOUT, REQUEST_ID, SESSION, run_call
from artreg_rpc.errors import RpcError
from artreg_rpc.methods import DISCOVER, BadParams, decode_params, invoke, method_table
from artreg_rpc.registries import RegistryPool

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_REPLY_SIZE",
    "Dispatcher",
    "openrpc_document",
    "request_problem",
]

log = logging.getLogger("artreg_rpc")

#: Requests larger than this (bytes) get an INVALID_REQUEST reply.
DEFAULT_MAX_MESSAGE_SIZE: Final = 1 << 20
#: Entries of one batch running at once (the rest wait their turn).
DEFAULT_BATCH_CONCURRENCY: Final = 64
#: Entries one batch may hold; a larger batch gets one INVALID_REQUEST reply.
DEFAULT_MAX_BATCH: Final = 100
#: Bytes one reply (a whole batch's included) may take; entries past it get an error instead.
DEFAULT_MAX_REPLY_SIZE: Final = 8 << 20
#: Nesting of a request; deeper ones get INVALID_REQUEST before any parsing.
DEFAULT_MAX_DEPTH: Final = 64

_MEMBERS: Final = frozenset({"jsonrpc", "method", "params", "id"})
_encoder: Final = msgspec.json.Encoder()


def openrpc_document() -> dict[str, Any]:
    """The OpenRPC document, generated in memory from the wire types and the method table."""
    doc: dict[str, Any] = json.loads(schemagen.generate()["openrpc.json"])
    return doc


def _is_id(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def request_problem(obj: Any) -> tuple[str | None, str] | None:
    """Why ``obj`` is not a JSON-RPC 2.0 request object, as ``(field, details)``; None if it is."""
    if not isinstance(obj, dict):
        return None, "a request must be a JSON object"
    if obj.get("jsonrpc") != "2.0":
        return "jsonrpc", 'jsonrpc must be "2.0"'
    if not isinstance(obj.get("method"), str):
        return "method", "method must be a string"
    if "params" in obj and not isinstance(obj["params"], (dict, list)):
        return "params", "params must be an object or an array"
    if "id" in obj and not _is_id(obj["id"]):
        return "id", "id must be a string, a number or null"
    extra = sorted(set(obj) - _MEMBERS)
    if extra:
        return extra[0], f"unknown member {extra[0]!r}"
    return None


def _validate(obj: Any) -> Any:
    problem = request_problem(obj)
    if problem is not None:
        raise ValueError(problem[1])
    return obj


def _reply_id(obj: Any) -> Any:
    """The id to answer with: the request's when it can be read, else null (as the spec says)."""
    if isinstance(obj, dict) and _is_id(obj.get("id")):
        return obj.get("id")
    return None


def _error_reply(error: RpcError, id_: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error, "id": id_}


Handler = Callable[..., Any]


class Dispatcher:
    """Turns WebSocket messages into replies, calling registries from ``registries``."""

    def __init__(
        self,
        registries: RegistryPool,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        batch_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        call_timeout: float | None = DEFAULT_CALL_TIMEOUT,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_reply_size: int = DEFAULT_MAX_REPLY_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.registries = registries
        self.max_batch = max_batch
        self.max_reply_size = max_reply_size
        self.max_depth = max_depth
        #: Seconds a call may run (a transfer: may go without progress); None: no limit.
        self.call_timeout = call_timeout
        self.images = ImageOps(self._bindings, keychain=Keychain(env=registries.env))
        self.max_message_size = max_message_size
        self.batch_concurrency = batch_concurrency
        #: When set (during shutdown), requests get this error instead of running.
        self.refusal: ArtregError | None = None
        self._discovery = openrpc_document()
        self._methods: dict[str, Handler] = {
            name: self._handler(spec) for name, spec in method_table().items()
        }
        self._methods[DISCOVER] = self._discover
        self._methods[CANCEL_NOTIFICATION] = self._cancel

    # -- messages -------------------------------------------------------------------------------

    async def handle(self, message: bytes | str) -> bytes | None:
        """The encoded reply to one message, or None when nothing is to be sent back. No
        reply exceeds ``max_reply_size``: an entry that would is answered with an error."""
        reply = await self.reply(message)
        if reply is None:
            return None
        if not isinstance(reply, list):
            return self._bounded(reply, self.max_reply_size)
        parts: list[bytes] = []
        room = self.max_reply_size - 2
        for entry in reply:
            part = self._bounded(entry, room)
            parts.append(part)
            room -= len(part) + 1
        return b"[" + b",".join(parts) + b"]"

    def _bounded(self, reply: dict[str, Any], room: int) -> bytes:
        """``reply`` encoded, or an error in its place when it does not fit in ``room``."""
        encoded = _encoder.encode(reply)
        if len(encoded) <= room:
            return encoded
        details = (
            f"the reply of {len(encoded)} bytes exceeds what is left of the limit of "
            f"{self.max_reply_size} bytes per reply: send fewer requests per batch"
        )
        return _encoder.encode(_error_reply(errors.invalid_request(details), reply.get("id")))

    async def reply(self, message: bytes | str) -> Any:
        """The reply to one message as a JSON-ready value (None: no reply)."""
        size = len(message.encode() if isinstance(message, str) else message)
        if size > self.max_message_size:
            details = f"message of {size} bytes exceeds the limit of {self.max_message_size} bytes"
            return _error_reply(errors.invalid_request(details), None)
        try:
            check_depth(message, self.max_depth)
            obj = msgspec.json.decode(message)
        except JsonTooDeep as exc:
            return _error_reply(errors.invalid_request(str(exc)), None)
        except RecursionError:  # a safety net: the depth check runs first
            return _error_reply(errors.invalid_request("JSON nested too deep"), None)
        except UnicodeDecodeError:
            return _error_reply(errors.parse_error("message is not valid UTF-8"), None)
        except msgspec.DecodeError as exc:
            return _error_reply(errors.parse_error(f"malformed JSON: {exc}"), None)
        if isinstance(obj, list):
            if not obj:
                return _error_reply(errors.invalid_request("empty batch"), None)
            if len(obj) > self.max_batch:
                details = f"batch of {len(obj)} requests exceeds the limit of {self.max_batch}"
                return _error_reply(errors.invalid_request(details), None)
            slots = asyncio.Semaphore(self.batch_concurrency)

            async def entry_reply(entry: Any) -> dict[str, Any] | None:
                async with slots:
                    return await self._one(entry)

            replies = await asyncio.gather(*(entry_reply(entry) for entry in obj))
            batch = [r for r in replies if r is not None]
            return batch or None
        return await self._one(obj)

    async def _one(self, obj: Any) -> dict[str, Any] | None:
        try:
            return await self._dispatch(obj)
        except Exception as exc:  # a failure inside jsonrpcserver itself: still an answer
            method = str(obj.get("method")) if isinstance(obj, dict) else "?"
            if isinstance(obj, dict) and "id" not in obj:
                errors.internal_error(method, exc)  # logged; a notification gets no reply
                return None
            return _error_reply(errors.internal_error(method, exc), _reply_id(obj))

    async def _dispatch(self, obj: Any) -> dict[str, Any] | None:
        if self.refusal is not None and request_problem(obj) is None:
            if "id" not in obj:
                return None
            return _error_reply(errors.artreg_error(obj["method"], self.refusal), obj["id"])
        # jsonrpcserver's public pipeline for one request object, already decoded (so a batch's
        # entries each run under our concurrency limit, and a message is parsed only once)
        REQUEST_ID.set(obj.get("id") if isinstance(obj, dict) else None)
        reply = await async_dispatch_to_serializable(
            "", self._methods, context=self, deserializer=lambda _: obj, validator=_validate
        )
        # (``obj`` is never a list here, so neither is the reply: the validator refuses a list)
        return self._finish(obj, reply) if isinstance(reply, dict) else None

    def _finish(self, obj: Any, reply: dict[str, Any]) -> dict[str, Any]:
        """A jsonrpcserver reply with every error in artreg's shape."""
        if "error" not in reply:
            return reply
        err = reply["error"]
        data = err.get("data")
        if isinstance(data, RpcError):
            return _error_reply(data, reply.get("id"))
        # jsonrpcserver's own errors: rebuild them with data in artreg's shape.
        id_ = _reply_id(obj)
        if err["code"] == errors.INVALID_REQUEST:
            field, details = request_problem(obj) or (None, "not a JSON-RPC 2.0 request")
            return _error_reply(errors.invalid_request(details, field), id_)
        if err["code"] == errors.METHOD_NOT_FOUND:
            return _error_reply(errors.method_not_found(str(obj.get("method"))), id_)
        if err["code"] == errors.INVALID_PARAMS:
            method = str(obj.get("method"))
            return _error_reply(errors.invalid_params(method, None, "params do not fit"), id_)
        # anything else (an exception inside jsonrpcserver): sanitised, logged in full.
        log.error("jsonrpcserver error %s: %s", err["code"], data)
        method = str(obj.get("method")) if isinstance(obj, dict) else "?"
        return _error_reply(errors.internal_error(method, RuntimeError(str(data))), id_)

    # -- methods --------------------------------------------------------------------------------

    async def _discover(self, ctx: Dispatcher, /, *args: Any, **kwargs: Any) -> Result:
        if args or kwargs:
            return _failure(errors.invalid_params(DISCOVER, None, "rpc.discover takes no params"))
        return Success(self._discovery)

    async def _cancel(self, ctx: Dispatcher, /, *args: Any, **kwargs: Any) -> Result:
        try:
            params = t.convert(dict(kwargs), t.RequestCancel)
        except msgspec.ValidationError as exc:
            return _failure(errors.invalid_params(CANCEL_NOTIFICATION, exc))
        session = SESSION.get()
        found = session is not None and session.cancel(params.id)
        log.debug("cancel request %r: %s", params.id, "cancelled" if found else "no such call")
        return Success(found)

    async def _bindings(self) -> dict[str, ArtifactRegistry]:
        """Every binding of the environment that loads (for image operations' credentials)."""
        loaded = {}
        for name in binding_order(self.registries.env):
            try:
                loaded[name] = await self.registries.get(name)
            except ArtregError as exc:
                log.warning("binding %r is not used for image credentials: %s", name, exc.code)
        return loaded

    def _handler(self, spec: RpcMethod) -> Handler:
        async def handler(ctx: Dispatcher, /, *args: Any, **kwargs: Any) -> Result:
            return await ctx.call(spec, args, kwargs)

        handler.__name__ = spec.name
        return handler

    async def call(
        self, spec: RpcMethod, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Result:
        """Run one method; every failure becomes an error result (never an uncaught raise)."""
        try:
            params = decode_params(spec, args, kwargs)
        except BadParams as exc:
            return _failure(exc.error)
        started = time.perf_counter()
        try:
            registry = await self.registries.get(params.binding_name) if spec.binds else None

            def call(progress: Any) -> Any:
                return invoke(spec, registry, params, images=self.images, progress=progress)

            result = await run_call(spec, call, self.call_timeout)
        except ArtregError as exc:
            _log_call(spec, params, started, exc.code)
            return _failure(errors.artreg_error(spec.rpc_name, exc))
        except Exception as exc:
            _log_call(spec, params, started, type(exc).__name__)
            return _failure(errors.internal_error(spec.rpc_name, exc))
        _log_call(spec, params, started, "ok")
        return Success(result)

    async def aclose(self) -> None:
        await self.images.aclose()
        await self.registries.aclose()


def _log_call(spec: RpcMethod, params: Any, started: float, outcome: str) -> None:
    if log.isEnabledFor(logging.DEBUG):
        elapsed = (time.perf_counter() - started) * 1000
        where = getattr(params, "binding_name", None) or getattr(params, "ref", None) or "-"
        log.debug("%s [%s] %s in %.1f ms", spec.rpc_name, where, outcome, elapsed)


def _failure(error: RpcError) -> Result:
    # the RpcError rides in ``data``; _finish unwraps it
    return Error(error.code, error.message, error)
