"""``artreg registry serve``: the embedded OCI registry in the foreground.

Logs one line per request on stderr and stops cleanly on SIGINT/SIGTERM. Bound to anything but
loopback it refuses to start unless ``--htpasswd`` and/or ``--token-file`` give credentials.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from artreg.cli import app
from artreg.cli.errors import ExitCode

registry_app = typer.Typer(name="registry", help="The embedded OCI registry.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")


@registry_app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; non-loopback needs credentials.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")
    ] = 5000,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where blobs, manifests and uploads are kept.")
    ] = Path(".artreg-data"),
    htpasswd: Annotated[
        Path | None,
        typer.Option("--htpasswd", help="htpasswd file with bcrypt entries (htpasswd -B)."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding a static bearer token."),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="PEM certificate (chain) to serve HTTPS with."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A name clients may use in Host besides loopback ones (repeatable); "
            "on a public bind, only these names are then accepted.",
        ),
    ] = None,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-origin",
            help="A browser origin (scheme://host[:port]) allowed to change state (repeatable).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="FORWARDED_ALLOW_IPS",
            help="Comma-separated addresses or networks of reverse proxies whose "
            "X-Forwarded-For is believed ('*': any). Default: none.",
        ),
    ] = None,
) -> None:
    """Run the embedded OCI registry (distribution spec v1.1) until interrupted."""
    from artreg.localregistry import RegistryConfigError
    from artreg.localregistry import serve as run_registry
    from artreg.serving import configure_logging

    configure_logging(logging.INFO, fmt="%(asctime)s %(message)s")

    def ready(url: str) -> None:
        address = url.split("://", 1)[1]
        insecure = "" if url.startswith("https://") else "--dest-tls-verify=false "
        sys.stdout.write(
            f"artreg registry: listening on {url} (data in {data_dir.resolve()})\n"
            f"push with: skopeo copy {insecure}"
            f"oci:LAYOUT:TAG docker://{address}/NAMESPACE/REPO:TAG\n"
        )
        sys.stdout.flush()

    try:
        run_registry(
            host,
            port,
            data_dir,
            htpasswd=htpasswd,
            token_file=token_file,
            tls_cert=tls_cert,
            tls_key=tls_key,
            on_ready=ready,
            allowed_hosts=allowed_host or (),
            allowed_origins=allowed_origin or (),
            forwarded_allow_ips=forwarded_allow_ips,
        )
    except RegistryConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None


@registry_app.command("gc")
def gc(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="The registry's data directory.")
    ] = Path(".artreg-data"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed.")
    ] = False,
) -> None:
    """Delete blobs no repository refers to any more.

    Run it while the registry is stopped: it refuses a data directory a server holds.
    """
    from artreg.localregistry import FilesystemStore, RegistryConfigError

    if not (data_dir / "blobs").is_dir():
        sys.stderr.write(f"error: {data_dir} is not a registry data directory\n")
        raise typer.Exit(ExitCode.USAGE)
    try:
        store = FilesystemStore(data_dir)
    except RegistryConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        report = store.collect_garbage(dry_run=dry_run)
    finally:
        store.close()
    for digest in report.removed:
        sys.stdout.write(f"{'would remove' if dry_run else 'removed'} {digest}\n")
    verb = "would free" if dry_run else "freed"
    sys.stdout.write(f"{len(report.removed)} blob(s), {verb} {report.freed_bytes} bytes\n")


@registry_app.command("verify")
def verify(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="The registry's data directory.")
    ] = Path(".artreg-data"),
    quick: Annotated[bool, typer.Option("--quick", help="Skip re-hashing every blob.")] = False,
) -> None:
    """Check a data directory's consistency (safe while a server runs).

    Every blob must hash to its name and every link, tag and referrer point at stored
    content. Exits 1 when there are problems.
    """
    from artreg.localregistry import FilesystemStore

    if not (data_dir / "blobs").is_dir():
        sys.stderr.write(f"error: {data_dir} is not a registry data directory\n")
        raise typer.Exit(ExitCode.USAGE)
    store = FilesystemStore(data_dir, exclusive=False)
    problems = store.verify(deep=not quick)
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    repos = len(store.repositories())
    sys.stdout.write(f"{repos} repositories checked, {len(problems)} problem(s)\n")
    if problems:
        raise typer.Exit(ExitCode.INTERNAL)
