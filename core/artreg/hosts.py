"""Registry hosts: the one loopback test, the one host normalisation, and which binding serves
a host. The credential helper, the command line's registry commands, the OCI client and every
listener use these, so a host means the same thing everywhere."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from artreg.registry import ArtifactRegistry

__all__ = [
    "BindingMatch",
    "HostBindings",
    "binding_order",
    "bindings_for_hosts",
    "host_of",
    "is_loopback",
    "normalize_host",
]

#: The names Docker Hub answers to; they normalise to ``index.docker.io`` (Docker's config key).
_DOCKER_HUB: Final = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def host_of(value: str) -> str:
    """The host name of ``value`` — a URL, ``user@host:port``, ``[v6]:port`` or a bare name —
    lowercased, without brackets, port or trailing dot."""
    text = _bracket_bare_ipv6(value.strip())
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        name = parts.hostname or ""
    except ValueError:
        return ""
    return name.rstrip(".").lower()


def _bracket_bare_ipv6(text: str) -> str:
    """``::1`` → ``[::1]`` (a bare IPv6 address would otherwise read as host and port)."""
    if text.count(":") > 1 and "[" not in text and "://" not in text and "@" not in text:
        try:
            return f"[{ipaddress.IPv6Address(text)}]"
        except ValueError:
            return text
    return text


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``*.localhost`` and loopback addresses (``127.0.0.0/8``,
    ``::1``), with or without a scheme, port, brackets or user info."""
    name = host_of(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_host(server: str) -> str:
    """A registry host as a key: ``https://Host:443/v2/`` → ``host``, ``host:5000`` stays,
    ``[::1]:5000`` stays, Docker Hub's names → ``index.docker.io``. Lowercase, without scheme,
    path, user info, or the default port of the URL's scheme."""
    text = _bracket_bare_ipv6(server.strip())
    if not text:
        return ""
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"//{text}")
    try:
        name, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        name, port = (parts.hostname or "").lower(), None
    if ":" in name:  # IPv6
        name = f"[{name}]"
    if name in _DOCKER_HUB:
        return "index.docker.io"
    default = _DEFAULT_PORTS.get(parts.scheme.lower()) if has_scheme else None
    return f"{name}:{port}" if port is not None and port != default else name


# -- which binding serves a host ------------------------------------------------------------------


def binding_order(env: Mapping[str, str], preferred: str | None = None) -> list[str]:
    """The bindings of ``env`` in the order they are tried: ``preferred`` first, then by name."""
    from artreg.binding_env import bindings_from_env

    names = sorted(bindings_from_env(env))
    if preferred and preferred in names:
        names.remove(preferred)
        names.insert(0, preferred)
    return names


@dataclass(frozen=True)
class BindingMatch:
    """The binding serving a host: its name, the loaded provider, and where its registry API is
    reached (the provider's ``registry_data_endpoint()``)."""

    name: str
    registry: ArtifactRegistry
    data_endpoint: str


@dataclass
class HostBindings:
    """The bindings found for a set of hosts (by :func:`normalize_host`), and the bindings that
    failed to load (``"name: CODE"``)."""

    matches: dict[str, BindingMatch] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def get(self, host: str) -> BindingMatch | None:
        return self.matches.get(normalize_host(host))


def bindings_for_hosts(
    hosts: Iterable[str],
    env: Mapping[str, str],
    *,
    preferred: str | None = None,
    strict: bool = False,
) -> HostBindings:
    """For each host, the first binding (in :func:`binding_order`) whose ``registry_endpoint()``
    (or ``registry_data_endpoint()``, when configured apart) has that host. Bindings load lazily and the search stops once every host is served.

    A binding that fails to load is skipped and noted in ``failures`` — unless it is
    ``preferred`` and ``strict``, when its error is raised (also when it is not configured)."""
    from artreg.errors import ArtregError
    from artreg.loader import load_artifact_registry

    wanted = {normalize_host(h) for h in hosts}
    found = HostBindings()
    order = binding_order(env, preferred)
    if strict and preferred and preferred not in order:
        order.insert(0, preferred)  # loading it raises BINDING_NOT_CONFIGURED
    for name in order:
        if wanted <= set(found.matches):
            break
        try:
            registry = load_artifact_registry(name, env)
            endpoint = registry.registry_endpoint()
        except ArtregError as exc:
            if strict and name == preferred:
                raise
            found.failures.append(f"{name}: {exc.code}")
            continue
        data_endpoint = registry.registry_data_endpoint()
        # a binding serves its public host and, when configured apart, its data endpoint's
        for key in {normalize_host(e) for e in (endpoint, data_endpoint) if e}:
            if key in wanted and key not in found.matches:
                found.matches[key] = BindingMatch(name, registry, data_endpoint)
    return found
