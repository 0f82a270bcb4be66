"""Distribution-spec error responses: ``{"errors": [{"code", "message", "detail"}]}``."""

from __future__ import annotations

from typing import Any, Final

#: Each spec error code with the HTTP status it is usually sent with.
STATUS: Final[dict[str, int]] = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    "PAGINATION_NUMBER_INVALID": 400,
    "RANGE_INVALID": 416,
}

_MESSAGES: Final[dict[str, str]] = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "TAG_INVALID": "manifest tag did not match URI",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "RANGE_INVALID": "invalid content range",
}


class RegistryHTTPError(Exception):
    """An error answered to the client with the spec's JSON error body."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        detail: Any = None,
        status: int | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.code = code
        self.message = message or _MESSAGES.get(code, code.lower().replace("_", " "))
        self.detail = detail
        self.status = status if status is not None else STATUS.get(code, 400)
        self.headers = headers or []
        super().__init__(f"{self.code}: {self.message}")

    @classmethod
    def too_many_attempts(cls, retry_after: float) -> RegistryHTTPError:
        """429 for a client the authentication throttle holds back, with ``Retry-After``."""
        return cls(
            "TOOMANYREQUESTS",
            "too many failed authentication attempts",
            headers=[("retry-after", str(retry_after))],
        )

    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        entry["detail"] = self.detail if self.detail is not None else {}
        return {"errors": [entry]}
