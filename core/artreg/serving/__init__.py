"""What every artreg listener shares — the embedded registry, the proxy and the JSON-RPC sidecar.

- :mod:`.limits` — header size, header and keep-alive timeouts, connection caps, JSON depth;
- :mod:`.httpserver` — uvicorn with those limits enforced (:func:`uvicorn_config`);
- :mod:`.hosts` — the Host/Origin rules (:class:`HostRules`), written once;
- :mod:`.asgi` — the ASGI guard applying them and settling the client address;
- :mod:`.forwarded` — ``X-Forwarded-For`` only from ``--forwarded-allow-ips``;
- :mod:`.passwords` and :mod:`.ratelimit` — bcrypt off the event loop in a bounded pool,
  failed attempts throttled per address and per user (429 + ``Retry-After``);
- :mod:`.redact` and :mod:`.logs` — the one redaction rule and the escaping, redacting log
  handler every command installs;
- :mod:`.jsondepth` — refusing deep JSON before a recursive parser sees it.

The why, and what each listener checks, is on the docs site's Security page.
"""

from __future__ import annotations

from .asgi import ListenerGuard, oci_error_body
from .forwarded import ForwardedAllow, ForwardedConfigError
from .hosts import SAFE_METHODS, HostRules, host_name, is_loopback
from .jsondepth import JsonTooDeep, check_depth
from .limits import ByteBudget, ConnectionCap, Limits
from .logs import SafeFormatter, configure_logging, escape
from .passwords import PasswordChecker, bcrypt_cost
from .ratelimit import AuthThrottle, FailureLimiter, LogOnce, TooManyAttempts
from .redact import redact, register_secret

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
