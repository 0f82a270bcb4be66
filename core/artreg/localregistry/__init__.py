"""artreg's embedded OCI registry: a distribution-spec v1.1 server over a crash-safe store.

    from artreg.localregistry import start_in_thread
    with start_in_thread("./data") as reg:      # reg.url == "http://127.0.0.1:PORT"
        ...

It depends on nothing else in artreg but :mod:`artreg.digest`, :mod:`artreg.errors` and the
listener layer every artreg server shares, :mod:`artreg.serving`.
"""

from __future__ import annotations

from .app import RegistryApp, create_app
from .auth import AuthConfigError, Authenticator, load_htpasswd
from .config import RegistryConfig, RegistryConfigError, is_loopback
from .fsstore import FilesystemStore, GarbageReport, StoreLocked
from .memstore import MemoryStore
from .server import ThreadedRegistry, serve, serve_in_thread, start_in_thread
from .store import Store

__all__ = [
    "AuthConfigError",
    "Authenticator",
    "FilesystemStore",
    "GarbageReport",
    "MemoryStore",
    "RegistryApp",
    "RegistryConfig",
    "RegistryConfigError",
    "Store",
    "StoreLocked",
    "ThreadedRegistry",
    "create_app",
    "is_loopback",
    "load_htpasswd",
    "serve",
    "serve_in_thread",
    "start_in_thread",
]
