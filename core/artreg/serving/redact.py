"""The one redaction rule: what must never reach a log line, an error message or a printout.

:func:`redact` removes every secret this process was told about (:func:`register_secret`) and
every credential-shaped substring, whichever library produced the text: the values of
credential-named fields in JSON, Python reprs, query strings, forms and header lines (the key
list covers the names the AWS, Google and Azure SDKs and the Docker token spec use), the
credentials of ``Authorization`` headers, ``user:password@`` in URLs, JWTs, AWS access key ids
and PEM private keys.
"""

from __future__ import annotations

import re
import threading
from typing import Final

__all__ = ["CREDENTIAL_KEY", "MASK", "redact", "register_secret"]

MASK: Final = "***"

#: A field, parameter or header name that holds a credential: any name containing one of these
#: words (``authorizationToken``, ``accessToken``, ``refresh_token``, ``SecretAccessKey``,
#: ``client_secret``, ``X-Amz-Security-Token``, ``Proxy-Authorization``, ``password``…).
CREDENTIAL_KEY: Final = (
    r"[A-Za-z0-9_.-]*?(?:token|secret|passw(?:or)?d|pwd|authorization|signature|credential"
    r"|api[_-]?key|private[_-]?key|access[_-]?key|account[_-]?key|session[_-]?key|cookie"
    r"|_alien_sig|\bsig\b)[A-Za-z0-9_.-]*"
)

# Secrets at least this long are removed wherever they appear; shorter ones only where they
# stand alone (so a 3-letter token does not blank out every word containing those letters).
_SUBSTRING_MIN: Final = 8

_PATTERNS: Final = (
    # PEM private keys
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        "-----BEGIN PRIVATE KEY-----" + MASK,
    ),
    # "key": "value" / 'key': 'value' (JSON, Python reprs, with escaped quotes inside strings)
    (
        re.compile(
            rf"(?i)((?:\\?[\"'])(?:{CREDENTIAL_KEY})(?:\\?[\"'])\s*:\s*b?(\\?[\"']))(.*?)(\2)"
        ),
        rf"\1{MASK}\4",
    ),
    # key=value (query strings, forms, SigV4's Credential=/Signature=)
    (
        re.compile(
            rf"(?i)(?<![A-Za-z0-9_.-])((?:{CREDENTIAL_KEY})\s*=\s*(?![\"'\s{{\[])"
            r"(?:(?:bearer|basic|aws4-hmac-sha256|negotiate|token)\s+)?)[^\s&,;\"'<>}\]]+"
        ),
        rf"\1{MASK}",
    ),
    # header lines: "Authorization: Basic …", "X-Amz-Security-Token: …"
    (
        re.compile(
            r"(?im)^(\s*(?:proxy-)?(?:authorization|x-amz-security-token|x-registry-auth"
            r"|cookie|set-cookie|x-api-key)\s*:\s*(?:(?:bearer|basic|aws4-hmac-sha256)\s+)?)\S.*$"
        ),
        rf"\1{MASK}",
    ),
    # botocore's debug line "Signature:\n<hex>" (a SigV4 signature can be replayed for minutes)
    (re.compile(r"(?i)(\bsignature:\s*(?:\\n)?\s*)[0-9a-f]{64}\b"), rf"\1{MASK}"),
    # Authorization header values wherever they appear
    (
        re.compile(r"(?i)\b(bearer|basic|aws4-hmac-sha256)\s+[A-Za-z0-9._~+/=:,-]{8,}"),
        rf"\1 {MASK}",
    ),
    # user:password@ in URLs
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]+@"), rf"\1:{MASK}@"),
    # JWTs (GCP, Azure and registry tokens)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    # Google OAuth access tokens
    (re.compile(r"\bya29\.[A-Za-z0-9._-]{8,}"), MASK),
    # AWS access key ids
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}\b"), rf"\1{MASK}"),
)

_secrets: set[str] = set()
_short: list[re.Pattern[str]] = []
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret (a token, a password) so no redacted text can contain it."""
    if not value or not value.strip():
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        if len(value) < _SUBSTRING_MIN:
            _short.append(re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"))


def redact(text: str) -> str:
    """``text`` without any registered secret and without credential-shaped substrings."""
    with _lock:
        long_ones = sorted((s for s in _secrets if len(s) >= _SUBSTRING_MIN), key=len, reverse=True)
        short_ones = list(_short)
    for secret in long_ones:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in short_ones:
        text = pattern.sub(MASK, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
