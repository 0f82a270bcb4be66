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

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bcrypt

from _common import MIB, free_port, peak_rss_mib, wait_up
from registry_throughput import (  # the same layer, servers and skopeo runs as that bench
    best_of,
    embedded,
    layout_in_workdir,
    measure,
    parse_args,
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
        wait_up(f"http://127.0.0.1:{port}/healthz", proc, what="proxy")
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    args = parse_args(__doc__, "layer", 1, "runs each way; best is kept")
    size = args.size * MIB
    with layout_in_workdir(args.size) as (work, layout):
        runs: dict[str, list[tuple[float, float]]] = {"direct": [], "proxy": []}
        cpu: list[tuple[float, float]] = []
        rss = 0.0
        for i in range(args.repeat):
            with embedded(work / f"direct-{i}") as (upstream, _pid):
                runs["direct"].append(measure(upstream, layout, work, "bench")[0])
            with (
                embedded(work / f"upstream-{i}") as (upstream, _pid),
                proxy(work, upstream) as (host, proc),
            ):
                creds = f"{USER}:{PASSWORD}"
                seconds, used = measure(host, layout, work, "bench", creds, proc.pid)
                runs["proxy"].append(seconds)
                cpu.append(used)
                rss = max(rss, peak_rss_mib(proc.pid))
            for data in (work / f"direct-{i}", work / f"upstream-{i}"):
                shutil.rmtree(data)
        best = best_of(runs)
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
