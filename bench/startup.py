"""Start-up time of the small commands, as a user (or Docker) runs them: ``artreg --help`` and
``docker-credential-artreg get`` answering from its cache, next to a bare ``python -c pass`` in
the same run (rounds alternate between the three, so all see the same machine load).

Prints the median wall and CPU (user + system) seconds of each, and each command's cost over the
bare interpreter. Usage::

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import BIN, compile_artreg  # noqa: E402

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def run_once(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run, the CPU from the kernel's accounting."""
    r, w = os.pipe()
    os.write(w, stdin)
    os.close(w)
    started = time.perf_counter()
    pid = os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_DUP2, r, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    os.close(r)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def prime_credential_cache(env: dict[str, str]) -> None:
    """Store an answer for HOST the way the helper does after a real ``get``, so the timed runs
    are cache hits (no cloud is reachable here)."""
    from artreg.credhelper import CachedCredentials, CredentialCache, cache_dir
    from artreg.credhelper import _config_fingerprint as fingerprint

    key = json.dumps(["bench", env["ALIEN_BENCH_BINDING"], HOST, "push-pull", fingerprint(env)])
    CredentialCache(cache_dir(env)).put(
        key, CachedCredentials(HOST, "basic", "AWS", "not-a-real-token", time.time() + 3600)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    compile_artreg()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIEN_", "ARTREG_"))}
        env["ARTREG_CACHE_DIR"] = tmp
        env["ALIEN_BENCH_BINDING"] = json.dumps(
            {"service": "ecr", "repositoryPrefix": "bench", "region": "us-east-1"}
        )
        prime_credential_cache(env)
        cases = {
            "python -c pass": ([python, "-c", "pass"], b""),
            "artreg --help": ([str(BIN / "artreg"), "--help"], b""),
            "docker-credential-artreg get (cached)": (
                [str(BIN / "docker-credential-artreg"), "get"],
                f"https://{HOST}".encode(),
            ),
        }
        for argv, stdin in cases.values():  # warm the page cache and .pyc files
            run_once(argv, env, stdin)
        walls: dict[str, list[float]] = {k: [] for k in cases}
        cpus: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, (argv, stdin) in cases.items():
                wall, cpu = run_once(argv, env, stdin)
                walls[name].append(wall)
                cpus[name].append(cpu)
    print(f"startup: median of {args.runs} alternating runs, {os.cpu_count()} CPUs")
    print(f"{'command':<40}{'wall s':>8}{'cpu s':>8}{'over python':>13}")
    base = statistics.median(walls["python -c pass"])
    for name in cases:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:<40}{wall:>8.3f}{cpu:>8.3f}{wall - base:>13.3f}")
    print(f"RESULT startup artreg --help s {statistics.median(walls['artreg --help']):.3f}")
    print(
        "RESULT startup docker-credential-artreg get (cached) s "
        f"{statistics.median(walls['docker-credential-artreg get (cached)']):.3f}"
    )


if __name__ == "__main__":
    main()
