"""``artreg serve`` and ``artreg rpc serve`` as real processes: the ready line, every kind of call
through the default binding, health, refusing unsafe addresses, and SIGTERM with a call in flight."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.rpc.client import rpc_client, until
from tests.rpc.conftest import SLOW_BINDING, local_binding
from tests.rpc.slowproxy import SlowProxy
from tests.serve_cli import ARTREG, SERVE_ON_FREE_PORTS, serve_args

READY = re.compile(r"^artreg: rpc=(?P<rpc>ws://\S+)(?: registry=(?P<registry>\S+))?$")


def read(path: Path) -> str:
    return path.read_text()


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("ALIEN_") and k.endswith("_BINDING")) and not k.startswith("ARTREG_")
    }
    return {**env, **extra}


class Running:
    def __init__(
        self, proc: asyncio.subprocess.Process, rpc: str, registry: str | None, lines: list[str]
    ) -> None:
        self.proc, self.rpc, self.registry, self.lines = proc, rpc, registry, lines


@asynccontextmanager
async def artreg(*args: str, env: dict[str, str], log: Path) -> AsyncIterator[Running]:
    """Run ``artreg ARGS``; stderr goes to ``log`` (a pipe nobody reads could fill up)."""
    with log.open("wb") as err_file:
        proc = await asyncio.create_subprocess_exec(
            ARTREG, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=err_file
        )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode().rstrip("\n")
        match = READY.match(first)
        if match is None:
            raise AssertionError(f"no ready line: {first!r} {read(log)}")
        yield Running(proc, match["rpc"], match["registry"], [first])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def exits_cleanly(run: Running, how: signal.Signals) -> None:
    """Send ``how`` to the process; it must exit with status 0 within 15 s."""
    run.proc.send_signal(how)
    async with asyncio.timeout(15):
        assert await run.proc.wait() == 0


async def test_artreg_serve_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with artreg(*serve_args(data), env=clean_env(), log=tmp_path / "log") as run:
        assert run.registry is not None and run.registry.startswith("127.0.0.1:")
        assert run.proc.stdout is not None
        async with asyncio.timeout(10):
            rest = [(await run.proc.stdout.readline()).decode() for _ in range(3)]
        binding_line = next(line for line in rest if "ALIEN_ARTIFACTS_BINDING=" in line)
        assert f'"registryUrl":"{run.registry}"' in binding_line
        assert '"service":"local"' in binding_line
        port = run.rpc.rsplit(":", 1)[1]
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            assert (await http.get(f"http://{run.registry}/v2/")).status_code == 200
        async with rpc_client(run.rpc) as rpc:
            repo = await rpc.call("createRepository", bindingName="artifacts", repoName="e2e")
            assert repo["name"] == "artifacts/e2e"
            assert (
                await rpc.call("getRepository", bindingName="artifacts", repoId=repo["name"])
            ) == repo
            got = await rpc.call(
                "getManifest", bindingName="artifacts", repoName=repo["name"], reference="latest"
            )
            assert base64.b64decode(got["manifest"]).startswith(b'{"schemaVersion":2')
            head = await rpc.call(
                "headManifest", bindingName="artifacts", repoName=repo["name"], reference="latest"
            )
            assert head["digest"].startswith("sha256:")
            assert (
                await rpc.call("registryEndpoint", bindingName="artifacts")
                == f"http://{run.registry}"
            )
            doc = await rpc.call("rpc.discover")
            assert doc["openrpc"].startswith("1.")
        await exits_cleanly(run, signal.SIGTERM)
    assert any(data.iterdir()), "the registry wrote its data under --data-dir"


async def test_sigterm_finishes_the_call_in_flight(slow_proxy: SlowProxy, tmp_path: Path) -> None:
    env = clean_env(ALIEN_SLOW_BINDING=local_binding(slow_proxy.address))
    async with artreg(*serve_args(tmp_path / "d"), env=env, log=tmp_path / "log") as run:
        async with rpc_client(run.rpc) as rpc:
            slow = asyncio.create_task(
                rpc.call(
                    "headBlob",
                    bindingName=SLOW_BINDING,
                    repoName="slow/x",
                    digest="sha256:" + "e" * 64,
                )
            )
            await until(lambda: slow_proxy.holding > 0)
            run.proc.send_signal(signal.SIGTERM)
            assert await slow is None  # answered, not dropped
            async with asyncio.timeout(15):
                assert await run.proc.wait() == 0
        assert rpc.ws.close_code == 1001


async def test_rpc_serve_alone_with_a_token(slow_proxy: SlowProxy, tmp_path: Path) -> None:
    env = clean_env(
        ALIEN_SLOW_BINDING=local_binding(slow_proxy.address), ARTREG_RPC_TOKEN="tok-123456"
    )
    log = tmp_path / "log"
    async with artreg("rpc", "serve", "--port", "0", env=env, log=log) as run:
        assert run.registry is None
        headers = {"Authorization": "Bearer tok-123456"}
        async with rpc_client(run.rpc, additional_headers=headers) as rpc:
            assert await rpc.call("upstreamRepositoryPrefix", bindingName=SLOW_BINDING)
        await exits_cleanly(run, signal.SIGINT)
    assert "artreg RPC listening" in read(log)
    assert "tok-123456" not in read(log)


@pytest.mark.parametrize(
    "command",
    [["rpc", "serve", "--port", "0"], list(SERVE_ON_FREE_PORTS)],
)
async def test_refuses_a_public_address_without_a_token(command: list[str], tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        ARTREG,
        *command,
        "--host",
        "0.0.0.0",
        env=clean_env(ARTREG_DATA_DIR=str(tmp_path)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"refusing to listen on '0.0.0.0'" in err or b"refusing to listen on 0.0.0.0" in err
    assert b"artreg: rpc=" not in out


async def _banner_until(run: Running, last: str) -> list[str]:
    assert run.proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(10):
        while not lines or last not in lines[-1]:
            lines.append((await run.proc.stdout.readline()).decode().rstrip("\n"))
    return lines


async def test_the_next_steps_serve_prints_work_as_typed(tmp_path: Path) -> None:
    async with artreg(*serve_args(tmp_path / "data"), env=clean_env(), log=tmp_path / "log") as run:
        lines = await _banner_until(run, "repo create my-app")
        start = next(i for i, line in enumerate(lines) if line.startswith("next:"))
        typed = "\n".join(line.strip() for line in lines[start + 1 :])
        assert typed.startswith('export ALIEN_ARTIFACTS_BINDING=\'{"service":"local"')
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            typed,
            env=clean_env(),
            cwd=Path.cwd(),  # serve's
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert '"name": "artifacts/my-app"' in out.decode()


async def test_no_push_hint_for_a_binding_serve_does_not_serve(tmp_path: Path) -> None:
    other = '{"service":"local","registryUrl":"127.0.0.1:9","dataDir":null}'
    async with artreg(
        *serve_args(tmp_path / "data"),
        env=clean_env(ALIEN_OTHER_BINDING=other),
        log=tmp_path / "log",
    ) as run:
        lines = await _banner_until(run, "bindings:")
        assert lines[-1] == "bindings: other (from the environment)"
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.stdout is not None
        rest = (await run.proc.stdout.read()).decode()
        assert "push:" not in rest and "artifacts" not in rest


def test_serve_logs_no_info_line_under_an_error_logger(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.Popen(
        [ARTREG, *serve_args(tmp_path / "data")],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert READY.match(proc.stdout.readline().decode().rstrip("\n"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    lines = err.decode().splitlines()
    info_lines = [line for line in lines if " INFO " in line]
    assert info_lines, "serve logs at INFO by default"
    assert not [line for line in info_lines if ".error:" in line]
    # the registry runs in a child process: its lines share serve's format (level and logger)
    logged = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: "
    )
    assert [line for line in lines if not logged.match(line)] == []
    assert any(
        " INFO artreg.localregistry: artreg registry listening on " in line for line in lines
    )


async def test_the_registry_process_stops_with_serve_even_killed(tmp_path: Path) -> None:
    """The embedded registry runs in a process of its own; it never outlives `artreg serve`:
    after SIGTERM (clean exit 0) and after SIGKILL the data directory is free again."""
    from artreg.localregistry import FilesystemStore

    data = tmp_path / "data"
    for how in (signal.SIGTERM, signal.SIGKILL):
        async with artreg(*serve_args(data), env=clean_env(), log=tmp_path / "log") as run:
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"http://{run.registry}/v2/")).status_code == 200
            children = read(Path(f"/proc/{run.proc.pid}/task/{run.proc.pid}/children"))
            [child] = [int(pid) for pid in children.split()]
            run.proc.send_signal(how)
            status = await run.proc.wait()
            assert status == (0 if how == signal.SIGTERM else -signal.SIGKILL)

            def gone(child: int = child) -> bool:
                try:
                    state = read(Path(f"/proc/{child}/stat")).rsplit(")", 1)[1].split()[0]
                except FileNotFoundError:
                    return True
                return state == "Z"  # exited, not yet reaped by its new parent

            await until(gone, limit=10)
        FilesystemStore(data).close()  # the lock is free: no registry holds the directory
