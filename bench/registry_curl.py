"""Registry ingest and download measured with ``curl``, a client that is never the bottleneck:
artreg's embedded registry against the CNCF distribution registry (Debian's ``docker-registry``),
in the same run, rounds alternating between the two.

Each round starts a fresh server on an empty data directory, then:

- ingest: ``POST /v2/bench/blobs/uploads/`` and one monolithic ``PUT ?digest=`` of the whole
  blob streamed by ``curl -T`` (the registry hashes and stores it);
- GET: ``curl`` downloads the blob to ``/dev/null``.

Prints the median MB/s of each, the embedded/distribution ratios, and each server's peak RSS
(``VmHWM``). ``--chunks N`` ingests the blob in N ``PATCH`` requests instead. Usage::

    python bench/registry_curl.py [--size-mib 256] [--rounds 3] [--workdir DIR] [--chunks N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import (  # noqa: E402
    MIB,
    compile_artreg,
    distribution_server,
    embedded_server,
    peak_rss_mib,
    random_file,
)


@dataclass
class Figures:
    ingest: list[float] = field(default_factory=list)
    get: list[float] = field(default_factory=list)
    rss_mib: float = 0.0


def curl(*args: str) -> tuple[int, float, dict[str, str]]:
    """Run curl; return (status, seconds, response headers lower-cased)."""
    out = subprocess.run(
        ["curl", "-sS", "-D", "-", "-o", "/dev/null", "-w", "\n%{http_code} %{time_total}", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    *head, last = out.rstrip("\n").split("\n")
    status, seconds = last.split()
    headers = {}
    for line in head:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(status), float(seconds), headers


def ingest(base: str, blob: Path, digest: str, chunks: int) -> float:
    """Upload ``blob``; returns the seconds from the first byte sent to the 201."""
    status, _, headers = curl(
        "-X", "POST", "-H", "Content-Length: 0", f"{base}/v2/bench/blobs/uploads/"
    )
    if status != 202:
        raise SystemExit(f"POST upload: {status}")
    location = headers["location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    if chunks <= 1:
        status, seconds, _ = curl(
            "-T",
            str(blob),
            "-H",
            "Content-Type: application/octet-stream",
            f"{location}{sep}digest={digest}",
        )
        if status != 201:
            raise SystemExit(f"PUT blob: {status}")
        return seconds
    size = blob.stat().st_size
    step = -(-size // chunks)
    total = 0.0
    with tempfile.TemporaryDirectory(dir=blob.parent) as d:
        piece = Path(d) / "piece"
        for start in range(0, size, step):
            end = min(size, start + step) - 1
            with blob.open("rb") as src, piece.open("wb") as dst:
                src.seek(start)
                dst.write(src.read(end - start + 1))
            status, seconds, headers = curl(
                "-X",
                "PATCH",
                "--data-binary",
                f"@{piece}",
                "-H",
                "Content-Type: application/octet-stream",
                "-H",
                f"Content-Range: {start}-{end}",
                location,
            )
            if status != 202:
                raise SystemExit(f"PATCH blob: {status}")
            total += seconds
            location = headers["location"]
            if location.startswith("/"):
                location = base + location
        sep = "&" if "?" in location else "?"
        status, seconds, _ = curl(
            "-X", "PUT", "-H", "Content-Length: 0", f"{location}{sep}digest={digest}"
        )
        if status != 201:
            raise SystemExit(f"PUT blob: {status}")
    return total + seconds


def download(base: str, digest: str) -> float:
    status, seconds, _ = curl(f"{base}/v2/bench/blobs/{digest}")
    if status != 200:
        raise SystemExit(f"GET blob: {status}")
    return seconds


@contextlib.contextmanager
def server(kind: str, work: Path) -> Iterator[tuple[str, int]]:
    factory = embedded_server if kind == "embedded" else distribution_server
    with factory(work) as running:
        yield running


def run(size_mib: int, rounds: int, workdir: str | None, chunks: int) -> dict[str, Figures]:
    figures = {"embedded": Figures(), "distribution": Figures()}
    with tempfile.TemporaryDirectory(prefix="artreg-bench-", dir=workdir) as tmp:
        work = Path(tmp)
        blob = work / "blob"
        digest = random_file(blob, size_mib * MIB)
        for n in range(rounds):
            order = ("embedded", "distribution") if n % 2 == 0 else ("distribution", "embedded")
            for kind in order:
                with server(kind, work / f"{kind}-{n}") as (base, pid):
                    figures[kind].ingest.append(ingest(base, blob, digest, chunks))
                    figures[kind].get.append(download(base, digest))
                    figures[kind].rss_mib = max(figures[kind].rss_mib, peak_rss_mib(pid))
                shutil.rmtree(work / f"{kind}-{n}", ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--chunks", type=int, default=1, help="PATCH requests per blob (1: one PUT)"
    )
    parser.add_argument(
        "--workdir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where the blob and both registries' data live (default /dev/shm: the disk does "
        "not set the pace)",
    )
    args = parser.parse_args()
    compile_artreg()
    for tool in ("curl", "docker-registry"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (make system-deps)")
    figures = run(args.size_mib, args.rounds, args.workdir, args.chunks)
    mb = args.size_mib * MIB / 1e6
    how = "one PUT" if args.chunks <= 1 else f"{args.chunks} PATCH"
    print(
        f"registry_curl: {args.size_mib} MiB blob, ingest by {how}, median of {args.rounds} "
        f"alternating rounds, data in {args.workdir or tempfile.gettempdir()}, {os.cpu_count()} CPUs"
    )
    print(f"{'registry':<14}{'ingest MB/s':>12}{'GET MB/s':>11}{'peak RSS MiB':>14}")
    med: dict[str, tuple[float, float]] = {}
    for kind, f in figures.items():
        med[kind] = (mb / statistics.median(f.ingest), mb / statistics.median(f.get))
        print(f"{kind:<14}{med[kind][0]:>12.1f}{med[kind][1]:>11.1f}{f.rss_mib:>14.1f}")
    e, d = med["embedded"], med["distribution"]
    print(f"RESULT registry ingest (curl) embedded/distribution {e[0] / d[0]:.2f}")
    print(f"RESULT registry GET (curl) embedded/distribution {e[1] / d[1]:.2f}")
    print(f"RESULT registry peak RSS MiB embedded {figures['embedded'].rss_mib:.1f}")


if __name__ == "__main__":
    main()
