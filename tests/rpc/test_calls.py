"""Unit tests of the sidecar's call plumbing: the call-timeout setting, and progress
notifications while the client does not read (byte counts dropped, final statuses kept, ``seq``
contiguous, everything sent before the reply)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from artreg.imageops import TransferUpdate
from artreg.types import TransferStatus
from artreg_rpc.calls import DEFAULT_CALL_TIMEOUT, MAX_QUEUED_UPDATES, Session
from artreg_rpc.errors import RpcConfigError
from artreg_rpc.runner import config_from_env, parse_call_timeout


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, DEFAULT_CALL_TIMEOUT), ("", DEFAULT_CALL_TIMEOUT), ("0", None), ("2.5", 2.5)],
)
def test_call_timeout_setting(value: str | None, expected: float | None) -> None:
    assert parse_call_timeout(value) == expected


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_bad_call_timeout_settings_are_refused(value: str) -> None:
    with pytest.raises(RpcConfigError, match="ARTREG_RPC_CALL_TIMEOUT"):
        parse_call_timeout(value)


def test_call_timeout_from_the_environment() -> None:
    assert config_from_env({"ARTREG_RPC_CALL_TIMEOUT": "7"}).call_timeout == 7.0
    assert config_from_env({}).call_timeout == 25.0


def _update(
    status: TransferStatus, done: int, digest: str = "sha256:" + "a" * 64
) -> TransferUpdate:
    return TransferUpdate("h/r", digest, status, done, 1000, done, 1000, 0, 1)


async def test_a_client_that_does_not_read_gets_final_statuses_and_fewer_byte_counts() -> None:
    gate = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def send(message: bytes) -> None:
        await gate.wait()  # the client is not reading
        sent.append(json.loads(message))

    session = Session(send)
    touched = 0

    def touch() -> None:
        nonlocal touched
        touched += 1

    sink = session.progress_sink(7, touch)
    for done in range(1, 501):
        sink(_update(TransferStatus.TRANSFERRING, done))
    sink(_update(TransferStatus.COMPLETE, 1000))
    sink(_update(TransferStatus.EXISTS, 10, digest="sha256:" + "b" * 64))
    await asyncio.sleep(0)
    gate.set()
    await session.flush()
    await session.close()

    params = [m["params"] for m in sent]
    assert all(m["method"] == "$/progress" and "id" not in m for m in sent)
    assert all(p["id"] == 7 for p in params)
    statuses = [p["status"] for p in params]
    assert statuses[-2:] == ["complete", "exists"]
    # byte counts beyond what fits the queue were dropped, never the final statuses
    assert statuses.count("transferring") <= MAX_QUEUED_UPDATES + 1
    assert [p["seq"] for p in params] == list(range(1, len(params) + 1))
    assert touched == len(params)  # every update sent restarted the call's time limit
