"""The sidecar's methods: decode named params into the wire types, call the registry (or the
image operations), shape the result. Built from :data:`artreg.rpcspec.METHODS`; no registry
logic lives here."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec

from artreg import types as t
from artreg.imageops import ImageOps, TransferUpdate
from artreg.registry import ArtifactRegistry
from artreg.rpcspec import METHODS, RpcMethod
from artreg_rpc.errors import RpcError, invalid_params

__all__ = ["DISCOVER", "BadParams", "decode_params", "invoke", "method_table"]

#: The OpenRPC service-discovery method (it takes no params).
DISCOVER: Final = "rpc.discover"


class BadParams(Exception):
    """The params do not fit the method; ``error`` is the -32602 reply."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


def method_table() -> dict[str, RpcMethod]:
    """Every method (``artifactRegistry.*``, ``image.*``) by its JSON-RPC name."""
    return {m.rpc_name: m for m in METHODS}


def decode_params(spec: RpcMethod, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """The params struct for ``spec``; :class:`BadParams` naming the bad field otherwise."""
    if args:
        raise BadParams(
            invalid_params(spec.rpc_name, None, "params must be an object of named params")
        )
    try:
        return t.convert(dict(kwargs), spec.params)
    except msgspec.ValidationError as exc:
        raise BadParams(invalid_params(spec.rpc_name, exc)) from exc


def _call_args(params: Any) -> dict[str, Any]:
    fields: tuple[str, ...] = params.__struct_fields__
    return {f: getattr(params, f) for f in fields if f != "binding_name"}


async def invoke(
    spec: RpcMethod,
    registry: ArtifactRegistry | None,
    params: Any,
    *,
    images: ImageOps | None = None,
    progress: Callable[[TransferUpdate], None] | None = None,
) -> Any:
    """Call ``spec``'s method with the decoded params: on ``registry`` (the binding's), or on
    ``images`` (``registry`` first when the params name a binding); the result as a wire value."""
    args = _call_args(params)
    if spec.on == "images":
        assert images is not None
        method = getattr(images, spec.python_name)
        if spec.progress:
            args["progress"] = progress
        outcome = method(registry, **args) if spec.binds else method(**args)
    else:
        outcome = getattr(registry, spec.python_name)(**args)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    if spec.result is t.ManifestResponse and isinstance(outcome, tuple):
        manifest, content_type = outcome
        return t.ManifestResponse(manifest=bytes(manifest), content_type=content_type)
    return outcome
