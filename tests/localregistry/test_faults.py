"""The fault-injection wrapper does what its docstring promises, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fakes.faults import Fault, faulty_registry
from tests.localregistry.client import SpecClient, codes


def test_status_on_nth_request(tmp_path: Path) -> None:
    with faulty_registry(tmp_path) as (reg, faults):
        faults.status(503, nth=2)
        assert httpx.get(f"{reg.url}/v2/").status_code == 200
        r = httpx.get(f"{reg.url}/v2/")
        assert r.status_code == 503
        assert codes(r) == ["UNAVAILABLE"]
        assert httpx.get(f"{reg.url}/v2/").status_code == 200
        assert len(faults.fired) == 1
        assert faults.requests == [("GET", "/v2/")] * 3


def test_rate_limit_with_retry_after_and_matching(tmp_path: Path) -> None:
    with faulty_registry(tmp_path) as (reg, faults):
        faults.rate_limit(retry_after=2, method="PUT", path=r"/blobs/uploads/", times=2)
        client = SpecClient(reg)
        location = client.start_upload("ns/r")  # a POST: not matched
        for _ in range(2):
            r = client.http.put(client.at(location, digest="sha256:" + "0" * 64), content=b"x")
            assert r.status_code == 429
            assert r.headers["retry-after"] == "2"
            assert codes(r) == ["TOOMANYREQUESTS"]
        digest = client.push_blob("ns/r", b"after the storm")  # third PUT goes through
        assert client.http.head(f"/v2/ns/r/blobs/{digest}").status_code == 200


def test_forever_rule(tmp_path: Path) -> None:
    with faulty_registry(tmp_path, memory=True) as (reg, faults):
        faults.add(Fault(status=500), nth=2, times=None)
        statuses = [httpx.get(f"{reg.url}/v2/").status_code for _ in range(4)]
        assert statuses == [200, 500, 500, 500]
        faults.clear()
        assert httpx.get(f"{reg.url}/v2/").status_code == 200


def test_delay_trips_a_client_timeout(tmp_path: Path) -> None:
    with faulty_registry(tmp_path, memory=True) as (reg, faults):
        faults.delay(3, path=r"^/v2/$")
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{reg.url}/v2/", timeout=0.5)
        assert httpx.get(f"{reg.url}/v2/", timeout=5).status_code == 200  # fired once
        assert [f[2].delay for f in faults.fired] == [3]


def test_dropped_connection_mid_body(tmp_path: Path) -> None:
    with faulty_registry(tmp_path) as (reg, faults):
        client = SpecClient(reg)
        data = bytes(range(256)) * 4096  # 1 MiB
        digest = client.push_blob("ns/r", data)
        faults.drop(after_bytes=1000, method="GET", path=r"/blobs/sha256:")
        with pytest.raises(httpx.RemoteProtocolError):
            client.http.get(f"/v2/ns/r/blobs/{digest}")
        got = httpx.get(f"{reg.url}/v2/ns/r/blobs/{digest}")  # the rule fired once
        assert got.content == data


def test_dropped_connection_partial_bytes_visible_to_streaming_clients(tmp_path: Path) -> None:
    with faulty_registry(tmp_path) as (reg, faults):
        client = SpecClient(reg)
        digest = client.push_blob("ns/r", b"z" * 500_000)
        faults.drop(after_bytes=4096, path=r"/blobs/sha256:")
        received = 0
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("GET", f"{reg.url}/v2/ns/r/blobs/{digest}") as r,
        ):
            assert r.headers["content-length"] == "500000"
            for chunk in r.iter_raw():
                received += len(chunk)
        assert received == 4096
