"""``artreg push`` / ``artreg pull`` (the command line, as a user runs it) against ``skopeo copy``,
on an image of several layers, into and out of Debian's distribution registry.

Each run is a fresh subprocess pushing to a fresh registry (nothing present, nothing to mount);
pulls go to a fresh layout. Prints MB/s per tool and direction, the artreg/skopeo ratio, and the
peak RSS of the artreg process (from ``wait4``). Usage::

    python bench/cli_transfer.py [--layers 8] [--layer-mib 32] [--jobs 4] [--repeat 1]
"""

from __future__ import annotations

import argparse
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

MIB = 1024 * 1024
BIN = Path(sys.executable).parent


def build_layout(path: Path, layers: int, layer_size: int) -> int:
    """An OCI layout tagged ``v1`` with ``layers`` layers of random bytes labelled gzip (so no
    tool recompresses them); returns the layers' total size."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    descriptors = []
    total = 0
    for n in range(layers):
        tmp = blobs / "layer.tmp"
        digest = hashlib.sha256()
        with tmp.open("wb") as fh:
            written = 0
            while written < layer_size:
                piece = os.urandom(min(4 * MIB, layer_size - written))
                fh.write(piece)
                digest.update(piece)
                written += len(piece)
        tmp.rename(blobs / digest.hexdigest())
        descriptors.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": f"sha256:{digest.hexdigest()}",
                "size": layer_size,
                "annotations": {"n": str(n)},
            }
        )
        total += layer_size

    def put(data: bytes) -> str:
        hexdigest = hashlib.sha256(data).hexdigest()
        (blobs / hexdigest).write_bytes(data)
        return f"sha256:{hexdigest}"

    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": descriptors,
        }
    ).encode()
    digest = put(manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (path / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )
    return total


def timed(argv: list[str]) -> tuple[float, int]:
    """Run a command; return (seconds, peak RSS in KiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        assert proc.stderr is not None
        raise SystemExit(f"{argv[0]} failed: {proc.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss


@contextlib.contextmanager
def registry(tmp: Path) -> Iterator[str]:
    from tests.registries import distribution_registry

    with distribution_registry(tmp) as reg:
        yield reg.host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--layer-mib", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise SystemExit("skopeo is not installed")
    results: dict[str, list[float]] = {}
    rss: list[int] = []
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as d:
        tmp = Path(d)
        total = build_layout(tmp / "layout", args.layers, args.layer_mib * MIB)
        env_note = f"{args.layers} layers x {args.layer_mib} MiB = {total / MIB:.0f} MiB"
        for run in range(args.repeat):
            for tool in ("artreg", "skopeo"):
                with registry(tmp / f"reg-{tool}-{run}") as host:
                    ref = f"{host}/bench/app:v1"
                    out = tmp / f"out-{tool}-{run}"
                    if tool == "artreg":
                        push = [str(BIN / "artreg"), "push", str(tmp / "layout"), ref]
                        push += ["--jobs", str(args.jobs), "--quiet"]
                        pull = [str(BIN / "artreg"), "pull", ref, str(out)]
                        pull += ["--jobs", str(args.jobs), "--quiet"]
                    else:
                        push = [skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false"]
                        push += [f"oci:{tmp / 'layout'}:v1", f"docker://{ref}"]
                        pull = [skopeo, "--insecure-policy", "copy", "--src-tls-verify=false"]
                        pull += [f"docker://{ref}", f"oci:{out}:v1"]
                    seconds, peak = timed(push)
                    results.setdefault(f"{tool} push", []).append(seconds)
                    if tool == "artreg":
                        rss.append(peak)
                    seconds, peak = timed(pull)
                    results.setdefault(f"{tool} pull", []).append(seconds)
                    if tool == "artreg":
                        rss.append(peak)
                    shutil.rmtree(out, ignore_errors=True)
    print(f"image: {env_note}; --jobs {args.jobs}; best of {args.repeat}; registry: distribution")
    rate = {k: total / MIB / min(v) for k, v in results.items()}
    for key in ("artreg push", "skopeo push", "artreg pull", "skopeo pull"):
        print(f"{key:12s} {rate[key]:8.1f} MiB/s  ({min(results[key]):.2f} s)")
    print(f"ratio push artreg/skopeo: {rate['artreg push'] / rate['skopeo push']:.2f}")
    print(f"ratio pull artreg/skopeo: {rate['artreg pull'] / rate['skopeo pull']:.2f}")
    print(f"artreg peak RSS: {max(rss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
