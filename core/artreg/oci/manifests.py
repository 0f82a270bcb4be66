"""Manifest operations: get (exact bytes), head, put (bytes verbatim), delete; tag and catalog
listing with ``Link`` pagination (at most 1000 per page)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from artreg.digest import Digest, Hasher
from artreg.errors import InvalidInput, UnexpectedResponseFormat
from artreg.oci import mediatypes
from artreg.oci.errors import NOT_FOUND_CODES, oci_error_codes
from artreg.oci.reference import validate_reference, validate_repository
from artreg.oci.transport import Subject, Transport, error_for, error_for_stream
from artreg.types import ManifestHead

__all__ = [
    "MAX_MANIFEST_SIZE",
    "MAX_PAGE",
    "delete_manifest",
    "get_manifest",
    "head_manifest",
    "iter_catalog",
    "iter_tags",
    "put_manifest",
]

#: Manifests larger than this are refused (the distribution registry's own limit is 4 MiB).
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024
#: The most entries asked for per page (ECR's limit).
MAX_PAGE: Final = 1000

_LINK_RE: Final = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def _content_type(header: str | None, body: bytes) -> str:
    if header and mediatypes.base_type(header) != "application/json":
        return mediatypes.base_type(header)
    try:
        media = json.loads(body).get("mediaType")
    except (ValueError, AttributeError, UnicodeDecodeError):
        media = None
    return media if isinstance(media, str) and media else mediatypes.OCI_MANIFEST


def _subject(verb: str, repository: str, reference: str) -> Subject:
    name = f"{repository}:{reference}"
    return Subject(
        operation=f"{verb} manifest {name}", resource_type="manifest", resource_name=name
    )


async def get_manifest(
    t: Transport, repository: str, reference: str, *, accept: str = mediatypes.MANIFEST_ACCEPT
) -> tuple[bytes, str]:
    """The manifest's exact bytes and its content type. A digest reference is verified."""
    validate_repository(repository)
    validate_reference(reference)
    subject = _subject("Get", repository, reference)
    response = await t.request(
        "GET",
        f"/v2/{repository}/manifests/{reference}",
        **subject,
        repository=repository,
        headers={"Accept": accept},
        stream=True,
        follow_redirects=True,
    )
    if response.status_code != 200:
        raise await error_for_stream(response, **subject)
    data = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > MAX_MANIFEST_SIZE:
                raise InvalidInput(
                    operation_context=subject["operation"],
                    details=f"manifest is larger than {MAX_MANIFEST_SIZE} bytes",
                    field_name="reference",
                )
    finally:
        await response.aclose()
    body = bytes(data)
    if ":" in reference:
        expected = Digest.parse(reference)
        hasher = Hasher(expected.algorithm)
        hasher.update(body)
        if hasher.digest() != expected:
            raise UnexpectedResponseFormat(
                provider="oci",
                binding_name=t.registry,
                field="manifest",
                response_json=f"manifest bytes hash to {hasher.digest()}, not {reference}",
            )
    return body, _content_type(response.headers.get("content-type"), body)


async def head_manifest(t: Transport, repository: str, reference: str) -> ManifestHead | None:
    """Content type and digest, or None when the manifest does not exist. When the registry
    sends no ``Docker-Content-Digest`` the manifest is fetched and hashed instead."""
    validate_repository(repository)
    validate_reference(reference)
    subject = _subject("Head", repository, reference)
    response = await t.request(
        "HEAD",
        f"/v2/{repository}/manifests/{reference}",
        **subject,
        repository=repository,
        headers={"Accept": mediatypes.MANIFEST_ACCEPT},
        follow_redirects=True,
    )
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise error_for(response, **subject)
    digest = response.headers.get("docker-content-digest", "")
    content_type = response.headers.get("content-type")
    if digest and content_type and mediatypes.base_type(content_type) != "application/json":
        return ManifestHead(content_type=mediatypes.base_type(content_type), digest=digest)
    body, media = await get_manifest(t, repository, reference)
    return ManifestHead(content_type=media, digest=str(Digest.of(body)))


