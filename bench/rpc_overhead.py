"""The JSON-RPC sidecar's per-call cost, against a raw websockets echo in the same run.

Starts ``artreg serve`` (embedded registry + sidecar, the default ``artifacts`` Local binding)
and a bare websockets echo server, each in its own process, and drives both from this process
over one WebSocket connection each:

* ``generateCredentials`` on the Local binding: no I/O behind it, so it measures the sidecar's own
  cost (parse, validate, dispatch, encode);
* ``getRepository``: a round trip to the embedded registry behind it;
* the echo: a message of the request's size in, a message of the reply's size out, nothing else.

Each runs sequentially (one call at a time) and with 64 calls in flight, in rounds that alternate
between the sidecar and the echo so that both see the same machine load. Prints calls/s and
p50/p99 latency, and the sidecar/echo ratios (p50: lower is better; calls/s: higher is better).
The echo and this client use the same event loop as the sidecar (uvloop when installed)::

    python bench/rpc_overhead.py [--calls N] [--in-flight K] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from _common import serve_argv, start_ready, stop
from artreg.loader import load_artifact_registry
from artreg_rpc.runner import loop_factory

READY = re.compile(r"^artreg: rpc=(?P<rpc>ws://\S+) registry=(?P<registry>\S+)")
SIZE_DIGITS = 8


# -- the echo peer (run in its own process with --echo) ---------------------------------------


async def _echo_main() -> None:
    """Answer each message with a reply whose size the message's first 8 characters give."""
    replies: dict[int, bytes] = {}

    def reply_of(size: int) -> bytes:
        body = replies.get(size)
        if body is None:
            body = replies[size] = b"x" * size
        return body

    async def handler(ws: ServerConnection) -> None:
        while True:
            try:
                message = await ws.recv(decode=False)
            except Exception:
                return
            await ws.send(reply_of(int(message[:SIZE_DIGITS])), text=True)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"echo: ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


# -- clients -------------------------------------------------------------------------------------


class SidecarClient:
    """JSON-RPC over one connection, replies matched by id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            reply = msgspec.json.decode(message)
            self.pending.pop(reply["id"]).set_result(reply)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        id_ = self.next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[id_] = fut
        await self.ws.send(
            msgspec.json.encode({"jsonrpc": "2.0", "method": method, "params": params, "id": id_}),
            text=True,
        )
        reply = await fut
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply


class EchoClient:
    """The same shape of traffic against the echo: replies come back in order."""

    def __init__(self, ws: ClientConnection, request_size: int, reply_size: int) -> None:
        self.ws = ws
        head = str(reply_size).zfill(SIZE_DIGITS).encode()
        self.message = head + b"y" * max(0, request_size - len(head))
        self.pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            self.pending.popleft().set_result(len(message))

    async def call(self) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append(fut)
        await self.ws.send(self.message, text=True)
        return await fut


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Figures:
    calls_per_s: float
    p50_ms: float
    p99_ms: float


class Sample:
    """Latencies and busy time gathered over several rounds."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.elapsed = 0.0

    def figures(self) -> Figures:
        lat = sorted(self.latencies)
        q = statistics.quantiles(lat, n=100, method="inclusive")
        return Figures(len(lat) / self.elapsed, q[49] * 1000, q[98] * 1000)


async def measure(
    call: Callable[[], Awaitable[Any]], calls: int, in_flight: int, sample: Sample
) -> None:
    """One round: ``calls`` calls, ``in_flight`` at a time, added to ``sample``."""
    latencies = sample.latencies
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    sample.elapsed += time.perf_counter() - started


async def compare(
    ours_call: Callable[[], Awaitable[Any]],
    peer_call: Callable[[], Awaitable[Any]],
    calls: int,
    in_flight: int,
    rounds: int,
) -> tuple[Figures, Figures]:
    """Alternate rounds of the sidecar and the echo, so both see the same machine load."""
    for call in (ours_call, peer_call):  # warm up
        for _ in range(200):
            await call()
    ours, peer = Sample(), Sample()
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        await measure(ours_call, per_round, in_flight, ours)
        await measure(peer_call, per_round, in_flight, peer)
    return ours.figures(), peer.figures()


async def direct_get_repository(registry_address: str, repo: str, calls: int) -> Figures:
    """getRepository through the Local provider in this process: the registry round trip alone."""
    binding = json.dumps({"service": "local", "registryUrl": registry_address, "dataDir": None})
    registry = load_artifact_registry("artifacts", {"ALIEN_ARTIFACTS_BINDING": binding})
    sample = Sample()
    try:
        for _ in range(50):
            await registry.get_repository(repo)
        await measure(lambda: registry.get_repository(repo), calls, 1, sample)
    finally:
        await registry.aclose()
    return sample.figures()


