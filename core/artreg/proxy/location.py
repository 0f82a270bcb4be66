"""``Location`` rewriting and signed upload sessions.

An upstream ``Location`` that is relative, or absolute on the upstream's own host, is moved onto
the proxy's base URL; any other absolute URL (a pre-signed object-store URL) passes through.
When the rewritten URL is an upload session (``/v2/{repo}/blobs/uploads/{id}`` or GAR's
``/artifacts-uploads/...``), it is signed: the query gains ``_artreg_v``, ``_artreg_repo``,
``_artreg_exp`` and ``_artreg_sig`` = base64url(HMAC-SHA256(K, "1\\n{path}\\n{repo}\\n{exp}")),
K derived from the signing key. A client that drops ``Authorization`` on the Location (some do)
can still finish its upload; the parameters are stripped before the request goes upstream.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from artreg.serving.b64url import b64url_encode

__all__ = [
    "SIGNATURE_PARAMS",
    "SessionSignatureError",
    "UploadSigner",
    "proxy_base",
    "rewrite_location",
    "split_signature",
]

VERSION: Final = "1"
SESSION_TTL: Final = 3600
SIGNATURE_PARAMS: Final = ("_artreg_v", "_artreg_repo", "_artreg_exp", "_artreg_sig")
_UPLOAD_PATH: Final = re.compile(r"^/v2/.+/blobs/uploads/[^/]+\Z|^/artifacts-uploads/.+\Z")
_FORWARDED_PAIR: Final = re.compile(r'(?i)(?:^|[;,\s])(host|proto)=("[^"]*"|[^;,\s]*)')
_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(?::\d{1,5})?\Z|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?\Z")


class SessionSignatureError(Exception):
    """A signed upload-session URL whose signature is missing, wrong or expired."""


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def _forwarded(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get("forwarded")
    if not value:
        return None
    first = value.split(",")[0]
    for match in _FORWARDED_PAIR.finditer(first):
        if match[1].lower() == name:
            return match[2].strip('"') or None
    return None


def proxy_base(headers: Mapping[str, str], scheme: str, fallback_host: str) -> str:
    """The proxy's base URL as the client sees it: the host from ``X-Forwarded-Host``, else
    ``Forwarded: host=``, else ``Host`` (else ``fallback_host``); the scheme from
    ``X-Forwarded-Proto``, else ``Forwarded: proto=``, else the listener's own. Values that are
    not a plain host[:port] or http/https are ignored."""
    host = None
    for candidate in (
        _first(headers.get("x-forwarded-host")),
        _forwarded(headers, "host"),
        headers.get("host"),
    ):
        if candidate and _HOST.match(candidate):
            host = candidate
            break
    proto = None
    for candidate in (_first(headers.get("x-forwarded-proto")), _forwarded(headers, "proto")):
        if candidate and candidate.lower() in ("http", "https"):
            proto = candidate.lower()
            break
    return f"{proto or scheme}://{host or fallback_host}"


def rewrite_location(location: str, upstream: str, base: str) -> tuple[str, bool]:
    """The Location the client gets, and whether it points at the proxy (else it is an outside
    URL, passed through unchanged)."""
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        path = location if location.startswith("/") else "/" + location
        return base + path, True
    up = urlsplit(upstream)
    if parts.netloc.lower() == up.netloc.lower():
        target = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
        return base + target, True
    return location, False


def is_upload_session(path: str) -> bool:
    return _UPLOAD_PATH.match(path) is not None


def split_signature(query: str) -> tuple[dict[str, str], str]:
    """The ``_artreg_*`` parameters of a query string, and the query without them."""
    pairs = parse_qsl(query, keep_blank_values=True)
    signature = {k: v for k, v in pairs if k in SIGNATURE_PARAMS}
    rest = urlencode([(k, v) for k, v in pairs if k not in SIGNATURE_PARAMS], quote_via=quote)
    return signature, rest


class UploadSigner:
    """Signs and checks upload-session URLs with a key derived from the signing key."""

    def __init__(
        self, signing_key: bytes, *, ttl: int = SESSION_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = hmac.new(signing_key, b"artreg-proxy-upload-session", hashlib.sha256).digest()
        self.ttl = ttl
        self._clock = clock

    def __repr__(self) -> str:
        return f"UploadSigner(ttl={self.ttl})"

    def _mac(self, path: str, repo: str, exp: str) -> str:
        message = f"{VERSION}\n{path}\n{repo}\n{exp}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return b64url_encode(digest)

    def sign(self, url: str, repo: str) -> str:
        """``url`` (on the proxy) with the signature parameters appended to its query."""
        parts = urlsplit(url)
        exp = str(int(self._clock()) + self.ttl)
        params = {
            "_artreg_v": VERSION,
            "_artreg_repo": repo,
            "_artreg_exp": exp,
            "_artreg_sig": self._mac(parts.path, repo, exp),
        }
        _, kept = split_signature(parts.query)
        extra = urlencode(params, quote_via=quote)
        query = f"{kept}&{extra}" if kept else extra
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def verify(self, path: str, signature: Mapping[str, str]) -> str:
        """The repository a signed upload-session path was issued for; raises
        :class:`SessionSignatureError` when the signature does not hold."""
        version = signature.get("_artreg_v")
        repo = signature.get("_artreg_repo")
        exp = signature.get("_artreg_exp")
        given = signature.get("_artreg_sig")
        if version != VERSION or not repo or not exp or not given or not exp.isdigit():
            raise SessionSignatureError("incomplete upload session signature")
        expected = self._mac(path, repo, exp)
        try:
            ok = hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))
        except (UnicodeEncodeError, binascii.Error):
            ok = False
        if not ok:
            raise SessionSignatureError("bad upload session signature")
        if int(exp) <= self._clock():
            raise SessionSignatureError("expired upload session signature")
        return repo
