"""``python -m artreg.localregistry --host H --port P --data-dir DIR`` (same as
``artreg registry serve``), without loading the rest of the command line."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time

from artreg.serving import configure_logging
from artreg.serving.logs import QUIET_LOGGERS

from .config import RegistryConfigError, parse_duration
from .server import serve

#: Where a supervising process (``artreg serve``) hands its own client's token to the registry
#: (not on the command line, which other users can read).
SERVICE_TOKEN_ENV = "ARTREG_REGISTRY_SERVICE_TOKEN"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artreg.localregistry")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--data-dir", default=".artreg-data")
    parser.add_argument("--htpasswd", default=None)
    parser.add_argument("--token-file", default=None)
    parser.add_argument("--tls-cert", default=None)
    parser.add_argument("--tls-key", default=None)
    parser.add_argument("--allowed-host", action="append", default=[])
    parser.add_argument("--allowed-origin", action="append", default=[])
    parser.add_argument("--forwarded-allow-ips", default=None)
    parser.add_argument("--gc-interval", type=_duration, default=3600.0)
    parser.add_argument("--gc-grace", type=_duration, default=3600.0)
    parser.add_argument("--upload-max-age", type=_duration, default=7 * 24 * 3600.0)
    parser.add_argument("--metrics", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--token-realm", default=None)
    parser.add_argument("--log-level", default="info", help="debug, info, warning or error")
    parser.add_argument(
        "--fd",
        type=int,
        default=None,
        help="serve on this inherited listening socket (for a supervising process): print "
        "'ready URL' on stdout once serving, stop when the supervisor exits; the supervisor's "
        f"own token, if any, comes in ${SERVICE_TOKEN_ENV}",
    )
    args = parser.parse_args(argv)
    level = getattr(logging, str(args.log_level).upper(), logging.INFO)
    # uvicorn's start-up and shutdown chatter (INFO under "uvicorn.error") says nothing the
    # "listening on" line does not. Under a supervisor (--fd, `artreg serve`) the lines share its
    # stderr, so they take its format, level and logger name included.
    quiet = (*QUIET_LOGGERS, "uvicorn.error")
    if args.fd is not None:
        configure_logging(level, quiet=quiet)
    else:
        configure_logging(level, fmt="%(asctime)s %(message)s", quiet=quiet)
    sock = socket.socket(fileno=args.fd) if args.fd is not None else None
    service_token = os.environ.pop(SERVICE_TOKEN_ENV, None) if sock is not None else None
    try:
        serve(
            args.host,
            args.port,
            args.data_dir,
            htpasswd=args.htpasswd,
            token_file=args.token_file,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            allowed_hosts=args.allowed_host,
            allowed_origins=args.allowed_origin,
            forwarded_allow_ips=args.forwarded_allow_ips,
            gc_interval=args.gc_interval,
            gc_grace=args.gc_grace,
            upload_max_age=args.upload_max_age,
            metrics=args.metrics,
            realm=args.token_realm,
            sock=sock,
            on_ready=_say_ready if sock is not None else None,
            stop_when=_parent_gone if sock is not None else None,
            service_token=service_token,
        )
    except RegistryConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parent_gone() -> None:
    """Return once the process that started this one has exited (this one is then re-parented):
    a supervised registry never outlives its supervisor, even one killed with SIGKILL."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.25)


def _say_ready(url: str) -> None:
    sys.stdout.write(f"ready {url}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
