"""Every benchmark in one run (``make bench``), each printing its own report, then one table of
the figures that have a target: the ratio (or time, or peak memory) measured and the target.

Each benchmark is a process of its own, run one after another (never two at once: they would
measure each other). ``--quick`` uses smaller sizes and fewer rounds (for a first look)::

    python bench/run_all.py [--quick] [--skip-1gib]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Target:
    """A figure's goal: at least (``>=``) or below (``<``) ``value``."""

    op: str
    value: float

    def met(self, figure: float) -> bool:
        return figure >= self.value if self.op == ">=" else figure < self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


#: What each RESULT label is held to (labels without a target are printed, not judged).
TARGETS: list[tuple[re.Pattern[str], Target]] = [
    (re.compile(r"registry ingest \(curl\)"), Target(">=", 2.0)),
    (re.compile(r"registry GET \(curl\)"), Target(">=", 1.0)),
    (re.compile(r"registry peak RSS MiB"), Target("<", 100)),
    (re.compile(r"artreg (push|pull) / skopeo"), Target(">=", 1.5)),
    (re.compile(r"artreg (push|pull) peak RSS MiB"), Target("<", 100)),
    (re.compile(r"copy\(\) .* / skopeo"), Target(">=", 1.5)),
    (re.compile(r"getRepository"), Target(">=", 0.9)),
    (re.compile(r"startup artreg --help"), Target("<", 0.15)),
    (re.compile(r"startup docker-credential-artreg"), Target("<", 0.1)),
    (re.compile(r"proxy/direct"), Target(">=", 0.9)),
]

_RESULT = re.compile(r"^RESULT (?P<label>.+?) (?P<value>-?[0-9.]+)$")
_PROXY = re.compile(r"^ratio proxy/direct: push (?P<push>[0-9.]+), pull (?P<pull>[0-9.]+)")


def plan(quick: bool, skip_1gib: bool) -> list[list[str]]:
    rounds = "2" if quick else "3"
    big = "64" if quick else "256"
    runs = [
        ["registry_curl.py", "--size-mib", big, "--rounds", rounds],
        ["transfer.py", "--size-mib", big, "--rounds", rounds],
        ["transfer.py", "--small-layers", "200", "--rounds", rounds],
        ["client_throughput.py", "--registry", "embedded", "--size-mib", big],
        ["serve_contention.py", "--rounds", "4" if quick else "6"],
        ["startup.py", "--runs", "7" if quick else "15"],
        ["rpc_overhead.py", *(["--calls", "1000"] if quick else [])],
    ]
    if not (quick or skip_1gib):
        # 1 GiB once each: registry memory stays flat, client throughput holds at size
        runs.insert(1, ["registry_curl.py", "--size-mib", "1024", "--rounds", "1"])
        runs.insert(3, ["transfer.py", "--size-mib", "1024", "--rounds", "1"])
    if (BENCH / "proxy_throughput.py").exists():
        runs.append(["proxy_throughput.py", "--size", big])
    return runs


def run(script: list[str]) -> list[tuple[str, float]]:
    """Run one benchmark, echo its report, return its (label, figure) results."""
    print(f"\n=== {' '.join(script)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(BENCH / script[0]), *script[1:]],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    results: list[tuple[str, float]] = []
    for line in proc.stdout.splitlines():
        if (match := _RESULT.match(line)) is not None:
            results.append((match["label"], float(match["value"])))
            continue
        print(line)
        if (match := _PROXY.match(line)) is not None:
            results.append(("proxy/direct push", float(match["push"])))
            results.append(("proxy/direct pull", float(match["pull"])))
    took = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"(exit status {proc.returncode})")
        results.append((f"{script[0]} FAILED", float(proc.returncode)))
    print(f"({took:.0f} s)")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB, fewer rounds, no 1 GiB")
    parser.add_argument("--skip-1gib", action="store_true", help="leave out the 1 GiB runs")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results: list[tuple[str, float]] = []
    for script in plan(args.quick, args.skip_1gib):
        results += run(script)
    print(f"\n{'figure':<58}{'measured':>10}  {'target':<8} ")
    print("-" * 84)
    failed = 0
    for label, value in results:
        target = next((t for pattern, t in TARGETS if pattern.search(label)), None)
        verdict = "" if target is None else ("met" if target.met(value) else "MISSED")
        failed += verdict == "MISSED" or label.endswith("FAILED")
        shown = str(target) if target is not None else ""
        print(f"{label:<58}{value:>10.2f}  {shown:<8} {verdict}")
    print(
        f"\n{os.cpu_count()} CPUs, load average {load:.2f} at the start and "
        f"{os.getloadavg()[0]:.2f} at the end: figures from a busy machine are noisy; "
        "ratios are measured against the peer in the same run."
    )
    return 0 if not any(label.endswith("FAILED") for label, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
