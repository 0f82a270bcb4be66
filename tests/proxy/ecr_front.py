"""ECR's API endpoint for a test where moto answers everything but ``GetDownloadUrlForLayer``,
and the S3 layer bucket its download URLs point at.

:class:`EcrFront` listens on loopback and passes every ECR JSON-protocol request (``POST /``,
``X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.{Operation}``) to moto unchanged, except
``GetDownloadUrlForLayer`` (Amazon ECR API Reference): that one it answers itself, checking the
request's ``repositoryName`` and ``layerDigest`` fields, with ``{"downloadUrl", "layerDigest"}``
— a pre-signed URL on :class:`LayerBucket`.

:class:`LayerBucket` stands in for the layer bucket: it serves ``GET /{repo}/{digest}?X-Amz-...``
by reading the blob from the registry host (as ECR's storage holds it) and, like S3 for a
pre-signed URL, refuses a request that also carries an ``Authorization`` header.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

TARGET = "AmazonEC2ContainerRegistry_V20150921.GetDownloadUrlForLayer"


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.port = self._server.server_address[1]

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class LayerBucket(_Server):
    """Serves blobs of ``registry_url`` (read with ``auth``) at pre-signed-looking URLs."""

    def __init__(self, registry_url: str, auth: tuple[str, str], host: str = "localhost") -> None:
        self.served: list[str] = []
        self.refused: list[str] = []
        bucket = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if "X-Amz-Signature=" not in parts.query or self.headers.get("Authorization"):
                    bucket.refused.append(self.path)
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                repo, _, digest = parts.path.lstrip("/").rpartition("/")
                blob = httpx.get(f"{registry_url}/v2/{repo}/blobs/{digest}", auth=auth)
                bucket.served.append(digest)
                self.send_response(blob.status_code)
                self.send_header("Content-Length", str(len(blob.content)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                self.wfile.write(blob.content)

        super().__init__(Handler)
        self.url = f"http://{host}:{self.port}"


class EcrFront(_Server):
    """moto's ECR, plus GetDownloadUrlForLayer answered with URLs on ``bucket_url``."""

    def __init__(self, moto_url: str, bucket_url: str) -> None:
        self.download_requests: list[dict[str, Any]] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Amz-Target") == TARGET:
                    request = json.loads(body)
                    front.download_requests.append(request)
                    assert set(request) == {"repositoryName", "layerDigest"}, request
                    url = (
                        f"{bucket_url}/{request['repositoryName']}/{request['layerDigest']}"
                        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"
                    )
                    self._answer(
                        200,
                        json.dumps(
                            {"downloadUrl": url, "layerDigest": request["layerDigest"]}
                        ).encode(),
                        "application/x-amz-json-1.1",
                    )
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = httpx.post(f"{moto_url}{self.path}", content=body, headers=headers)
                self._answer(
                    answer.status_code, answer.content, answer.headers.get("content-type", "")
                )

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}"
