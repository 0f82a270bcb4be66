"""How to run the proxy, and building its application from bindings.

The proxy consumes the ArtifactRegistry interface like any other caller: it loads each binding
with ``load_artifact_registry`` and uses only the interface's methods.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from artreg.binding import (
    LocalBinding,
    bindings_from_env,
    parse_binding,
    read_binding,
)
from artreg.errors import ArtregError
from artreg.loader import load_artifact_registry
from artreg.registry import ArtifactRegistry
from artreg.serving.hosts import is_loopback
from artreg.serving.limits import Limits
from artreg.serving.listen import tls_files
from artreg.serving.passwords import PasswordChecker

from .app import ProxyApp
from .auth import SERVICE, ClientAuth
from .location import UploadSigner
from .routing import RoutingError, RoutingTable
from .tokens import TokenIssuer
from .users import UserDirectory, UsersFileError

__all__ = ["ProxyConfig", "ProxyConfigError", "build_app", "load_bindings"]

log = logging.getLogger("artreg.proxy")

MIN_KEY_BYTES: Final = 32


class ProxyConfigError(ValueError):
    """Settings the proxy refuses to start with (the message says which and why)."""


@dataclass(slots=True)
class ProxyConfig:
    """Everything ``artreg proxy serve`` takes."""

    host: str = "127.0.0.1"
    port: int = 5080
    bindings: Sequence[str] = ()
    users_file: Path | None = None
    signing_key_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    redirect_blobs: bool = False
    #: The URL clients reach the proxy at; default: derived from each request's headers.
    public_url: str | None = None
    #: Plain HTTP on a non-loopback address (TLS terminated by a load balancer in front).
    allow_plain_http: bool = False
    allowed_hosts: Sequence[str] = ()
    #: Reverse proxies whose X-Forwarded-For is believed (comma-separated, or a list).
    forwarded_allow_ips: str | Sequence[str] | None = None
    token_ttl: int = 300
    #: Header size, timeouts and connection caps (default: the shared listener defaults; behind
    #: a load balancer, raise ``max_connections_per_address``: every connection comes from it).
    limits: Limits | None = None
    env: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    def tls_files(self) -> tuple[str, str] | None:
        return tls_files(self.tls_cert, self.tls_key, ProxyConfigError)

    def check_exposure(self) -> None:
        """A non-loopback proxy needs users, and TLS (or ``allow_plain_http``)."""
        if is_loopback(self.host):
            return
        if self.users_file is None:
            raise ProxyConfigError(
                f"refusing to listen on {self.host} without --users: every client would get "
                "every binding's credentials; pass --users FILE or bind to 127.0.0.1"
            )
        if self.tls_cert is None and not self.allow_plain_http:
            raise ProxyConfigError(
                f"refusing to listen on {self.host} without TLS: passwords and tokens would "
                "cross the network in clear; pass --tls-cert/--tls-key, or --allow-plain-http "
                "when a load balancer in front terminates TLS"
            )

    def signing_key(self) -> bytes:
        """The key from ``signing_key_file``, or a random one for this process only."""
        if self.signing_key_file is None:
            log.info(
                "no --signing-key-file: tokens and upload sessions are valid on this process only"
            )
            return secrets.token_bytes(MIN_KEY_BYTES)
        try:
            key = self.signing_key_file.read_bytes().strip()
        except OSError as exc:
            raise ProxyConfigError(
                f"cannot read signing key file {self.signing_key_file}: {exc.strerror}"
            ) from None
        if len(key) < MIN_KEY_BYTES:
            raise ProxyConfigError(
                f"signing key file {self.signing_key_file} holds {len(key)} bytes; at least "
                f"{MIN_KEY_BYTES} are needed (e.g. `openssl rand -hex 32 > FILE`)"
            )
        return key


def _binding_names(config: ProxyConfig, env: Mapping[str, str]) -> list[str]:
    if config.bindings:
        return list(dict.fromkeys(config.bindings))
    return sorted(bindings_from_env(env))


def load_bindings(
    config: ProxyConfig, env: Mapping[str, str]
) -> tuple[list[tuple[str, ArtifactRegistry]], set[str]]:
    """The registries of the configured bindings (default: every ``ALIEN_*_BINDING`` in the
    environment that is an artifact registry), and the names of the ``local`` ones."""
    explicit = bool(config.bindings)
    loaded: list[tuple[str, ArtifactRegistry]] = []
    local: set[str] = set()
    for name in _binding_names(config, env):
        try:
            parsed = parse_binding(name, read_binding(name, env))
            registry = load_artifact_registry(name, env)
        except ArtregError as exc:
            if explicit:
                raise ProxyConfigError(f"binding {name!r}: {exc.message}") from None
            log.info("skipping binding %r: %s", name, exc.code)
            continue
        if isinstance(parsed, LocalBinding):
            local.add(name)
        loaded.append((name, registry))
    if not loaded:
        raise ProxyConfigError(
            "no bindings to serve: pass --binding NAME, or set ALIEN_{NAME}_BINDING"
        )
    return loaded, local


def build_app(config: ProxyConfig) -> ProxyApp:
    """The proxy application for ``config``; raises :class:`ProxyConfigError`."""
    config.check_exposure()
    env = os.environ if config.env is None else config.env
    registries, local = load_bindings(config, env)
    try:
        routes = RoutingTable.build(registries, local)
    except RoutingError as exc:
        raise ProxyConfigError(str(exc)) from None
    except ArtregError as exc:  # registry_endpoint() may need the cloud (ECR asks STS)
        raise ProxyConfigError(
            f"cannot find a binding's registry endpoint: {exc.message}"
        ) from None
    users = None
    if config.users_file is not None:
        try:
            users = UserDirectory.from_file(config.users_file)
        except UsersFileError as exc:
            raise ProxyConfigError(str(exc)) from None
    key = config.signing_key()
    hashes = users.password_hashes() if users is not None else {}
    auth = ClientAuth(
        users,
        TokenIssuer(key, service=SERVICE, ttl=config.token_ttl),
        PasswordChecker(hashes) if hashes else None,
    )
    for route in routes:
        log.info("route %r -> binding %r (%s)", route.prefix, route.binding, route.endpoint)
    return ProxyApp(
        routes,
        auth,
        UploadSigner(key),
        redirect_blobs=config.redirect_blobs,
        public_url=config.public_url,
    )
