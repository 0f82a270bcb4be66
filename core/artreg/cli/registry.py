"""``artreg registry serve``: the embedded OCI registry in the foreground; ``gc`` and
``verify`` on its data directory (both safe next to a running server).

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
from artreg.cli.common import ForwardedAllowIpsOption, TlsCertOption, TlsKeyOption
from artreg.cli.errors import ExitCode

registry_app = typer.Typer(name="registry", help="The embedded OCI registry.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")


def _duration(value: str | None) -> float | None:
    """A typer callback: ``30s``, ``15m``, ``1h``, ``7d`` or plain seconds."""
    if value is None:
        return None
    from artreg.localregistry.config import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


GraceOption = Annotated[
    str,
    typer.Option(
        "--gc-grace",
        help="Spare what was pushed, tagged or asked for within this time (30s, 15m, 1h, 7d): "
        "a push in flight is never collected.",
    ),
]
UploadMaxAgeOption = Annotated[
    str,
    typer.Option(
        "--upload-max-age",
        help="Purge upload sessions idle for longer than this (e.g. 24h).",
    ),
]


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
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
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
    forwarded_allow_ips: ForwardedAllowIpsOption = None,
    gc_interval: Annotated[
        str,
        typer.Option(
            "--gc-interval",
            help="Collect garbage online this often (30s, 15m, 1h…); 0 turns it off.",
        ),
    ] = "1h",
    gc_grace: GraceOption = "1h",
    upload_max_age: UploadMaxAgeOption = "7d",
    metrics: Annotated[
        bool | None,
        typer.Option(
            "--metrics/--no-metrics",
            help="Serve Prometheus metrics at /metrics (behind the same credentials). "
            "Default: on for a loopback bind, off otherwise.",
            show_default=False,
        ),
    ] = None,
    token_realm: Annotated[
        str | None,
        typer.Option(
            "--token-realm",
            help="The token endpoint URL clients are sent to with --token-file "
            "(default: this listener's address + /v2/token). Set it to the public URL "
            "behind a load balancer or on a wildcard bind.",
        ),
    ] = None,
) -> None:
    """Run the embedded OCI registry (distribution spec v1.1) until interrupted.

    Garbage collection runs inside the server every --gc-interval while clients push:
    what no tag reaches any more is deleted once older than --gc-grace, and abandoned
    uploads once idle for --upload-max-age.
    """
    from artreg.localregistry import RegistryConfigError
    from artreg.localregistry import serve as run_registry
    from artreg.serving import configure_logging

    configure_logging(logging.INFO, fmt="%(asctime)s %(message)s")

    interval, grace, max_age = (
        _duration(gc_interval),
        _duration(gc_grace),
        _duration(upload_max_age),
    )

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
            gc_interval=interval,
            gc_grace=grace or 0.0,
            upload_max_age=max_age,
            metrics=metrics,
            realm=token_realm,
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
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            "--gc-grace",
            help="Spare what was pushed, tagged or asked for within this time (30s, 15m, 1h, "
            "7d), so pushes in flight complete. 0 is only safe with no client pushing.",
        ),
    ] = "1h",
    upload_max_age: UploadMaxAgeOption = "7d",
) -> None:
    """Delete what no tag reaches any more: manifests, blobs, and abandoned uploads.

    Safe while a registry serves the directory and clients push: what changed within
    the grace period (--grace) is spared. Exits 2 when another collection is running
    on it.
    """
    from artreg.localregistry import FilesystemStore, RegistryConfigError

    seconds, max_age = _duration(grace), _duration(upload_max_age)
    if not (data_dir / "blobs").is_dir():
        sys.stderr.write(f"error: {data_dir} is not a registry data directory\n")
        raise typer.Exit(ExitCode.USAGE)
    store = FilesystemStore(data_dir, exclusive=False)
    try:
        report = store.collect_garbage(
            grace=seconds or 0.0, upload_max_age=max_age, dry_run=dry_run
        )
    except RegistryConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    finally:
        store.close()
    verb = "would remove" if dry_run else "removed"
    for manifest in report.manifests:
        sys.stdout.write(f"{verb} manifest {manifest}\n")
    for upload in report.uploads:
        sys.stdout.write(f"{verb} upload {upload}\n")
    for digest in report.removed:
        sys.stdout.write(f"{verb} {digest}\n")
    sys.stdout.write(
        f"{len(report.removed)} blob(s), {len(report.manifests)} manifest(s), "
        f"{len(report.uploads)} upload(s); {'would free' if dry_run else 'freed'} "
        f"{report.freed_bytes} bytes\n"
    )


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
