"""``/metrics``: Prometheus text from ``artreg registry serve``, counters that move after a
push, off by default on a public bind, and behind the registry's credentials when on."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from artreg.localregistry import Authenticator, start_in_thread
from tests.localregistry.client import sha256

TOKEN = "metrics-token-0123456789abcdef"


def value(text: str, series: str) -> float:
    """The value of one exact series line (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def metrics_once_counted(http: httpx.Client, series: str) -> str:
    """``/metrics`` once ``series`` has been counted: a request is counted just after its reply
    is sent, so the client can ask before the server has written it down."""
    deadline = time.monotonic() + 20
    while True:
        text = http.get("/metrics").text
        if value(text, series) > 0 or time.monotonic() > deadline:
            return text
        time.sleep(0.02)


def test_counters_move_after_a_push(tmp_path: Path) -> None:
    created = 'artreg_registry_http_requests_total{method="PUT",route="upload",status="201"}'
    proc = subprocess.Popen(
        [sys.executable, "-m", "artreg", "registry", "serve", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--gc-interval", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split("listening on ", 1)[1].split()[0]
        with httpx.Client(base_url=url, timeout=30) as http:
            before = http.get("/metrics")
            assert before.status_code == 200
            assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert value(before.text, "artreg_registry_storage_bytes") == 0
            data = b"counted" * 1000
            location = http.post("/v2/m/app/blobs/uploads/").headers["location"]
            assert (
                http.put(location, params={"digest": sha256(data)}, content=data).status_code == 201
            )
            after = metrics_once_counted(http, created)
        assert value(after, created) == 1
        opened = 'artreg_registry_http_requests_total{method="POST",route="uploads",status="202"}'
        assert value(after, opened) == 1
        assert value(after, "artreg_registry_http_received_bytes_total") >= len(data)
        assert value(after, "artreg_registry_storage_bytes") == len(data)
        assert value(after, "artreg_registry_upload_sessions_open") == 0
        assert value(after, 'artreg_registry_gc_removed_total{kind="blob"}') == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_off_on_a_public_bind_unless_asked_and_behind_credentials(tmp_path: Path) -> None:
    auth = Authenticator(token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with start_in_thread(tmp_path / "a", host="0.0.0.0", auth=auth) as server:
        local = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{local}/metrics", headers=bearer).status_code == 404
    with start_in_thread(tmp_path / "b", host="0.0.0.0", auth=auth, metrics=True) as server:
        local = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{local}/metrics").status_code == 401
        scraped = httpx.get(f"{local}/metrics", headers=bearer)
        assert scraped.status_code == 200
        assert "artreg_registry_gc_runs_total 0.0" in scraped.text
    with start_in_thread(tmp_path / "c", metrics=False) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
