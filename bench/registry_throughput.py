"""Push then pull one large blob with skopeo to artreg's embedded registry and to the CNCF
distribution registry (Debian's ``docker-registry``) in the same run.

Prints MB/s for push and pull on both, the embedded/distribution ratio, and the embedded
server's peak RSS (``VmHWM`` of the server process). Usage::

    python bench/registry_throughput.py [--size MIB] [--repeat N]

The layer is a tar of random bytes wrapped in stored (level 0) gzip, so skopeo sends it as is
instead of compressing it on the way: the figures measure the registries, not zlib.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from _common import (
    MIB,
    cpu_seconds,
    distribution_server,
    embedded_server,
    peak_rss_mib,
    skopeo,
    write_image,
)

#: How long a registry may take to come up.
START_TIMEOUT = 20.0


class _Random:
    """A file-like source of ``size`` random bytes."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = MIB) -> bytes:
        n = min(n if n > 0 else MIB, self.left)
        self.left -= n
        return os.urandom(n)


def build_layout(root: Path, size: int) -> None:
    """An OCI layout tagged ``bench`` whose single layer carries ``size`` random bytes."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    tmp = root / "layer.tmp"
    diff = hashlib.sha256()
    layer = hashlib.sha256()

    class Tee:
        def __init__(self, raw: gzip.GzipFile) -> None:
            self.raw = raw

        def write(self, data: bytes) -> int:
            diff.update(data)
            return self.raw.write(data)

    with (
        tmp.open("wb") as out,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=0) as gz,
        tarfile.open(fileobj=Tee(gz), mode="w|") as tar,  # type: ignore[call-overload]
    ):
        info = tarfile.TarInfo("payload.bin")
        info.size = size
        tar.addfile(info, _Random(size))  # type: ignore[arg-type]
    with tmp.open("rb") as f:
        while chunk := f.read(4 * MIB):
            layer.update(chunk)
    tmp.rename(blobs / layer.hexdigest())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff.hexdigest()}"]},
    }
    layers: list[dict[str, object]] = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": f"sha256:{layer.hexdigest()}",
            "size": (blobs / layer.hexdigest()).stat().st_size,
        }
    ]
    write_image(root, json.dumps(config).encode(), layers, "bench")


@contextlib.contextmanager
def embedded(work: Path) -> Iterator[tuple[str, int]]:
    """A fresh embedded registry with its data under ``work``; yields (HOST:PORT, pid)."""
    with embedded_server(work, START_TIMEOUT) as (base, pid):
        yield base.removeprefix("http://"), pid


@contextlib.contextmanager
def distribution(work: Path) -> Iterator[tuple[str, int]]:
    """A fresh distribution registry with its data under ``work``; yields (HOST:PORT, pid)."""
    with distribution_server(work, START_TIMEOUT) as (base, pid):
        yield base.removeprefix("http://"), pid


def measure(
    host: str, layout: Path, work: Path, tag: str, creds: str | None = None, pid: int | None = None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """skopeo-copy ``layout`` to ``host`` as ``bench/blob:TAG`` and back (logging in with
    ``creds``, USER:PASSWORD, if given): (push, pull) seconds and (push, pull) CPU seconds of
    process ``pid``."""
    ref = f"docker://{host}/bench/blob:{tag}"
    push_creds = ["--dest-creds", creds] if creds else []
    pull_creds = ["--src-creds", creds] if creds else []
    start = cpu_seconds(pid)
    push = skopeo("copy", "--dest-tls-verify=false", *push_creds, f"oci:{layout}:bench", ref)
    pushed = cpu_seconds(pid)
    out = work / f"pulled-{host.replace(':', '-')}-{tag}"
    pull = skopeo("copy", "--src-tls-verify=false", *pull_creds, ref, f"oci:{out}:bench")
    pulled = cpu_seconds(pid)
    shutil.rmtree(out)
    return (push, pull), (pushed - start, pulled - pushed)


def parse_args(doc: str, noun: str, repeat: int, repeat_help: str) -> argparse.Namespace:
    """The command line of a skopeo benchmark: ``--size`` MiB of ``noun`` (default 256) and
    ``--repeat`` (default ``repeat``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help=f"{noun} size in MiB (default 256)")
    parser.add_argument("--repeat", type=int, default=repeat, help=repeat_help)
    return parser.parse_args()


@contextlib.contextmanager
def layout_in_workdir(size_mib: int) -> Iterator[tuple[Path, Path]]:
    """Require skopeo, then yield (a temporary work directory, the layout of a ``size_mib`` MiB
    layer built in it by :func:`build_layout`)."""
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (make system-deps)")
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as tmp:
        work = Path(tmp)
        layout = work / "layout"
        print(f"building a {size_mib} MiB layer...", flush=True)
        build_layout(layout, size_mib * MIB)
        yield work, layout


def best_of(runs: dict[str, list[tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """The shortest push and the shortest pull of each kind's (push, pull) runs."""
    return {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}


def main() -> int:
    args = parse_args(__doc__, "blob", 2, "runs per registry; best is kept")
    size = args.size * MIB
    with layout_in_workdir(args.size) as (work, layout):
        runs: dict[str, list[tuple[float, float]]] = {"embedded": [], "distribution": []}
        rss: dict[str, float] = {"embedded": 0.0, "distribution": 0.0}
        # A fresh server (new port, empty store) per run, so neither the registry nor skopeo's
        # blob-info cache can skip an upload; registries alternate to share any machine noise.
        for i in range(args.repeat):
            for kind, server in (("embedded", embedded), ("distribution", distribution)):
                with server(work / f"{kind}-{i}") as (host, pid):
                    runs[kind].append(measure(host, layout, work, f"run{i}")[0])
                    rss[kind] = max(rss[kind], peak_rss_mib(pid))
                shutil.rmtree(work / f"{kind}-{i}")
        results = best_of(runs)
        mb = size / 1e6
        print(f"blob size: {args.size} MiB, best of {args.repeat} skopeo copies")
        print(f"{'registry':<14}{'push MB/s':>12}{'pull MB/s':>12}{'peak RSS MiB':>15}")
        for kind, (push, pull) in results.items():
            print(f"{kind:<14}{mb / push:>12.1f}{mb / pull:>12.1f}{rss[kind]:>15.1f}")
        e, d = results["embedded"], results["distribution"]
        print(f"ratio embedded/distribution: push {d[0] / e[0]:.2f}, pull {d[1] / e[1]:.2f}")
        print(f"embedded server peak RSS: {rss['embedded']:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
