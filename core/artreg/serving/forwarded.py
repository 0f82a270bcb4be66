"""The client's address behind a reverse proxy, believed only from proxies the operator named.

``X-Forwarded-For`` is a header anyone can send. It is read only when the connecting peer is
listed in ``--forwarded-allow-ips``; then the address is the right-most entry that is not itself
a trusted proxy, and only when it parses as an IP address (anything else is ignored, so the
header cannot put arbitrary text into a log line or a rate-limit key).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["ForwardedAllow", "ForwardedConfigError"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedConfigError(ValueError):
    """A ``--forwarded-allow-ips`` entry that is neither an address nor a network."""


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class ForwardedAllow:
    """The proxies whose ``X-Forwarded-For`` is believed (none by default; ``*``: any peer)."""

    networks: tuple[_Network, ...] = field(default_factory=tuple)
    any_peer: bool = False

    @classmethod
    def parse(cls, values: Iterable[str] | str | None) -> ForwardedAllow:
        """From ``--forwarded-allow-ips`` values (comma-separated addresses or CIDR networks)."""
        if values is None:
            return cls()
        items = (
            values.split(",")
            if isinstance(values, str)
            else [part for v in values for part in v.split(",")]
        )
        networks: list[_Network] = []
        any_peer = False
        for item in (i.strip() for i in items):
            if not item:
                continue
            if item == "*":
                any_peer = True
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ForwardedConfigError(
                    f"--forwarded-allow-ips: {item!r} is not an IP address or network"
                ) from None
        return cls(tuple(networks), any_peer)

    @property
    def enabled(self) -> bool:
        return self.any_peer or bool(self.networks)

    def trusts(self, peer: str) -> bool:
        if self.any_peer:
            return True
        address = _address(peer)
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The client address for a connection from ``peer`` carrying these
        ``X-Forwarded-For`` header values (in order)."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [h.strip() for value in forwarded_for for h in value.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return peer  # a malformed chain: believe nothing from it
            if not self.trusts(str(address)) or self.any_peer:
                return str(address)
        return peer
