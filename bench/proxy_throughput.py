"""Push then pull one large layer with skopeo through ``artreg proxy serve`` and directly to
the same kind of upstream (artreg's embedded registry), in the same run.

Prints MB/s for push and pull both ways, the proxy/direct ratio (the goal is >= 0.9), the
proxy process's peak RSS (``VmHWM``; the goal is < 100 MiB whatever the layer size) and its CPU
seconds per GiB relayed each way — the figure that moves least with the machine's load (the
ratio depends on skopeo, the proxy and the registry sharing the cores). Usage::

    python bench/proxy_throughput.py [--size MIB] [--repeat N]

Each measurement gets a fresh upstream registry (and a fresh proxy in front of it), so neither
a registry nor skopeo's blob-info cache can skip an upload; direct and proxied runs alternate to
share the machine's noise. The proxy runs with a users file and skopeo logs in with
``--creds``, so the token flow and credential injection are part of what is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt

from registry_throughput import (  # the same layer, servers and skopeo runner as that bench
    MIB,
    build_layout,
    embedded,
    free_port,
    peak_rss_mib,
    skopeo,
)

USER, PASSWORD = "bench", "bench-password"


@contextlib.contextmanager
def proxy(work: Path, upstream: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``artreg proxy serve`` in front of ``upstream`` (HOST:PORT) as binding ``bench``."""
    users = work / "users.toml"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=6)).decode()
    users.write_text(f'[users.{USER}]\npassword_hash = "{hashed}"\npush = ["*"]\n')
    port = free_port()
    env = {
        **os.environ,
        "ALIEN_BENCH_BINDING": json.dumps(
            {"service": "local", "registryUrl": f"http://{upstream}", "dataDir": None}
        ),
    }
    command = [sys.executable, "-m", "artreg", "proxy", "serve", "--port", str(port)]
    command += ["--binding", "bench", "--users", str(users), "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(10)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"proxy exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds ``pid`` has used (0 for None)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    host: str, layout: Path, work: Path, creds: list[str], pid: int | None = None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(push, pull) seconds and (push, pull) CPU seconds of process ``pid``."""
    ref = f"docker://{host}/bench/blob:bench"
    start = cpu_seconds(pid)
    push = skopeo("copy", "--dest-tls-verify=false", *creds, f"oci:{layout}:bench", ref)
    pushed = cpu_seconds(pid)
    out = work / f"pulled-{host.replace(':', '-')}"
    pull_creds = [c.replace("--dest-creds", "--src-creds") for c in creds]
    pull = skopeo("copy", "--src-tls-verify=false", *pull_creds, ref, f"oci:{out}:bench")
    pulled = cpu_seconds(pid)
    shutil.rmtree(out)
    return (push, pull), (pushed - start, pulled - pushed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="layer size in MiB (default 256)")
    parser.add_argument("--repeat", type=int, default=1, help="runs each way; best is kept")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (make system-deps)")
    size = args.size * MIB
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as tmp:
        work = Path(tmp)
        layout = work / "layout"
        print(f"building a {args.size} MiB layer...", flush=True)
        build_layout(layout, size)
        runs: dict[str, list[tuple[float, float]]] = {"direct": [], "proxy": []}
        cpu: list[tuple[float, float]] = []
        rss = 0.0
        for _ in range(args.repeat):
            with embedded(work) as (upstream, _proc):
                runs["direct"].append(measure(upstream, layout, work, [])[0])
            with embedded(work) as (upstream, _proc), proxy(work, upstream) as (host, proc):
                creds = ["--dest-creds", f"{USER}:{PASSWORD}"]
                seconds, used = measure(host, layout, work, creds, proc.pid)
                runs["proxy"].append(seconds)
                cpu.append(used)
                rss = max(rss, peak_rss_mib(proc.pid))
            for data in work.glob("embedded-data-*"):
                shutil.rmtree(data)
        best = {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}
        mb = size / 1e6
        print(f"layer size: {args.size} MiB, best of {args.repeat} skopeo copies each way")
        print(f"{'path':<10}{'push MB/s':>12}{'pull MB/s':>12}")
        for kind, (push, pull) in best.items():
            print(f"{kind:<10}{mb / push:>12.1f}{mb / pull:>12.1f}")
        d, p = best["direct"], best["proxy"]
        print(f"ratio proxy/direct: push {d[0] / p[0]:.2f}, pull {d[1] / p[1]:.2f}")
        print(f"proxy peak RSS: {rss:.1f} MiB")
        gib = size / (1 << 30)
        push_cpu, pull_cpu = min(c[0] for c in cpu) / gib, min(c[1] for c in cpu) / gib
        print(f"proxy CPU per GiB: push {push_cpu:.2f} s, pull {pull_cpu:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
