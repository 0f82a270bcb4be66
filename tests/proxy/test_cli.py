"""``artreg proxy serve`` refuses the settings it cannot serve safely, with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from artreg.localregistry.server import ThreadedRegistry
from tests.proxy.conftest import PASSWORDS, local_binding


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALIEN_")}
    return subprocess.run(
        [sys.executable, "-m", "artreg", "proxy", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )


LOCAL = json.dumps({"service": "local", "registryUrl": "127.0.0.1:9", "dataDir": None})


def test_public_bind_needs_users_and_tls(tmp_path: Path) -> None:
    env = {"ALIEN_MAIN_BINDING": LOCAL}
    no_users = serve("--host", "0.0.0.0", env=env)
    assert no_users.returncode == 2
    assert "refusing to listen on 0.0.0.0 without --users" in no_users.stderr
    users = tmp_path / "users.toml"
    users.write_text('[users.a]\ntoken_sha256 = "' + "ab" * 32 + '"\npull = ["*"]\n')
    no_tls = serve("--host", "0.0.0.0", "--users", str(users), env=env)
    assert no_tls.returncode == 2
    assert "without TLS" in no_tls.stderr and "--allow-plain-http" in no_tls.stderr


def test_duplicate_prefixes_name_both_bindings() -> None:
    ecr = json.dumps({"service": "ecr", "repositoryPrefix": "team"})
    env = {
        "ALIEN_FIRST_BINDING": ecr,
        "ALIEN_SECOND_BINDING": ecr,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ACCOUNT_ID": "123456789012",
    }
    answer = serve(env=env)
    assert answer.returncode == 2
    assert "bindings 'first' and 'second' both claim the repository prefix 'team'" in answer.stderr


def test_bad_users_file_and_short_signing_key(tmp_path: Path) -> None:
    env = {"ALIEN_MAIN_BINDING": LOCAL}
    users = tmp_path / "users.toml"
    users.write_text('[users.bob]\npassword_hash = "plain-text"\n')
    bad = serve("--users", str(users), env=env)
    assert bad.returncode == 2
    assert "user 'bob': password_hash must be a bcrypt hash" in bad.stderr
    assert "plain-text" not in bad.stderr
    key = tmp_path / "key"
    key.write_text("short")
    short = serve("--signing-key-file", str(key), env=env)
    assert short.returncode == 2
    assert "holds 5 bytes; at least 32 are needed" in short.stderr
    unknown = serve("--binding", "nope", env=env)
    assert unknown.returncode == 2
    assert "binding 'nope'" in unknown.stderr


def test_serve_prints_where_it_listens_and_stops_on_sigterm(
    upstream: ThreadedRegistry, users_file: Path
) -> None:
    import signal

    import httpx

    base = {k: v for k, v in os.environ.items() if not k.startswith("ALIEN_")}
    env = {**base, "ALIEN_MAIN_BINDING": local_binding(upstream)}
    command = [sys.executable, "-m", "artreg", "proxy", "serve", "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--users", str(users_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("artreg proxy: listening on http://127.0.0.1:"), first
        url = first.split(" on ", 1)[1].strip()
        hint = proc.stdout.readline()
        assert "--dest-creds USER:PASSWORD" in hint
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        alice = ("alice", PASSWORDS["alice"])
        assert httpx.get(f"{url}/v2/main/x/tags/list", auth=alice).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert 'user=alice "GET /v2/main/x/tags/list" repo=main/x status=404' in stderr
    assert PASSWORDS["alice"] not in stderr
