"""Server settings and the rule that a registry reachable from other hosts needs credentials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from artreg.serving.hosts import is_loopback
from artreg.serving.listen import tls_files

from .auth import Authenticator

__all__ = ["RegistryConfig", "RegistryConfigError", "is_loopback"]


class RegistryConfigError(ValueError):
    """Settings the registry refuses to start with."""


@dataclass(slots=True)
class RegistryConfig:
    """How to run the embedded registry."""

    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path | None = None
    htpasswd: Path | None = None
    token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    def tls_files(self) -> tuple[str, str] | None:
        """The certificate chain and key files to serve TLS with, checked; None for plain HTTP."""
        return tls_files(self.tls_cert, self.tls_key, RegistryConfigError)

    def authenticator(
        self, *, service_token: str | None = None, option_prefix: str = ""
    ) -> Authenticator | None:
        """The configured credentials (plus ``service_token``, for a client in this process,
        when there are any); refuses a non-loopback bind without any. ``option_prefix`` is
        how the command spells its options (``registry-`` for ``artreg serve``)."""
        if self.htpasswd is None and self.token_file is None:
            if not is_loopback(self.host):
                raise RegistryConfigError(
                    f"refusing to listen on {self.host} without credentials: "
                    f"pass --{option_prefix}htpasswd FILE and/or --{option_prefix}token-file "
                    "FILE, or bind to 127.0.0.1"
                )
            return None
        try:
            return Authenticator.from_files(
                htpasswd=self.htpasswd, token_file=self.token_file, service_token=service_token
            )
        except ValueError as exc:
            raise RegistryConfigError(str(exc)) from None


_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``1h``, ``7d`` or ``1.5h``; :class:`ValueError` for
    anything else (or a negative value)."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:]) if value else None
    number = value[:-1] if unit is not None else value
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 15m, 1h or 7d") from None
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"invalid duration {text!r}: must be a finite, non-negative time")
    return seconds