async def run_bench(
    rpc_url: str, registry_address: str, echo_url: str, calls: int, in_flight: int, rounds: int
) -> list[str]:
    binding = {"bindingName": "artifacts"}
    rows: list[str] = []
    targets: list[str] = []
    async with (
        connect(rpc_url, compression=None, max_size=None) as rpc_ws,
        connect(echo_url, compression=None, max_size=None) as echo_ws,
    ):
        sidecar = SidecarClient(rpc_ws)
        created = await sidecar.call(
            "artifactRegistry.createRepository", {**binding, "repoName": "bench"}
        )
        repo = created["result"]["name"]
        # (method, params, calls): the registry round trip is ~100x slower, so fewer calls
        cases = {
            "generateCredentials": (
                "artifactRegistry.generateCredentials",
                {**binding, "repoId": repo, "permissions": "pull"},
                calls,
            ),
            "getRepository": (
                "artifactRegistry.getRepository",
                {**binding, "repoId": repo},
                max(rounds * 20, calls // 10),
            ),
        }
        header = (
            f"{'call':<21}{'mode':<14}{'calls/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
            f" | {'echo c/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
            f" | {'p50 ratio':>9}{'c/s ratio':>10}"
        )
        rows += [header, "-" * len(header)]
        for name, (method, params, n) in cases.items():
            request = msgspec.json.encode(
                {"jsonrpc": "2.0", "method": method, "params": params, "id": 100000}
            )
            reply = msgspec.json.encode(await sidecar.call(method, params))
            echo = EchoClient(echo_ws, len(request), len(reply))
            for mode, k in (("sequential", 1), (f"{in_flight} in flight", in_flight)):
                ours, peer = await compare(
                    lambda m=method, p=params: sidecar.call(m, p), echo.call, n, k, rounds
                )
                p50_ratio = ours.p50_ms / peer.p50_ms
                cps_ratio = ours.calls_per_s / peer.calls_per_s
                rows.append(
                    f"{name:<21}{mode:<14}{ours.calls_per_s:>9.0f}{ours.p50_ms:>8.3f}{ours.p99_ms:>8.3f}"
                    f" | {peer.calls_per_s:>9.0f}{peer.p50_ms:>8.3f}{peer.p99_ms:>8.3f}"
                    f" | {p50_ratio:>8.2f}x{cps_ratio:>9.2f}x"
                )
                if name == "generateCredentials" and k == 1:
                    targets.append(
                        f"target: generateCredentials sequential p50 within 3x the echo's: "
                        f"{p50_ratio:.2f}x ({'met' if p50_ratio <= 3 else 'MISSED'})"
                    )
                if name == "generateCredentials" and k > 1:
                    targets.append(
                        f"target: generateCredentials calls/s with {k} in flight at least 1/3 of "
                        f"the echo's: {cps_ratio:.2f}x ({'met' if cps_ratio >= 1 / 3 else 'MISSED'})"
                    )
            rows.append(
                f"{'':<21}(request {len(request)} B, reply {len(reply)} B, echo the same sizes; "
                f"{n} calls per row)"
            )
            if name == "getRepository":
                direct = await direct_get_repository(registry_address, repo, n)
                rows.append(
                    f"{'':<21}(the Local provider called in-process, no sidecar: p50 "
                    f"{direct.p50_ms:.3f} ms, p99 {direct.p99_ms:.3f} ms, sequential)"
                )
            echo.reader.cancel()
            await asyncio.gather(echo.reader, return_exceptions=True)
        sidecar.reader.cancel()
        await asyncio.gather(sidecar.reader, return_exceptions=True)
    return [*rows, "", *targets]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000, help="calls per measurement")
    parser.add_argument(
        "--in-flight", type=int, default=64, help="calls in flight in the concurrent mode"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per row")
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(_echo_main())
        return
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("ALIEN_") and k.endswith("_BINDING"))
    }
    os.environ.clear()
    os.environ.update(env)
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as tmp:
        rpc_proc, ready = start_ready(
            serve_argv(Path(tmp) / "data"), READY, Path(tmp) / "serve.log"
        )
        rpc_url, registry_address = ready["rpc"], ready["registry"]
        echo_proc, echo_match = start_ready(
            [sys.executable, __file__, "--echo"],
            re.compile(r"^echo: (\S+)"),
            Path(tmp) / "echo.log",
        )
        echo_url = echo_match.group(1)
        try:
            loop = "uvloop" if loop_factory() else "asyncio"
            print(f"rpc_overhead: artreg serve ({rpc_url}) vs a raw websockets echo ({echo_url})")
            print(
                f"{args.calls} calls per row in {args.rounds} alternating rounds; "
                f"python {sys.version.split()[0]}, {loop} event loops, {os.cpu_count()} CPUs"
            )
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                rows = runner.run(
                    run_bench(
                        rpc_url, registry_address, echo_url, args.calls, args.in_flight, args.rounds
                    )
                )
            for line in rows:
                print(line)
        finally:
            for proc in (rpc_proc, echo_proc):
                stop(proc)


if __name__ == "__main__":
    main()
