"""Unpadded base64url (RFC 4648 §5, padding dropped as JWS does): how the registry's and the
proxy's tokens and the proxy's signed upload URLs carry bytes in text."""

from __future__ import annotations

import base64

__all__ = ["b64url_decode", "b64url_encode"]


def b64url_encode(data: bytes) -> str:
    """``data`` as base64url without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of unpadded (or padded) base64url ``text``; ``binascii.Error`` when malformed."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
