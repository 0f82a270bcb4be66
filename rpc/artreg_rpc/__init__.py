"""artreg's JSON-RPC 2.0 sidecar over WebSocket.

    from artreg_rpc import RpcServer, ServerConfig, Dispatcher, RegistryPool
    server = RpcServer(Dispatcher(RegistryPool(os.environ)), ServerConfig(port=0))
    await server.start(); ...; await server.shutdown()

Run it with ``artreg rpc serve`` (or ``python -m artreg_rpc``), or with the embedded registry
with ``artreg serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from artreg._lazy import lazy_exports

if TYPE_CHECKING:
    from artreg_rpc.dispatch import Dispatcher, openrpc_document
    from artreg_rpc.registries import RegistryPool
    from artreg_rpc.server import DEFAULT_PORT, TOKEN_ENV, RpcServer, ServerConfig

__all__ = [
    "DEFAULT_PORT",
    "TOKEN_ENV",
    "Dispatcher",
    "RegistryPool",
    "RpcServer",
    "ServerConfig",
    "openrpc_document",
]

# Imported on first use (PEP 562): the command line wires in artreg_rpc.cli at start-up and must
# not pay for the server, jsonrpcserver and websockets until a sidecar runs.
_LAZY: dict[str, str] = {
    "Dispatcher": "artreg_rpc.dispatch",
    "openrpc_document": "artreg_rpc.dispatch",
    "RegistryPool": "artreg_rpc.registries",
    "DEFAULT_PORT": "artreg_rpc.server",
    "TOKEN_ENV": "artreg_rpc.server",
    "RpcServer": "artreg_rpc.server",
    "ServerConfig": "artreg_rpc.server",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
