"""The shared rules as pure functions: Host/Origin, X-Forwarded-For, JSON depth, throttling,
redaction and log escaping."""

from __future__ import annotations

import json
import logging

import pytest

from artreg.serving import (
    FailureLimiter,
    ForwardedAllow,
    ForwardedConfigError,
    HostRules,
    JsonTooDeep,
    LogOnce,
    SafeFormatter,
    check_depth,
    escape,
    redact,
    register_secret,
)

# -- Host / Origin ----------------------------------------------------------------------------


def test_loopback_rules() -> None:
    rules = HostRules.for_listener("127.0.0.1", hosts=["registry.internal:5000"])
    assert rules.refusal("GET", "localhost:5000", None) is None
    assert rules.refusal("GET", "registry.internal", None) is None
    assert rules.refusal("GET", None, None) is None
    assert rules.refusal("GET", "evil.example", None) == "Host not allowed on this listener"
    assert rules.refusal("GET", "localhost@evil.example", None) is not None
    assert rules.refusal("GET", "evil.example", "http://localhost") is not None
    # Origin matters only when the request changes state
    assert rules.refusal("GET", "localhost", "https://evil.example") is None
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert rules.refusal(method, "localhost", "https://evil.example") == (
            "cross-origin request refused"
        )
        assert rules.refusal(method, "localhost", "null") is not None
        assert rules.refusal(method, "localhost", "http://127.0.0.1:8080") is None
        assert rules.refusal(method, "localhost", "http://[::1]:3000") is None


def test_public_rules_accept_any_host_unless_names_are_configured() -> None:
    assert HostRules.for_listener("0.0.0.0").refusal("GET", "registry.example.com", None) is None
    named = HostRules.for_listener("0.0.0.0", hosts=["registry.example.com"])
    assert named.refusal("GET", "registry.example.com:443", None) is None
    assert named.refusal("GET", "other.example.com", None) is not None


def test_configured_origins() -> None:
    rules = HostRules.for_listener("127.0.0.1", origins=["https://app.example.com/"])
    assert rules.origin_allowed("https://app.example.com")
    assert not rules.origin_allowed("https://app.example.com.evil.example")
    assert HostRules.for_listener("127.0.0.1", origins=["*"]).origin_allowed("https://x.y")


# -- X-Forwarded-For ----------------------------------------------------------------------------


def test_forwarded_for_only_from_allowed_proxies() -> None:
    none = ForwardedAllow.parse(None)
    assert none.client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"
    lb = ForwardedAllow.parse("10.0.0.0/8, 127.0.0.1")
    assert lb.client("10.1.2.3", ["203.0.113.9"]) == "203.0.113.9"
    assert lb.client("10.1.2.3", ["198.51.100.1, 203.0.113.9, 10.0.0.5"]) == "203.0.113.9"
    assert lb.client("192.0.2.1", ["203.0.113.9"]) == "192.0.2.1"  # not a listed proxy
    assert lb.client("10.1.2.3", ["1.2.3.4\nfake"]) == "10.1.2.3"  # not an address
    assert lb.client("10.1.2.3", ["[2001:db8::1]:443"]) == "2001:db8::1"
    with pytest.raises(ForwardedConfigError):
        ForwardedAllow.parse("localhost")


# -- JSON depth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 63, 64])
def test_json_within_the_depth_limit(depth: int) -> None:
    check_depth("[" * depth + "]" * depth, 64)
    check_depth('{"a":' * depth + "1" + "}" * depth, 64)


@pytest.mark.parametrize("depth", [65, 10_000, 100_000])
def test_json_beyond_the_depth_limit(depth: int) -> None:
    with pytest.raises(JsonTooDeep):
        check_depth(b"[" * depth + b"]" * depth, 64)
    with pytest.raises(JsonTooDeep):
        check_depth(b'{"a":[' * depth + b"]}" * depth, 64)


def test_json_depth_ignores_brackets_in_strings_and_counts_siblings_once() -> None:
    check_depth(json.dumps({"s": "[" * 1000 + '\\"' + "{" * 1000, "l": [[1]] * 5000}), 64)
    check_depth(b"[" * 100, 64)  # malformed: left for the parser to refuse


# -- throttling ---------------------------------------------------------------------------------


def test_failure_limiter_refills() -> None:
    now = [0.0]
    limiter = FailureLimiter(burst=3, refill_seconds=10, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.failed("a")
    assert limiter.retry_after("a") == 10
    assert limiter.retry_after("b") is None
    now[0] = 10.0
    assert limiter.retry_after("a") is None


def test_failure_limiter_memory_is_bounded() -> None:
    limiter = FailureLimiter(burst=3, refill_seconds=10, max_keys=100, clock=lambda: 0.0)
    for i in range(10_000):
        limiter.failed(f"user{i}")
    assert len(limiter._buckets) == 100


def test_log_once_per_window() -> None:
    now = [0.0]
    once = LogOnce(60, clock=lambda: now[0])
    assert once("a") == (True, 0)
    assert once("a") == (False, 0)
    assert once("a") == (False, 0)
    now[0] = 61.0
    assert once("a") == (True, 2)


# -- redaction and escaping ---------------------------------------------------------------------

_BOTOCORE_BODY = (
    'Response body:\nb\'{"authorizationData":[{"authorizationToken":"QVdTOmV5SnBZWGxz",'
    '"expiresAt":1.7E9,"proxyEndpoint":"https://1.dkr.ecr.us-east-1.amazonaws.com"}]}\''
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (_BOTOCORE_BODY, "QVdTOmV5SnBZWGxz"),
        ("{'accessToken': 'gho_abcdef', 'expireTime': 'x'}", "gho_abcdef"),
        ('{"access_token":"at-123","refresh_token":"rt-456"}', "at-123"),
        ('{"access_token":"at-123","refresh_token":"rt-456"}', "rt-456"),
        ("grant_type=password&username=bob&password=hunter2", "hunter2"),
        ('{"SecretAccessKey": "wJalrXUtnFEMI", "SessionToken": "FwoGZX"}', "wJalrXUtnFEMI"),
        ('{"SecretAccessKey": "wJalrXUtnFEMI", "SessionToken": "FwoGZX"}', "FwoGZX"),
        ("{'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIA1/x, Signature=cafe01'}", "cafe01"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("X-Amz-Security-Token: IQoJb3JpZ2luX2VjE", "IQoJb3JpZ2luX2VjE"),
        ('{"client_secret": "s3cr3t", "secret": "s2"}', "s3cr3t"),
        ('"{\\"password\\": \\"pw-in-json-in-json\\"}"', "pw-in-json-in-json"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-part", "eyJzdWIiOiIxIn0"),
    ],
)
def test_credential_fields_are_redacted(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_short_registered_secrets_are_redacted_as_words() -> None:
    register_secret("x9z")
    assert redact("token=x9z and x9z.").count("x9z") == 0
    assert redact("ax9zb") == "ax9zb"


def test_the_log_formatter_escapes_then_redacts() -> None:
    record = logging.LogRecord(
        "botocore.parsers", logging.DEBUG, __file__, 1, "%s", (_BOTOCORE_BODY,), None
    )
    line = SafeFormatter("%(name)s: %(message)s").format(record)
    assert "\n" not in line and "QVdTOmV5SnBZWGxz" not in line
    assert line.startswith("botocore.parsers: Response body:\\nb'")


def test_escape() -> None:
    assert escape("a\nb\r\x1b[31m\\") == "a\\nb\\r\\x1b[31m\\\\"
    assert escape("é ok") == "é ok"
    assert escape("x" * 5000).endswith("…")
