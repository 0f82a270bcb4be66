"""``artreg proxy serve``: one registry endpoint in front of every binding.

Logs one access line per request on stderr and stops cleanly on SIGINT/SIGTERM. Bound to
anything but loopback it refuses to start without ``--users``, and without TLS unless
``--allow-plain-http`` says a load balancer in front terminates it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from artreg.cli import app
from artreg.cli.common import ForwardedAllowIpsOption, TlsCertOption, TlsKeyOption
from artreg.cli.errors import ExitCode

proxy_app = typer.Typer(
    name="proxy",
    help="The registry proxy: one endpoint for every binding, credentials injected.",
    no_args_is_help=True,
)
app.add_typer(proxy_app, name="proxy")


@proxy_app.command("serve")
def serve(
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on; non-loopback needs --users and TLS."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")
    ] = 5080,
    binding: Annotated[
        list[str] | None,
        typer.Option(
            "--binding",
            metavar="NAME",
            help="A binding to serve (repeatable). Default: every ALIEN_*_BINDING in the "
            "environment that is an artifact registry.",
        ),
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option(
            "--users",
            metavar="FILE",
            help="TOML file of users (bcrypt password hash or token SHA-256) and the "
            "repository prefixes each may pull or push. Without it: anonymous, loopback only.",
        ),
    ] = None,
    signing_key_file: Annotated[
        Path | None,
        typer.Option(
            "--signing-key-file",
            metavar="FILE",
            help="Key (32+ bytes) signing tokens and upload sessions; share it between "
            "replicas. Default: a random key per process.",
        ),
    ] = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    redirect_blobs: Annotated[
        bool,
        typer.Option(
            "--redirect-blobs",
            help="Answer blob GETs with a 307 to the binding's download URL when it has one "
            "(ECR); stream otherwise.",
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="The URL clients reach the proxy at (token realm, Locations). Default: from "
            "each request's X-Forwarded-Host/Forwarded/Host.",
        ),
    ] = None,
    allow_plain_http: Annotated[
        bool,
        typer.Option(
            "--allow-plain-http",
            help="Serve plain HTTP on a non-loopback address (TLS ends at a load balancer).",
        ),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            metavar="NAME",
            help="A Host name clients may use besides the listener's own (repeatable).",
        ),
    ] = None,
    forwarded_allow_ips: ForwardedAllowIpsOption = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run the registry proxy until interrupted."""
    from artreg.proxy import ProxyConfig, ProxyConfigError
    from artreg.proxy import serve as run_proxy
    from artreg.serving.logs import configure_logging

    configure_logging(log_level)
    config = ProxyConfig(
        host=host,
        port=port,
        bindings=tuple(binding or ()),
        users_file=users,
        signing_key_file=signing_key_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
        redirect_blobs=redirect_blobs,
        public_url=public_url,
        allow_plain_http=allow_plain_http,
        allowed_hosts=tuple(allowed_host or ()),
        forwarded_allow_ips=forwarded_allow_ips,
    )

    def ready(url: str) -> None:
        address = url.split("://", 1)[1]
        insecure = "" if url.startswith("https://") else "--dest-tls-verify=false "
        creds = "--dest-creds USER:PASSWORD " if users is not None else ""
        sys.stdout.write(
            f"artreg proxy: listening on {url}\n"
            f"push with: skopeo copy {insecure}{creds}"
            f"oci:LAYOUT:TAG docker://{address}/REPOSITORY:TAG\n"
        )
        sys.stdout.flush()

    try:
        run_proxy(config, on_ready=ready)
    except ProxyConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
