"""The registry proxy: one OCI distribution endpoint in front of every binding.

Clients (docker, podman, skopeo, crane, oras, ``artreg push``/``pull``) log in to the proxy with
the proxy's own users; the proxy routes each repository to the binding that owns it (by
``upstream_repository_prefix()``) and injects short-lived upstream credentials minted through
that binding's ``generate_credentials``. See the docs site's "Registry proxy" page.

- :func:`serve` / :func:`start_in_thread` run it; :func:`build_app` gives the ASGI app;
- :mod:`.routing` (prefix table), :mod:`.users` and :mod:`.auth` (who may do what),
  :mod:`.tokens` (the token endpoint's signed tokens), :mod:`.upstream` (credential cache),
  :mod:`.forward` (streaming), :mod:`.location` (Location rewrite, signed upload sessions).
"""

from __future__ import annotations

from .app import ProxyApp
from .config import ProxyConfig, ProxyConfigError, build_app
from .server import ThreadedProxy, serve, start_in_thread

#: Alias of :func:`start_in_thread`.
serve_in_thread = start_in_thread

__all__ = [
    "ProxyApp",
    "ProxyConfig",
    "ProxyConfigError",
    "ThreadedProxy",
    "build_app",
    "serve",
    "serve_in_thread",
    "start_in_thread",
]
