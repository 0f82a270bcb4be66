"""Server settings and the rule that a registry reachable from other hosts needs credentials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from artreg.serving.hosts import is_loopback

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
        if self.tls_cert is None and self.tls_key is None:
            return None
        if self.tls_cert is None or self.tls_key is None:
            raise RegistryConfigError("TLS needs both --tls-cert and --tls-key")
        for path in (self.tls_cert, self.tls_key):
            if not path.is_file():
                raise RegistryConfigError(f"TLS file {path} does not exist")
        return str(self.tls_cert), str(self.tls_key)

    def authenticator(self) -> Authenticator | None:
        """The configured credentials; refuses a non-loopback bind without any."""
        if self.htpasswd is None and self.token_file is None:
            if not is_loopback(self.host):
                raise RegistryConfigError(
                    f"refusing to listen on {self.host} without credentials: "
                    "pass --htpasswd FILE and/or --token-file FILE, or bind to 127.0.0.1"
                )
            return None
        try:
            return Authenticator.from_files(htpasswd=self.htpasswd, token_file=self.token_file)
        except ValueError as exc:
            raise RegistryConfigError(str(exc)) from None