async def put_manifest(
    t: Transport, repository: str, reference: str, data: bytes, content_type: str
) -> str:
    """PUT the bytes verbatim under ``content_type``; return their digest."""
    validate_repository(repository)
    validate_reference(reference)
    subject = _subject("Put", repository, reference)
    if len(data) > MAX_MANIFEST_SIZE:
        raise InvalidInput(
            operation_context=subject["operation"],
            details=f"manifest is larger than {MAX_MANIFEST_SIZE} bytes",
            field_name="bytes",
        )
    digest = str(Digest.of(data))
    if ":" in reference and reference != digest:
        expected = Digest.parse(reference)
        if str(Digest.of(data, expected.algorithm)) != reference:
            raise InvalidInput(
                operation_context=subject["operation"],
                details=f"manifest bytes hash to {digest}, not {reference}",
                field_name="reference",
            )
        digest = reference
    response = await t.request(
        "PUT",
        f"/v2/{repository}/manifests/{reference}",
        **subject,
        repository=repository,
        push=True,
        headers={"Content-Type": content_type},
        body=data,
    )
    if response.status_code not in (200, 201, 202):
        raise error_for(response, **subject)
    return digest


async def delete_manifest(t: Transport, repository: str, reference: str) -> bool:
    """Delete a manifest (by digest; tags only where the registry allows). False when absent."""
    validate_repository(repository)
    validate_reference(reference)
    subject = _subject("Delete", repository, reference)
    response = await t.request(
        "DELETE",
        f"/v2/{repository}/manifests/{reference}",
        **subject,
        repository=repository,
        scopes=(f"repository:{repository}:delete", f"repository:{repository}:pull,push"),
        push=True,
    )
    if response.status_code == 404:
        codes, _ = oci_error_codes(response.content)
        if not codes or NOT_FOUND_CODES & set(codes):
            return False
    if response.status_code not in (200, 202, 204):
        raise error_for(response, **subject)
    return True


def _next_page(link: str | None) -> dict[str, str] | None:
    if not link:
        return None
    m = _LINK_RE.search(link)
    if not m:
        return None
    return dict(parse_qsl(urlsplit(m.group(1)).query))


async def _pages(
    t: Transport,
    path: str,
    key: str,
    *,
    op: str,
    resource_type: str,
    resource_name: str,
    repository: str,
    scopes: tuple[str, ...] | None,
    page_size: int,
) -> AsyncIterator[str]:
    page_size = max(1, min(page_size, MAX_PAGE))
    params: dict[str, str] = {"n": str(page_size)}
    seen_last: set[str] = set()
    while True:
        response = await t.request(
            "GET",
            path,
            operation=op,
            resource_type=resource_type,
            resource_name=resource_name,
            repository=repository,
            scopes=scopes,
            params=params,
            follow_redirects=True,
        )
        if response.status_code != 200:
            raise error_for(
                response, operation=op, resource_type=resource_type, resource_name=resource_name
            )
        try:
            values = json.loads(response.content).get(key) or []
        except (ValueError, AttributeError) as exc:
            raise UnexpectedResponseFormat(
                provider="oci", binding_name=t.registry, field=key, response_json="not JSON"
            ) from exc
        for value in values:
            yield str(value)
        following = _next_page(response.headers.get("link"))
        if following is None or not values:
            return
        last = following.get("last", str(values[-1]))
        if last in seen_last:
            return
        seen_last.add(last)
        params = {"n": str(page_size), "last": last}


def iter_tags(t: Transport, repository: str, *, page_size: int = MAX_PAGE) -> AsyncIterator[str]:
    """Every tag of a repository, page by page (registry order)."""
    validate_repository(repository)
    return _pages(
        t,
        f"/v2/{repository}/tags/list",
        "tags",
        op=f"List tags of {repository}",
        resource_type="repository",
        resource_name=repository,
        repository=repository,
        scopes=None,
        page_size=page_size,
    )


def iter_catalog(t: Transport, *, page_size: int = MAX_PAGE) -> AsyncIterator[str]:
    """Every repository the registry lists in ``/v2/_catalog``, page by page."""
    return _pages(
        t,
        "/v2/_catalog",
        "repositories",
        op="List repositories",
        resource_type="registry",
        resource_name=t.registry,
        repository="",
        scopes=("registry:catalog:*",),
        page_size=page_size,
    )
