"""Push and pull one large layer with artreg and with skopeo, against the same kind of registry.

Builds an OCI layout holding one image with a single incompressible layer (default 256 MiB), then:

- push: ``oci:LAYOUT`` → a fresh registry, with artreg (``artreg.oci.copy``) and with skopeo;
- pull: registry → a new OCI layout, with both.

Every artreg run is a subprocess, so its peak resident memory (``VmHWM``) is its own. Each push
goes to a fresh registry (no blob already present, nothing to mount). Prints MB/s per tool, the
artreg/skopeo throughput ratio and artreg's peak RSS. Usage::

    python bench/client_throughput.py [--size-mib 256] [--registry distribution|embedded] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "core"))

MIB = 1024 * 1024


def vmhwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def worker(source: str, destination: str, jobs: int) -> None:
    """Run one artreg copy and print ``{"seconds": …, "vmhwm_kib": …}``."""
    from artreg.oci import copy

    started = time.perf_counter()
    asyncio.run(copy(source, destination, jobs=jobs))
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "vmhwm_kib": vmhwm_kib()}))


def build_layout(path: Path, size: int) -> str:
    """An OCI layout with one image whose only layer is ``size`` random bytes; returns its tag."""
    from _common import write_image

    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    h = hashlib.sha256()
    tmp = blobs / "layer.tmp"
    block = os.urandom(4 * MIB)
    with tmp.open("wb") as fh:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            # Vary the data so no two blocks are equal (and nothing compresses).
            piece = hashlib.sha256(written.to_bytes(8, "big")).digest() + piece[32:]
            fh.write(piece)
            h.update(piece)
            written += len(piece)
    layer_digest = "sha256:" + h.hexdigest()
    tmp.rename(blobs / h.hexdigest())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {},
        }
    ).encode()
    layers: list[dict[str, object]] = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": size,
        }
    ]
    write_image(path, config, layers, "bench")
    return "bench"


@contextlib.contextmanager
def registry(kind: str, tmp: Path) -> Iterator[str]:
    from tests.registries import distribution_registry, embedded_registry

    factory = embedded_registry if kind == "embedded" else distribution_registry
    with factory(tmp) as reg:
        yield reg.host


def run_artreg(source: str, destination: str, jobs: int) -> tuple[float, float, int]:
    """(operation seconds, command seconds, peak RSS KiB)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--worker", source, destination, "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = time.perf_counter() - started
    data = json.loads(out.strip().splitlines()[-1])
    return float(data["seconds"]), total, int(data["vmhwm_kib"])


def run_skopeo(source: str, destination: str, home: Path) -> float:
    from _common import skopeo

    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (apt-get install skopeo)")
    flags = ["--quiet", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false"]
    return skopeo("copy", *flags, source, destination, env=dict(os.environ, HOME=str(home)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--registry", choices=["distribution", "embedded"], default="distribution")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement; the best is kept"
    )
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument(
        "--workdir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where the layout, registry data and pulls live (default: /dev/shm, so the disk "
        "does not set the pace)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.jobs)
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from _common import compile_artreg

    compile_artreg()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="artreg-bench-", dir=args.workdir) as tmp_name:
        tmp = Path(tmp_name)
        layout = tmp / "layout"
        tag = build_layout(layout, size)
        home = tmp / "home"
        home.mkdir()
        best: dict[str, float] = {}
        commands: dict[str, float] = {}
        peak = 0
        for run in range(args.repeat):
            # Alternate which tool goes first, so neither always meets a warmer machine.
            for tool in ("skopeo", "artreg") if run % 2 == 0 else ("artreg", "skopeo"):
                with registry(args.registry, tmp / f"reg-{tool}-{run}") as host:
                    dest = f"{host}/bench/{tool}:{tag}"
                    if tool == "skopeo":
                        push = run_skopeo(f"oci:{layout}:{tag}", f"docker://{dest}", home)
                        cmd_push = push
                    else:
                        push, cmd_push, rss = run_artreg(f"oci:{layout}:{tag}", dest, args.jobs)
                        peak = max(peak, rss)
                    out_dir = tmp / f"pull-{tool}-{run}"
                    if tool == "skopeo":
                        pull = run_skopeo(f"docker://{dest}", f"oci:{out_dir}:{tag}", home)
                        cmd_pull = pull
                    else:
                        pull, cmd_pull, rss = run_artreg(dest, f"oci:{out_dir}:{tag}", args.jobs)
                        peak = max(peak, rss)
                    shutil.rmtree(out_dir, ignore_errors=True)
                for name, value, cmd in (("push", push, cmd_push), ("pull", pull, cmd_pull)):
                    key = f"{tool} {name}"
                    best[key] = min(best.get(key, float("inf")), value)
                    commands[key] = min(commands.get(key, float("inf")), cmd)
        mb = size / 1e6
        print(
            f"client throughput: one {args.size_mib} MiB layer, {args.registry} registry on loopback, "
            f"jobs={args.jobs}, best of {args.repeat}, data under {args.workdir or tempfile.gettempdir()}"
        )
        print(
            f"{'':14}{'artreg MB/s':>12}{'skopeo MB/s':>13}{'ratio':>8}{'ratio incl. startup':>21}"
        )
        for name in ("push", "pull"):
            a, s = mb / best[f"artreg {name}"], mb / best[f"skopeo {name}"]
            a_cmd = mb / commands[f"artreg {name}"]
            print(f"{name:14}{a:12.1f}{s:13.1f}{a / s:8.2f}{a_cmd / s:21.2f}")
            print(
                f"RESULT copy() {name} / skopeo incl. startup, {args.size_mib} MiB {a_cmd / s:.2f}"
            )
        print(f"artreg peak RSS: {peak / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
