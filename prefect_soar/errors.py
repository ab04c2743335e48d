"""The one exception tree of prefect-soar.

```
SoarError
├── BadInputError            the caller passed something invalid; nothing was sent
├── TransportError           no usable response (connect, read, protocol, TLS)
│   └── RequestTimeoutError
├── WaitTimeoutError         a poll (scan report, query result) did not finish in time
├── InvalidResponseError     the service answered, but not with what its API promises
└── APIStatusError           the service answered with an error status
    ├── BadRequestError      400/409/422: the service rejected the request
    ├── AuthenticationError  401/403: wrong or expired credentials, missing permission
    ├── NotFoundError        404
    ├── RateLimitedError     429 (``retry_after`` in seconds when the service said)
    └── ServerError          5xx
```

Every message names the service, the method and the redacted URL, the status and the API's
own message, and ends with a hint on how to fix it. Messages pass through
:func:`prefect_soar._redact.redact` so no registered secret can appear in them.
"""

from __future__ import annotations

from prefect_soar._redact import redact


class SoarError(Exception):
    """Base class of every error raised by prefect-soar.

    Attributes:
        service: Short name of the service (``ptsandbox``, ``threatconnect``, ...).
        method: HTTP method of the failed request, when there was one.
        url: Redacted URL of the failed request, when there was one.
        status: HTTP status code, when the service answered.
        api_message: The service's own error message, when it gave one.
    """

    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        api_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.service = service
        self.method = method
        self.url = redact(url) if url else url
        self.status = status
        self.api_message = redact(api_message) if api_message else api_message
        if hint is not None:
            self.hint = hint
        self.message = redact(message)
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.service:
            parts.append(f"[{self.service}]")
        if self.method and self.url:
            parts.append(f"{self.method} {self.url}")
        if self.status is not None:
            parts.append(f"-> HTTP {self.status}")
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.api_message and self.api_message not in text:
            text += f" (API said: {self.api_message})"
        if self.hint:
            text += f". {self.hint}"
        return text

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep the error picklable (Prefect persists failed states, Dask ships them).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[SoarError], state: dict) -> SoarError:  # type: ignore[type-arg]
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._render())
    return error


class BadInputError(SoarError, ValueError):
    """The caller passed an invalid value; the request was not sent."""

    hint = "Fix the argument and call again"


class TransportError(SoarError):
    """The request got no usable response: connection refused, reset, TLS failure."""

    hint = "Check the base URL, proxy, TLS settings (verify_tls / ca_bundle) and that the service is reachable"


class RequestTimeoutError(TransportError):
    """The request timed out."""

    hint = "Raise the timeout or check the service's health"


class WaitTimeoutError(SoarError, TimeoutError):
    """A poll for a long-running job did not reach a final state in time."""

    hint = "Raise the wait timeout, or check the job in the service's UI"


class InvalidResponseError(SoarError):
    """The service answered with a body that does not match its documented format.

    Attributes:
        body_excerpt: The first bytes of the body (redacted), to help diagnosis.
    """

    hint = "Check that the base URL points at the right service and API version"

    def __init__(self, message: str, *, body_excerpt: str = "", **kwargs: object) -> None:
        self.body_excerpt = redact(body_excerpt)
        if self.body_excerpt:
            message = f"{message}; body starts with {self.body_excerpt!r}"
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class UnsafeArchiveError(SoarError):
    """An archive was refused: wrong password, corrupt, or it breaks a safety limit or rule.

    Raised by :mod:`prefect_soar.safe_archive` for path traversal, absolute paths, symlinks,
    device entries, zip bombs (size, count or ratio limits), wrong passwords and truncated files.
    Nothing is left on disk when it is raised during extraction.
    """

    hint = "The archive is not safe to open as asked; inspect it in an isolated analysis host"


class APIStatusError(SoarError):
    """The service answered with an error status code."""


class BadRequestError(APIStatusError, ValueError):
    """The service rejected the request as invalid (400, 409, 422)."""

    hint = "Check the parameters against the API's documentation"


class AuthenticationError(APIStatusError):
    """The credentials were rejected or lack a permission (401, 403)."""

    hint = "Check the credentials in the block and the account's permissions"


class NotFoundError(APIStatusError):
    """The object does not exist (404)."""

    hint = "Check the id; the object may have been deleted or may belong to another owner"


class RateLimitedError(APIStatusError):
    """The service throttled the client (429) and retries ran out.

    Attributes:
        retry_after: Seconds the service asked to wait, if it said.
    """

    hint = "Lower the concurrency or raise the retry budget"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(APIStatusError):
    """The service failed (5xx) and retries ran out."""

    hint = "The service is failing; try again later or check its status"


__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadInputError",
    "BadRequestError",
    "InvalidResponseError",
    "NotFoundError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "SoarError",
    "TransportError",
    "UnsafeArchiveError",
    "WaitTimeoutError",
]
