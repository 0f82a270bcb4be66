"""``artreg push`` / ``artreg pull`` (the command line, process start-up included) against
``skopeo copy --preserve-digests``, to and from artreg's embedded registry, in the same run,
rounds alternating which tool goes first.

The image is an OCI layout of incompressible layers labelled as gzip (so neither tool
recompresses them): one large layer (``--size-mib``) or many small ones (``--small-layers N``,
64 KiB to 1 MiB each). Each push goes to a fresh repository (nothing to skip or mount); each pull
to a fresh layout. Prints the median MB/s per tool and direction, the artreg/skopeo ratios and
artreg's peak RSS (``wait4``). Usage::

    python bench/transfer.py [--size-mib 256 | --small-layers 200] [--rounds 3] [--jobs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import (  # noqa: E402
    BIN,
    MIB,
    compile_artreg,
    embedded_server,
    random_file,
    write_image,
)

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def build_layout(path: Path, sizes: list[int]) -> int:
    """An OCI layout tagged ``v1`` with one layer per size; returns the bytes of all layers."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layers: list[dict[str, object]] = []
    for n, size in enumerate(sizes):
        tmp = blobs / "layer.tmp"
        digest = random_file(tmp, size)
        tmp.rename(blobs / digest.removeprefix("sha256:"))
        layers.append(
            {"mediaType": LAYER_TYPE, "digest": digest, "size": size, "annotations": {"n": str(n)}}
        )

    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    write_image(path, config, layers, "v1")
    return sum(sizes)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:3]} failed: {err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def commands(
    tool: str, layout: Path, ref: str, out: Path, jobs: int
) -> tuple[list[str], list[str]]:
    if tool == "artreg":
        artreg = str(BIN / "artreg")
        return (
            [
                artreg,
                "push",
                str(layout),
                ref,
                "--source-tag",
                "v1",
                "--jobs",
                str(jobs),
                "--quiet",
            ],
            [artreg, "pull", ref, str(out), "--jobs", str(jobs), "--quiet"],
        )
    skopeo = ["skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests"]
    return (
        [*skopeo, "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{ref}"],
        [*skopeo, "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:v1"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256, help="one layer of this size")
    parser.add_argument("--small-layers", type=int, default=0, help="N layers of 64 KiB-1 MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument(
        "--workdir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where the layout, the registry's data and the pulls live (default /dev/shm)",
    )
    args = parser.parse_args()
    compile_artreg()
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (make system-deps)")
    if args.small_layers:
        rng = random.Random(21)
        sizes = [rng.randint(64 * 1024, MIB) for _ in range(args.small_layers)]
        case = f"{args.small_layers} layers of 64 KiB-1 MiB"
    else:
        sizes = [args.size_mib * MIB]
        case = f"one {args.size_mib} MiB layer"
    times: dict[str, list[float]] = {}
    rss: dict[str, float] = {"push": 0.0, "pull": 0.0}
    with tempfile.TemporaryDirectory(prefix="artreg-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIEN_", "ARTREG_"))}
        total = build_layout(work / "layout", sizes)
        for n in range(args.rounds):
            tools = ("artreg", "skopeo") if n % 2 == 0 else ("skopeo", "artreg")
            for tool in tools:
                # a fresh registry and HOME each time: nothing to skip, mount or remember
                env["HOME"] = str(work / f"home-{tool}-{n}")
                with embedded_server(work / f"registry-{tool}-{n}") as (base, _pid):
                    ref = f"{base.removeprefix('http://')}/bench/{tool}:v1"
                    out = work / f"pull-{tool}-{n}"
                    push, pull = commands(tool, work / "layout", ref, out, args.jobs)
                    for name, argv in (("push", push), ("pull", pull)):
                        seconds, peak = timed(argv, env)
                        times.setdefault(f"{tool} {name}", []).append(seconds)
                        if tool == "artreg":
                            rss[name] = max(rss[name], peak)
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(work / f"registry-{tool}-{n}", ignore_errors=True)
    mb = total / 1e6
    print(
        f"transfer: {case} ({total / MIB:.0f} MiB), embedded registry, --jobs {args.jobs}, "
        f"median of {args.rounds} alternating rounds, whole processes (start-up included), "
        f"data in {args.workdir or tempfile.gettempdir()}"
    )
    print(f"{'':6}{'artreg MB/s':>12}{'skopeo MB/s':>13}{'ratio':>7}{'artreg RSS MiB':>16}")
    label = f"{args.small_layers} small layers" if args.small_layers else f"{args.size_mib} MiB"
    for name in ("push", "pull"):
        a = mb / statistics.median(times[f"artreg {name}"])
        s = mb / statistics.median(times[f"skopeo {name}"])
        print(f"{name:6}{a:>12.1f}{s:>13.1f}{a / s:>7.2f}{rss[name]:>16.1f}")
        print(f"RESULT artreg {name} / skopeo, {label} {a / s:.2f}")
        print(f"RESULT artreg {name} peak RSS MiB, {label} {rss[name]:.1f}")


if __name__ == "__main__":
    main()
