"""What every artreg listener shares — the embedded registry, the proxy and the JSON-RPC sidecar.

- :mod:`.limits` — header size, header and keep-alive timeouts, connection caps, JSON depth;
- :mod:`.httpserver` — uvicorn with those limits enforced (:func:`uvicorn_config`), and
  :mod:`.wsserver` — the same for the sidecar's ``websockets`` server (both imported on demand,
  so importing this package loads neither server);
- :mod:`.hosts` — the Host/Origin rules (:class:`HostRules`), written once;
- :mod:`.asgi` — the ASGI guard applying them and settling the client address;
- :mod:`.forwarded` — ``X-Forwarded-For`` only from ``--forwarded-allow-ips``;
- :mod:`.passwords` and :mod:`.ratelimit` — bcrypt off the event loop in a bounded pool,
  failed attempts throttled per address and per user (429 + ``Retry-After``);
- :mod:`.redact` and :mod:`.logs` — the one redaction rule and the escaping, redacting log
  handler every command installs;
- :mod:`.jsondepth` — refusing deep JSON before a recursive parser sees it;
- :mod:`.allocator` — glibc's thresholds for a process relaying blobs (imported directly).

The why, and what each listener checks, is on the docs site's Security page.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .asgi import ListenerGuard, oci_error_body
    from .forwarded import ForwardedAllow, ForwardedConfigError
    from .hosts import SAFE_METHODS, HostRules, host_name, is_loopback
    from .jsondepth import JsonTooDeep, check_depth
    from .limits import ByteBudget, ConnectionCap, Limits
    from .logs import SafeFormatter, configure_logging, escape
    from .passwords import PasswordChecker, bcrypt_cost
    from .ratelimit import AuthThrottle, FailureLimiter, LogOnce, TooManyAttempts
    from .redact import redact, register_secret

# Imported on first use (PEP 562): the command line imports the redaction rule at start-up and
# should not pay for asyncio, bcrypt and the ASGI guard with it.
_LAZY: dict[str, str] = {
    "ListenerGuard": ".asgi",
    "oci_error_body": ".asgi",
    "ForwardedAllow": ".forwarded",
    "ForwardedConfigError": ".forwarded",
    "SAFE_METHODS": ".hosts",
    "HostRules": ".hosts",
    "host_name": ".hosts",
    "is_loopback": ".hosts",
    "JsonTooDeep": ".jsondepth",
    "check_depth": ".jsondepth",
    "ByteBudget": ".limits",
    "ConnectionCap": ".limits",
    "Limits": ".limits",
    "SafeFormatter": ".logs",
    "configure_logging": ".logs",
    "escape": ".logs",
    "PasswordChecker": ".passwords",
    "bcrypt_cost": ".passwords",
    "AuthThrottle": ".ratelimit",
    "FailureLimiter": ".ratelimit",
    "LogOnce": ".ratelimit",
    "TooManyAttempts": ".ratelimit",
    "redact": ".redact",
    "register_secret": ".redact",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """Importing the submodule ``artreg.serving.redact`` binds it as this package's ``redact``;
    the public ``artreg.serving.redact`` stays the function, as with eager imports."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "SAFE_METHODS",
    "AuthThrottle",
    "ByteBudget",
    "ConnectionCap",
    "FailureLimiter",
    "ForwardedAllow",
    "ForwardedConfigError",
    "HostRules",
    "JsonTooDeep",
    "Limits",
    "ListenerGuard",
    "LogOnce",
    "PasswordChecker",
    "SafeFormatter",
    "TooManyAttempts",
    "bcrypt_cost",
    "check_depth",
    "configure_logging",
    "escape",
    "host_name",
    "is_loopback",
    "oci_error_body",
    "redact",
    "register_secret",
]
