"""Helpers for the OCI client tests: registries to run against, small ASGI servers on loopback,
and test images built in memory."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yield ``127.0.0.1:PORT``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class TestImage:
    """An image built in memory: config, layers and manifest bytes."""

    config: bytes
    layers: list[bytes]
    manifest: bytes
    media_type: str = "application/vnd.oci.image.manifest.v1+json"

    __test__ = False

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    def blobs(self) -> dict[str, bytes]:
        result = {sha256(self.config): self.config}
        for layer in self.layers:
            result[sha256(layer)] = layer
        return result


def make_image(
    *layers: bytes,
    arch: str = "amd64",
    docker: bool = False,
    layer_type: str | None = None,
) -> TestImage:
    """A small image with the given layer bytes (OCI by default, Docker v2 with ``docker``)."""
    config = canonical(
        {
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
            "config": {},
        }
    )
    if docker:
        media = "application/vnd.docker.distribution.manifest.v2+json"
        config_type = "application/vnd.docker.container.image.v1+json"
        ltype = layer_type or "application/vnd.docker.image.rootfs.diff.tar.gzip"
    else:
        media = "application/vnd.oci.image.manifest.v1+json"
        config_type = "application/vnd.oci.image.config.v1+json"
        ltype = layer_type or "application/vnd.oci.image.layer.v1.tar"
    manifest = {
        "schemaVersion": 2,
        "mediaType": media,
        "config": {"mediaType": config_type, "digest": sha256(config), "size": len(config)},
        "layers": [
            {"mediaType": ltype, "digest": sha256(layer), "size": len(layer)} for layer in layers
        ],
    }
    return TestImage(config, list(layers), json.dumps(manifest, indent=3).encode(), media)


def make_index(images: dict[str, TestImage]) -> bytes:
    """An OCI index over images keyed by architecture."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": img.media_type,
                    "digest": img.digest,
                    "size": len(img.manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for arch, img in images.items()
            ],
        },
        indent=2,
    ).encode()


@dataclass
class Seen:
    """One request the proxy received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body_size: int


class FaultProxy:
    """A reverse proxy in front of a registry that can answer instead of it.

    ``rule(seen, count)`` sees every request (``count``: how many requests so far had the same
    method and path) and returns a Starlette response to send instead, or None to forward.
    ``after(seen, response)`` may change forwarded responses. ``Location`` headers are rewritten to point back at the proxy.
    """

    def __init__(
        self,
        upstream: str,
        rule: Callable[[Seen, int], Any] | None = None,
        after: Callable[[Seen, Any], None] | None = None,
    ) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Route

        self.upstream = upstream
        self.rule = rule
        self.after = after
        self.seen: list[Seen] = []
        self.host = ""
        self._counts: dict[tuple[str, str], int] = {}
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._handle,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )

    async def _handle(self, request: Any) -> Any:
        import httpx
        from starlette.responses import Response

        body = await request.body()
        seen = Seen(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            len(body),
        )
        self.seen.append(seen)
        key = (seen.method, seen.path)
        self._counts[key] = self._counts.get(key, 0) + 1
        if self.rule is not None:
            answer = self.rule(seen, self._counts[key])
            if answer is not None:
                return answer
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in {"host", "content-length", "transfer-encoding"}
        }
        url = f"http://{self.upstream}{request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        async with httpx.AsyncClient() as client:
            upstream = await client.request(request.method, url, headers=headers, content=body)
        out_headers = {
            k: v.replace(self.upstream, self.host)
            for k, v in upstream.headers.items()
            if k.lower()
            not in {"content-length", "transfer-encoding", "connection", "content-encoding"}
        }
        if request.method == "HEAD" and "content-length" in upstream.headers:
            out_headers["content-length"] = upstream.headers["content-length"]
            response = Response(b"", status_code=upstream.status_code, headers=out_headers)
        else:
            response = Response(
                upstream.content, status_code=upstream.status_code, headers=out_headers
            )
        if self.after is not None:
            self.after(seen, response)
        return response

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        with serve_asgi(self.app) as host:
            self.host = host
            yield host

    def count(self, method: str, path_part: str = "") -> int:
        return sum(1 for s in self.seen if s.method == method and path_part in s.path)
