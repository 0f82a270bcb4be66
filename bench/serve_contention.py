"""``getRepository`` with many calls in flight: ``artreg serve`` (the embedded registry and the
sidecar started by one command) against the same two servers run as two separate processes
(``python -m artreg.localregistry`` and ``artreg rpc serve``), in the same run, rounds
alternating between the two setups.

Each getRepository is a JSON-RPC call whose handler makes an HTTP round trip to the registry, so
if the registry and the sidecar compete for one thread, the figure drops. Prints calls/s of each
setup and the ratio. Usage::

    python bench/serve_contention.py [--in-flight 64] [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from websockets.asyncio.client import connect  # noqa: E402

from _common import (  # noqa: E402
    BIN,
    compile_artreg,
    embedded_server,
    serve_argv,
    start_ready,
    stop,
)
from rpc_overhead import SidecarClient  # noqa: E402

READY = re.compile(r"^artreg: rpc=(?P<rpc>ws://\S+)(?: registry=(?P<registry>\S+))?")


async def rate(url: str, calls: int, in_flight: int) -> float:
    """getRepository calls per second over one connection, ``in_flight`` at a time."""
    async with connect(url, compression=None, max_size=None) as ws:
        client = SidecarClient(ws)
        binding = {"bindingName": "artifacts"}
        created = await client.call(
            "artifactRegistry.createRepository", {**binding, "repoName": "bench"}
        )
        params = {**binding, "repoId": created["result"]["name"]}
        for _ in range(50):  # warm up
            await client.call("artifactRegistry.getRepository", params)
        left = calls

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await client.call("artifactRegistry.getRepository", params)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        client.reader.cancel()
        await asyncio.gather(client.reader, return_exceptions=True)
    return calls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    compile_artreg()
    artreg = str(BIN / "artreg")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIEN_", "ARTREG_"))}
    figures: dict[str, list[float]] = {"artreg serve": [], "two processes": []}
    exits: list[int] = []
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as tmp:
        work = Path(tmp)
        one, one_ready = start_ready(serve_argv(work / "one"), READY, work / "one.log", env)
        one_url = one_ready["rpc"]
        try:
            with embedded_server(work / "two") as (base, _pid):
                binding = {
                    "service": "local",
                    "registryUrl": base.removeprefix("http://"),
                    "dataDir": None,
                }
                two_env = dict(env, ALIEN_ARTIFACTS_BINDING=json.dumps(binding))
                two, two_ready = start_ready(
                    [artreg, "rpc", "serve", "--port", "0", "--log-level", "warning"],
                    READY,
                    work / "two.log",
                    two_env,
                )
                two_url = two_ready["rpc"]
                try:
                    for n in range(args.rounds):
                        order = list(figures) if n % 2 == 0 else list(reversed(figures))
                        for name in order:
                            url = one_url if name == "artreg serve" else two_url
                            figures[name].append(asyncio.run(rate(url, args.calls, args.in_flight)))
                finally:
                    exits.append(stop(two, 20))
        finally:
            exits.append(stop(one, 20))
    print(
        f"serve_contention: getRepository, {args.in_flight} in flight, {args.calls} calls x "
        f"{args.rounds} alternating rounds, {os.cpu_count()} CPUs"
    )
    for name, values in figures.items():
        print(
            f"{name:<16}{statistics.median(values):>9.0f} calls/s  (rounds: "
            f"{', '.join(f'{v:.0f}' for v in values)})"
        )
    ratio = statistics.median(figures["artreg serve"]) / statistics.median(figures["two processes"])
    print(f"exit status after SIGTERM: artreg serve {exits[-1]}, rpc serve {exits[0]}")
    print(f"RESULT getRepository {args.in_flight} in flight artreg serve/two processes {ratio:.2f}")


if __name__ == "__main__":
    main()
