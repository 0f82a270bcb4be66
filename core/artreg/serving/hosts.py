"""Who may talk to a listener: the ``Host`` and ``Origin`` rules every artreg server applies.

A server bound to loopback is reachable by every web page the user opens: a page cannot read
answers from another origin, but it can *send* "simple" cross-site requests (a ``POST`` with
``Content-Type: text/plain``), and a DNS-rebinding page can make the browser believe the
server *is* its origin. Two checks close both doors:

- **Host.** A loopback listener answers only requests whose ``Host`` names a loopback address
  (``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``[::1]``) or a name the operator listed.
  A rebinding page always sends its own name, so it is refused. A public listener accepts any
  ``Host`` unless names are configured.
- **Origin.** A browser marks every cross-site request with ``Origin``; tools (docker, skopeo,
  crane, the TypeScript client under Node) send none. A state-changing request (and every
  WebSocket handshake) carrying an ``Origin`` that is not loopback or configured is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from artreg.hosts import is_loopback

__all__ = ["SAFE_METHODS", "HostRules", "host_name", "is_loopback"]

#: Methods that change nothing; every other method is state-changing.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(value: str) -> str | None:
    """The host part of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), lowercased
    and without a trailing dot; None when the value is not a plain host."""
    value = value.strip()
    if not value or any(c in value for c in "/\\@ \t?#"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
    else:
        name, _, port = value.partition(":")
        rest = f":{port}" if _ else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and len(rest) <= 6):
        return None
    return name.rstrip(".").lower() or None


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
        hostname = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname:
        return None
    return hostname


@dataclass(frozen=True)
class HostRules:
    """The Host/Origin rules of one listener.

    ``bind_host`` is the address it listens on; ``allowed_hosts`` are extra names (or
    addresses) clients may use in ``Host``; ``allowed_origins`` are extra browser origins
    (``scheme://host[:port]``, or ``*`` for any) allowed to change state or open a WebSocket.
    """

    bind_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    allowed_origins: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_listener(
        cls, bind_host: str, hosts: Iterable[str] = (), origins: Iterable[str] = ()
    ) -> HostRules:
        """Rules for a listener on ``bind_host`` with operator-configured names and origins."""
        names = frozenset(n for n in (host_name(h) for h in hosts if h.strip()) if n)
        return cls(
            bind_host=bind_host,
            allowed_hosts=names,
            allowed_origins=frozenset(o.strip().rstrip("/") for o in origins if o.strip()),
        )

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.bind_host)

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request with this ``Host`` header (None: absent) may be answered."""
        if host is None:
            return True  # HTTP/1.0 clients; a browser always sends Host
        name = host_name(host)
        if name is None:
            return False
        if name in self.allowed_hosts:
            return True
        if self.loopback_only:
            return is_loopback(name)
        return not self.allowed_hosts

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether a browser request from ``origin`` (None: not a browser) may change state."""
        if origin is None:
            return True
        normalised = origin.strip().rstrip("/")
        if "*" in self.allowed_origins or normalised in self.allowed_origins:
            return True
        host = _origin_host(normalised)
        return host is not None and is_loopback(host)

    def refusal(self, method: str, host: str | None, origin: str | None) -> str | None:
        """Why a request must be refused (403), or None to let it through."""
        if not self.host_allowed(host):
            return "Host not allowed on this listener"
        if method.upper() not in SAFE_METHODS and not self.origin_allowed(origin):
            return "cross-origin request refused"
        return None
