"""artreg's JSON-RPC 2.0 sidecar over WebSocket.

    from artreg_rpc import RpcServer, ServerConfig, Dispatcher, RegistryPool
    server = RpcServer(Dispatcher(RegistryPool(os.environ)), ServerConfig(port=0))
    await server.start(); ...; await server.shutdown()

Run it with ``artreg rpc serve`` (or ``python -m artreg_rpc``), or with the embedded registry
with ``artreg serve``.
"""

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
