"""The sidecar's methods: decode named params into the wire types, call the registry, shape the
result. Built from :data:`artreg.rpcspec.METHODS`; no registry logic lives here."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from artreg import types as t
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
    """Every ``artifactRegistry.*`` method by its JSON-RPC name."""
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


async def invoke(spec: RpcMethod, registry: ArtifactRegistry, params: Any) -> Any:
    """Call ``spec``'s method on ``registry`` with the decoded params; the result as a wire value."""
    outcome = getattr(registry, spec.python_name)(**_call_args(params))
    if inspect.isawaitable(outcome):
        outcome = await outcome
    if spec.result is t.ManifestResponse and isinstance(outcome, tuple):
        manifest, content_type = outcome
        return t.ManifestResponse(manifest=bytes(manifest), content_type=content_type)
    return outcome
