"""`artreg push`, `pull` and `copy`: round trips with identical digests, progress lines, --quiet,
skipped and mounted blobs, errors, credentials from a binding, and the progress bars under a
pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from artreg.localregistry import Authenticator, start_in_thread
from tests.cli.conftest import BIN, Cli
from tests.cli.layouts import build_index_layout, build_layout
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer
from tests.fakes.tls import make_certificate
from tests.registries import RunningRegistry, embedded_registry

TOKEN = f"{ACCOUNT_ID}-auth-token"


def layout_files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "blobs" / "sha256").iterdir()}


def quiet_round_trip(cli: Cli, layout: Path, ref: str, out: Path) -> str:
    """``artreg push -q`` of ``layout`` to ``ref``, then ``artreg pull -q`` into ``out``: both
    succeed and ``out`` holds the same files. Returns what the two wrote to stderr."""
    pushed = cli.artreg("push", str(layout), ref, "-q")
    assert pushed.code == 0, pushed.stderr
    pulled = cli.artreg("pull", ref, str(out), "-q")
    assert pulled.code == 0, pulled.stderr
    assert layout_files(out) == layout_files(layout)
    return pushed.stderr + pulled.stderr


def tagged_digest(root: Path, tag: str) -> str:
    index = json.loads((root / "index.json").read_text())
    [entry] = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    return str(entry["digest"])


def test_push_pull_round_trip_keeps_digests(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="v1", layer_sizes=(300_000, 70_000, 5_000))
    ref = f"{registry.host}/team/app:v1"
    pushed = cli.artreg("push", str(layout.path), ref, "--jobs", "3")
    assert pushed.code == 0, pushed.stderr
    result = pushed.json()
    assert result["digest"] == layout.manifest_digest
    assert result["destination"] == f"{registry.host}/team/app:v1@{layout.manifest_digest}"
    assert result["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert result["blobs"] == 4 and result["skipped"] == 0
    assert result["bytes"] == sum(
        (layout.path / "blobs" / "sha256" / d[7:]).stat().st_size for d in layout.blob_digests
    )
    # one plain progress line per blob on a non-terminal stderr
    lines = pushed.stderr.strip().splitlines()
    assert sorted(line.split()[1] for line in lines) == sorted(layout.blob_digests)
    assert all(line.startswith("pushed sha256:") for line in lines)
    # the registry holds the manifest under the tag, as pushed
    head = cli.artreg("manifest", "head", ref).json()
    assert head["digest"] == layout.manifest_digest

    out = tmp_path / "out"
    pulled = cli.artreg("pull", ref, str(out))
    assert pulled.code == 0, pulled.stderr
    assert pulled.json()["digest"] == layout.manifest_digest
    assert tagged_digest(out, "v1") == layout.manifest_digest
    assert layout_files(out) == layout_files(layout.path)
    assert all(line.startswith("pulled sha256:") for line in pulled.stderr.strip().splitlines())

    # pulling again: every blob is already there
    again = cli.artreg("pull", ref, str(out), "--tag", "again")
    assert again.code == 0, again.stderr
    assert again.json()["skipped"] == 4 and again.json()["bytes"] == 0
    assert tagged_digest(out, "again") == layout.manifest_digest


def test_push_again_skips_and_quiet_is_silent(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="v1")
    ref = f"{registry.host}/team/quiet:v1"
    first = cli.artreg("push", str(layout.path), ref, "--quiet")
    assert first.code == 0, first.stderr
    assert first.stderr == ""
    second = cli.artreg("push", str(layout.path), f"{registry.host}/team/quiet:v2")
    assert second.code == 0, second.stderr
    assert second.json()["skipped"] == 3
    assert all(line.startswith("exists ") for line in second.stderr.strip().splitlines())
    tags = cli.artreg("tags", f"{registry.host}/team/quiet").json()["tags"]
    assert sorted(tags) == ["v1", "v2"]
    table = cli.artreg("push", str(layout.path), ref, "-q", "-o", "table")
    assert table.stdout.startswith(f"Pushed {registry.host}/team/quiet:v1@{layout.manifest_digest}")


def test_push_without_tag_is_latest_and_pull_by_digest(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="build-7")
    pushed = cli.artreg("push", str(layout.path), f"{registry.host}/team/untagged", "-q")
    assert pushed.code == 0, pushed.stderr
    assert cli.artreg("tags", f"{registry.host}/team/untagged").json()["tags"] == ["latest"]
    out = tmp_path / "by-digest"
    pulled = cli.artreg(
        "pull", f"{registry.host}/team/untagged@{layout.manifest_digest}", str(out), "-q"
    )
    assert pulled.code == 0, pulled.stderr
    index = json.loads((out / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [layout.manifest_digest]


def test_copy_between_repositories_and_registries(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="v1")
    src = f"{registry.host}/team/source:v1"
    assert cli.artreg("push", str(layout.path), src, "-q").code == 0
    # same registry: blobs are mounted, the tag defaults to the source's
    same = cli.artreg("copy", src, f"{registry.host}/other/dest")
    assert same.code == 0, same.stderr
    assert same.json()["digest"] == layout.manifest_digest
    assert same.json()["destination"] == f"{registry.host}/other/dest:v1@{layout.manifest_digest}"
    assert cli.artreg("tags", f"{registry.host}/other/dest").json()["tags"] == ["v1"]
    assert all(
        line.split()[0] in ("mounted", "copied") for line in same.stderr.strip().splitlines()
    )
    assert same.json()["mounted"] + same.json()["skipped"] >= 1
    # another registry: blobs stream across
    with embedded_registry(tmp_path / "second") as second:
        across = cli.artreg("copy", src, f"{second.host}/mirror/app:mirrored", "-j", "2")
        assert across.code == 0, across.stderr
        assert across.json()["digest"] == layout.manifest_digest
        assert across.json()["skipped"] == 0
        head = cli.artreg("manifest", "head", f"{second.host}/mirror/app:mirrored").json()
        assert head["digest"] == layout.manifest_digest


def test_transfer_errors(cli: Cli, registry: RunningRegistry, tmp_path: Path) -> None:
    not_a_layout = tmp_path / "empty"
    not_a_layout.mkdir()
    bad_layout = cli.artreg("push", str(not_a_layout), f"{registry.host}/team/x:v1")
    assert bad_layout.code == 2
    assert bad_layout.stderr.startswith("error: INVALID_INPUT: ")
    layout = build_layout(tmp_path / "src", tag="v1")
    missing_tag = cli.artreg(
        "push", str(layout.path), f"{registry.host}/team/x:v1", "--source-tag", "nope"
    )
    assert missing_tag.code == 3
    to_digest = cli.artreg("push", str(layout.path), f"{registry.host}/team/x@sha256:{'a' * 64}")
    assert to_digest.code == 2
    pull_missing = cli.artreg("pull", f"{registry.host}/team/absent:v1", str(tmp_path / "o"))
    assert pull_missing.code == 3
    assert pull_missing.stderr.startswith("error: REMOTE_RESOURCE_NOT_FOUND: ")
    copy_missing = cli.artreg("copy", f"{registry.host}/team/absent:v1", f"{registry.host}/b/c")
    assert copy_missing.code == 3
    bad_jobs = cli.artreg("push", str(layout.path), f"{registry.host}/team/x:v1", "--jobs", "0")
    assert bad_jobs.code == 2


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[RunningRegistry]:
    hashed = bcrypt.hashpw(TOKEN.encode(), bcrypt.gensalt(rounds=4))
    with embedded_registry(
        tmp_path / "protected", auth=Authenticator(users={"AWS": hashed})
    ) as reg:
        yield reg


def test_push_needs_credentials_a_binding_provides(
    cli: Cli, moto: MotoServer, protected: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="v1")
    ref = f"{protected.host}/team-app:v1"
    refused = cli.artreg("push", str(layout.path), ref, "-q")
    assert refused.code == 4, refused.stderr
    cli.env.update(
        moto.env(AWS_ACCOUNT_ID=ACCOUNT_ID, ARTREG_ECR_REGISTRY_ENDPOINT=f"http://{protected.host}")
    )
    cli.bind("artifacts", {"service": "ecr", "repositoryPrefix": "team"})
    stderr = quiet_round_trip(cli, layout.path, ref, tmp_path / "out")
    assert TOKEN not in stderr


def test_https_registry_is_trusted_through_ssl_cert_file(cli: Cli, tmp_path: Path) -> None:
    """A ``local`` binding with an ``https://`` registryUrl on loopback: the transfer speaks TLS,
    fails with the reason while the CA is unknown, and succeeds once SSL_CERT_FILE names it."""
    cert = make_certificate(tmp_path / "pki")
    with start_in_thread(
        tmp_path / "tls-data", tls_cert=cert.cert_file, tls_key=cert.key_file
    ) as server:
        cli.bind("artifacts", {"service": "local", "registryUrl": server.url, "dataDir": None})
        layout = build_layout(tmp_path / "src", tag="v1")
        ref = f"{server.host}/artifacts/tls-app:v1"
        untrusted = cli.artreg("push", str(layout.path), ref, "-q")
        assert untrusted.code == 6, untrusted.stderr
        assert "REMOTE_SERVICE_UNAVAILABLE" in untrusted.stderr
        assert "certificate verify failed" in untrusted.stderr
        assert "SSL_CERT_FILE" in untrusted.stderr
        cli.env["SSL_CERT_FILE"] = str(cert.ca_file)
        quiet_round_trip(cli, layout.path, ref, tmp_path / "out")


def test_progress_bars_under_a_pseudo_terminal(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "src", tag="v1", layer_sizes=(2_000_000,))
    env = cli.base_env()
    env.update({"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"})
    env.pop("NO_COLOR", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.chdir(cli.home)
        os.execve(
            str(BIN / "artreg"),
            [str(BIN / "artreg"), "push", str(layout.path), f"{registry.host}/team/tty:v1"],
            env,
        )
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "pushed total" in text  # the overall bar
    assert "sha256:" in text  # a bar per blob, named by its short digest
    assert "━" in text  # drawn as bars, not plain lines
    assert "\x1b[" in text  # with terminal control sequences
    assert f"Pushed {registry.host}/team/tty:v1@{layout.manifest_digest}" in " ".join(text.split())


def test_index_round_trip_and_platform_filter(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_index_layout(tmp_path / "src")
    ref = f"{registry.host}/team/multi:v1"
    pushed = cli.artreg("push", str(layout.path), ref, "-q")
    assert pushed.code == 0, pushed.stderr
    assert pushed.json()["digest"] == layout.manifest_digest
    assert pushed.json()["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert pushed.json()["blobs"] == 4
    table = cli.artreg("manifest", "get", ref, "-o", "table").stdout
    assert "linux/amd64" in table and "linux/arm64" in table
    out = tmp_path / "out"
    pulled = cli.artreg("pull", ref, str(out), "-q")
    assert pulled.code == 0, pulled.stderr
    assert tagged_digest(out, "v1") == layout.manifest_digest
    for digest in layout.blob_digests:
        assert (out / "blobs" / "sha256" / digest[7:]).is_file()
    amd = tmp_path / "amd64"
    one = cli.artreg("pull", ref, str(amd), "-q", "--platform", "linux/amd64")
    assert one.code == 0, one.stderr
    assert one.json()["blobs"] == 2


def test_push_from_a_layout_of_several_images_needs_a_choice(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    first = build_layout(tmp_path / "src", tag="one")
    index = json.loads((first.path / "index.json").read_text())
    second = build_layout(tmp_path / "other", tag="two")
    index["manifests"] += json.loads((second.path / "index.json").read_text())["manifests"]
    for blob in (second.path / "blobs" / "sha256").iterdir():
        (first.path / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())
    (first.path / "index.json").write_text(json.dumps(index))
    ambiguous = cli.artreg("push", str(first.path), f"{registry.host}/team/pick:v1")
    assert ambiguous.code == 2
    assert "--source-tag (the layout's tags: one, two)" in ambiguous.stderr
    chosen = cli.artreg(
        "push", str(first.path), f"{registry.host}/team/pick:v1", "--source-tag", "two", "-q"
    )
    assert chosen.code == 0, chosen.stderr
    assert chosen.json()["digest"] == second.manifest_digest
    by_name = cli.artreg("push", str(first.path), f"{registry.host}/team/pick:one", "-q")
    assert by_name.json()["digest"] == first.manifest_digest


def test_pull_and_copy_fetch_each_manifest_once(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    from tests.oci.helpers import FaultProxy

    layout = build_index_layout(tmp_path / "src")
    assert cli.artreg("push", str(layout.path), f"{registry.host}/team/once:v1", "-q").code == 0
    proxy = FaultProxy(registry.host)
    with proxy.running() as host:
        pulled = cli.artreg("pull", f"{host}/team/once:v1", str(tmp_path / "out"), "-q")
        assert pulled.code == 0, pulled.stderr
        gets = sorted(s.path for s in proxy.seen if s.method == "GET" and "/manifests/" in s.path)
        # the index by tag, then each of its two children by digest: one GET each
        assert len(gets) == 3 and len(set(gets)) == 3, gets
        assert "/v2/team/once/manifests/v1" in gets
        proxy.seen.clear()
        copied = cli.artreg("copy", f"{host}/team/once:v1", f"{host}/team/twice:v1", "-q")
        assert copied.code == 0, copied.stderr
        gets = [s.path for s in proxy.seen if s.method == "GET" and "/manifests/" in s.path]
        assert len(gets) == 3 and len(set(gets)) == 3, gets
