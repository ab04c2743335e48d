"""The shared HTTP core every prefect-soar client stands on.

One :class:`HTTPCore` per client instance owns one pooled ``httpx.AsyncClient`` (base URL,
timeouts, TLS verification or a CA bundle, proxy, user agent) and does, in one place:

* retries: connection errors and 429/502/503/504, exponential backoff with full jitter,
  ``Retry-After`` honoured (seconds or an HTTP date), a bounded number of attempts; only for
  idempotent methods unless the call says it is safe to repeat (``idempotent=True``). A
  non-idempotent call is retried only when the request provably was not processed: it never
  left (connect failure) or the service refused it outright (429);
* error mapping to the tree in :mod:`prefect_soar.errors`, with the API's own message;
* redaction: URLs in errors and logs are redacted and registered secrets never appear.

Vendor auth plugs in as an ``httpx.Auth`` (signing, or :class:`TokenAuth` for bearer tokens
that expire and are refreshed once on a 401).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from prefect_soar._redact import SecretRedactingFilter, redact, redact_url, register_secret
from prefect_soar._version import __version__
from prefect_soar.errors import (
    APIStatusError,
    AuthenticationError,
    BadInputError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SoarError,
    TransportError,
)

logger = logging.getLogger("prefect_soar.http")
logger.addFilter(SecretRedactingFilter())

USER_AGENT = f"prefect-soar/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429})
"""Answers that say the request was refused before it was processed: safe to repeat even a POST.
(A 503 may come from a server that did the work and then failed, so a POST is not repeated on it.)"""
EXCERPT_CHARS = 200
MAX_BODY_BYTES = 64 * 1024 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)
ClientT = TypeVar("ClientT", bound="ServiceClient")
MessageExtractor = Callable[[Any], str | None]


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    Attributes:
        max_attempts: Total attempts, the first included.
        backoff_base: Seconds of the first backoff; doubles each attempt.
        backoff_max: Cap on one backoff, in seconds.
        max_retry_after: Cap on a server's ``Retry-After``, in seconds; a longer wait
            raises :class:`RateLimitedError` at once instead of sleeping.
        statuses: Status codes that are retried.
    """

    max_attempts: int = 5
    backoff_base: float = 0.25
    backoff_max: float = 20.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = RETRY_STATUSES

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass
class HTTPConfig:
    """Connection settings shared by every client.

    Attributes:
        base_url: The service's base URL.
        timeout: Seconds for connect, read, write and pool waits.
        verify: ``True`` (system CAs), ``False`` (insecure, opt-in) or a CA bundle path.
        proxy: Optional proxy URL (``http://``, ``https://`` or ``socks5://``).
        user_agent: The ``User-Agent`` header.
        headers: Extra headers sent on every request.
        retry: The retry policy.
        transport: An injected transport (tests, ASGI); bypasses verify and proxy.
        follow_redirects: Follow redirects.
        max_body_bytes: Largest body read into memory (JSON answers, error pages), counted after
            decompression; a larger one raises :class:`InvalidResponseError` without being read in
            full. Streamed downloads are not limited. ``None``: no limit.
    """

    base_url: str
    timeout: float = 30.0
    verify: bool | str = True
    proxy: str | None = None
    user_agent: str = USER_AGENT
    headers: Mapping[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.AsyncBaseTransport | None = None
    follow_redirects: bool = False
    max_body_bytes: int | None = MAX_BODY_BYTES


def build_async_client(config: HTTPConfig, *, auth: httpx.Auth | None = None, **extra: Any) -> httpx.AsyncClient:
    """Build the one pooled ``httpx.AsyncClient`` of a client instance.

    Args:
        config: Connection settings.
        auth: Optional vendor auth (signing or token).
        **extra: Extra keyword arguments for ``httpx.AsyncClient`` (e.g. ``cookies``).

    Returns:
        A configured client; the caller closes it.
    """
    if config.timeout is None or config.timeout <= 0:
        raise BadInputError("timeout must be a positive number of seconds", service="http")
    verify: bool | ssl.SSLContext = True
    if isinstance(config.verify, str):
        path = Path(config.verify).expanduser()
        if not path.is_file():
            raise BadInputError(f"CA bundle {str(path)!r} does not exist", service="http")
        verify = ssl.create_default_context(cafile=str(path))
    else:
        verify = bool(config.verify)
    kwargs: dict[str, Any] = {
        "base_url": config.base_url.rstrip("/"),
        "timeout": httpx.Timeout(config.timeout),
        "headers": {"User-Agent": config.user_agent, **config.headers},
        "auth": auth,
        "follow_redirects": config.follow_redirects,
        "limits": httpx.Limits(max_connections=100, max_keepalive_connections=50),
    }
    if config.transport is not None:
        kwargs["transport"] = config.transport
    else:
        kwargs["verify"] = verify
        if config.proxy:
            kwargs["proxy"] = config.proxy
    kwargs.update(extra)
    return httpx.AsyncClient(**kwargs)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds or as an HTTP date.

    Args:
        value: The header value.
        now: The current time as a Unix timestamp (for tests).

    Returns:
        Seconds to wait (never negative), or ``None`` when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def default_message(body: Any) -> str | None:
    """Find an API error message in a decoded JSON error body, whatever its envelope."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error_description", "error", "errors", "errorMessage"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                found = default_message(value)
                if found:
                    return found
            if isinstance(value, list) and value:
                found = default_message(value[0]) if isinstance(value[0], dict) else str(value[0])
                if found:
                    return found
        data = body.get("data")
        if isinstance(data, dict):
            return default_message(data)
    return None


def body_excerpt(content: bytes) -> str:
    """The first characters of a body, for an error message."""
    return content[:EXCERPT_CHARS].decode("utf-8", errors="replace")


def _is_tls_failure(exc: BaseException) -> bool:
    """Whether a transport error is a TLS verification failure (never worth retrying)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class TokenAuth(httpx.Auth):
    """Bearer-style auth whose token expires: fetched lazily, refreshed early, and refreshed once on a 401.

    Subclasses implement :meth:`fetch_token`, which returns the token and its lifetime in seconds.
    """

    requires_response_body = False
    refresh_margin = 30.0

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires_at = 0.0
        self._margin = 0.0
        self._lock: asyncio.Lock | None = None

    async def fetch_token(self) -> tuple[str, float]:
        """Obtain a new token; return ``(token, lifetime_seconds)``."""
        raise NotImplementedError

    def apply(self, request: httpx.Request, token: str) -> None:
        """Put the token on the request (``Authorization: Bearer`` by default)."""
        request.headers["Authorization"] = f"Bearer {token}"

    def invalidate(self) -> None:
        """Forget the current token so the next request fetches a new one."""
        self._token, self._expires_at = None, 0.0

    async def token(self, *, force: bool = False, stale: str | None = None) -> str:
        """Return a valid token, fetching one when missing, expiring, or forced."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            fresh = self._token is not None and time.monotonic() < self._expires_at - self._margin
            if force and self._token is not None and self._token != stale:
                fresh = True  # another request refreshed it while we waited
            elif force:
                fresh = False
            if not fresh:
                token, lifetime = await self.fetch_token()
                register_secret(token)
                self._token = token
                self._expires_at = time.monotonic() + max(lifetime, 0.0)
                # a short-lived token is still used for 3/4 of its life, not refreshed on every request
                self._margin = min(self.refresh_margin, max(lifetime, 0.0) / 4)
            assert self._token is not None
            return self._token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        self.apply(request, token)
        response = yield request
        if response.status_code == 401:
            await response.aread()
            token = await self.token(force=True, stale=token)
            self.apply(request, token)
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("prefect-soar clients are async only")
        yield request  # pragma: no cover


class HTTPCore:
    """One service's pooled HTTP client with retries, error mapping and redaction.

    Args:
        service: Short service name used in errors and logs.
        config: Connection settings.
        auth: Optional vendor auth.
        message_extractor: Finds the API's own message in a decoded error body.
        **client_kwargs: Extra ``httpx.AsyncClient`` arguments.
    """

    def __init__(
        self,
        service: str,
        config: HTTPConfig,
        *,
        auth: httpx.Auth | None = None,
        message_extractor: MessageExtractor = default_message,
        **client_kwargs: Any,
    ) -> None:
        self.service = service
        self.config = config
        self.retry = config.retry
        self._extract_message = message_extractor
        self.client = build_async_client(config, auth=auth, **client_kwargs)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.client.aclose()

    # -- requests -----------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        ok: Iterable[int] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send a request with retries and return the successful response (body read).

        Args:
            method: HTTP method.
            url: Path relative to the base URL, or an absolute URL.
            params: Query parameters.
            json: JSON body.
            content: Raw body.
            data: Form body.
            headers: Extra headers.
            idempotent: Whether repeating the call is safe; defaults by method.
            auth: Per-request auth override (``None`` for none).
            ok: Status codes treated as success besides 2xx (e.g. ``{404}`` to inspect it).
            timeout: Per-request timeout override in seconds.

        Returns:
            The response, with its body read.

        Raises:
            SoarError: A subclass describing what failed.
        """
        async with self._send(
            method, url, params=params, json=json, content=content, data=data, headers=headers,
            idempotent=idempotent, auth=auth, ok=ok, timeout=timeout, stream=False,
        ) as response:
            return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Open a streamed response; retries happen before the body starts.

        Args:
            method: HTTP method.
            url: Path relative to the base URL.
            params: Query parameters.
            json: JSON body.
            headers: Extra headers.
            idempotent: Whether repeating the call is safe; defaults by method.
            timeout: Per-request timeout override in seconds.

        Yields:
            The open response; read it with ``aiter_bytes``.
        """
        async with self._send(
            method, url, params=params, json=json, content=None, data=None, headers=headers,
            idempotent=idempotent, auth=httpx.USE_CLIENT_DEFAULT, ok=None, timeout=timeout, stream=True,
        ) as response:
            try:
                yield response
            except httpx.TimeoutException as exc:
                raise self._transport_error(method, str(response.request.url), exc) from exc
            except httpx.TransportError as exc:
                raise self._transport_error(method, str(response.request.url), exc) from exc

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET and decode a JSON body."""
        return self.decode_json(await self.request("GET", url, **kwargs))

    def decode_json(self, response: httpx.Response) -> Any:
        """Decode a JSON body or raise :class:`InvalidResponseError` with an excerpt."""
        try:
            return json.loads(response.content)
        except ValueError as exc:
            if not response.content:
                why = "an empty body"
            elif response.content.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
                why = "an HTML page (a login, proxy or error page: is the base URL right?)"
            elif isinstance(exc, json.JSONDecodeError):
                ends_early = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")
                why = (
                    f"a body that ends early after {len(response.content)} bytes (truncated)" if ends_early
                    else f"a body that does not parse ({exc.msg} at character {exc.pos})"
                )
            else:
                why = "a body that does not decode as text"
            raise InvalidResponseError(
                f"expected JSON, got {response.headers.get('content-type', 'no content type')} with {why}",
                body_excerpt=body_excerpt(response.content),
                service=self.service, method=response.request.method,
                url=redact_url(str(response.request.url)), status=response.status_code,
            ) from exc

    def parse(self, model: type[ModelT], payload: Any, response: httpx.Response | None = None) -> ModelT:
        """Validate ``payload`` as ``model`` or raise :class:`InvalidResponseError`."""
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise InvalidResponseError(
                f"response does not match {model.__name__}: {where}: {first.get('msg')}",
                body_excerpt=redact(str(payload)[:EXCERPT_CHARS]),
                service=self.service,
                method=response.request.method if response is not None else None,
                url=redact_url(str(response.request.url)) if response is not None else None,
                status=response.status_code if response is not None else None,
            ) from exc

    # -- machinery ----------------------------------------------------------------

    @asynccontextmanager
    async def _send(
        self, method: str, url: str, *, params: Any, json: Any, content: bytes | None,
        data: Mapping[str, Any] | None, headers: Mapping[str, str] | None, idempotent: bool | None,
        auth: Any, ok: Iterable[int] | None, timeout: float | None, stream: bool,
    ) -> AsyncIterator[httpx.Response]:
        method = method.upper()
        repeatable = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        accepted = set(ok or ())
        attempt = 0
        while True:
            attempt += 1
            request = self.client.build_request(
                method, url, params=params, json=json, content=content, data=data, headers=headers,
                timeout=httpx.Timeout(timeout) if timeout else httpx.USE_CLIENT_DEFAULT,
            )
            shown_url = redact_url(str(request.url))
            started = time.monotonic()
            try:
                response = await self.client.send(request, auth=auth, stream=True)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if attempt < self.retry.max_attempts and (repeatable or never_sent) and not _is_tls_failure(exc):
                    delay = self.retry.backoff(attempt)
                    logger.info(
                        "%s %s %s: %s; retry %d/%d in %.2fs", self.service, method, shown_url,
                        type(exc).__name__, attempt, self.retry.max_attempts - 1, delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                raise self._transport_error(method, shown_url, exc) from exc
            status = response.status_code
            logger.debug("%s %s %s -> %d in %.3fs", self.service, method, shown_url, status, time.monotonic() - started)
            if status < 400 or status in accepted:
                try:
                    if not stream:
                        await self._read_body(response)
                    yield response
                    return
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    if not stream and attempt < self.retry.max_attempts and repeatable:
                        await asyncio.sleep(self.retry.backoff(attempt))
                        continue
                    raise self._transport_error(method, shown_url, exc) from exc
                finally:
                    await response.aclose()
            try:
                await self._read_body(response, truncate=True)
            except (httpx.TimeoutException, httpx.TransportError):
                pass
            finally:
                await response.aclose()
            safe = repeatable or status in NOT_PROCESSED_STATUSES
            if status in self.retry.statuses and attempt < self.retry.max_attempts and safe:
                delay = self.retry.backoff(attempt)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    if retry_after > self.retry.max_retry_after:
                        raise self.status_error(response)
                    delay = retry_after + random.uniform(0, 0.1)
                logger.info(
                    "%s %s %s -> %d; retry %d/%d in %.2fs", self.service, method, shown_url, status,
                    attempt, self.retry.max_attempts - 1, delay,
                )
                await asyncio.sleep(delay)
                continue
            raise self.status_error(response)

    async def _read_body(self, response: httpx.Response, *, truncate: bool = False) -> None:
        """Read a body into memory, at most ``config.max_body_bytes`` (decoded) of it.

        A larger body raises :class:`InvalidResponseError` before it is read in full, or, with
        ``truncate`` (error pages, where only the message matters), is cut at the limit.
        """
        limit = self.config.max_body_bytes
        if limit is None:
            await response.aread()
            return
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise self._too_large(response, f"it declares {int(declared)} bytes")
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            if size + len(chunk) > limit:
                if not truncate:
                    raise self._too_large(response, f"it passed {limit} bytes and was not read further")
                parts.append(chunk[: limit - size])
                break
            parts.append(chunk)
            size += len(chunk)
        response._content = b"".join(parts)

    def _too_large(self, response: httpx.Response, detail: str) -> InvalidResponseError:
        limit = self.config.max_body_bytes
        return InvalidResponseError(
            f"the response body is larger than max_body_bytes={limit} ({detail})",
            service=self.service, method=response.request.method, url=redact_url(str(response.request.url)),
            status=response.status_code,
            hint="The service sent far more than this call expects: check the base URL and the query (narrow it "
            "or page with a smaller page size); raise HTTPConfig.max_body_bytes only if the answer is legitimate",
        )

    def _transport_error(self, method: str, url: str, exc: Exception) -> TransportError:
        detail = redact(str(exc)) or type(exc).__name__
        cls = RequestTimeoutError if isinstance(exc, httpx.TimeoutException) else TransportError
        hint = None
        if _is_tls_failure(exc):
            hint = "TLS verification failed: give the service's CA bundle (ca_bundle) instead of disabling verification"
        return cls(
            f"{type(exc).__name__}: {detail}", service=self.service, method=method,
            url=redact_url(url), hint=hint,
        )

    def status_error(self, response: httpx.Response) -> APIStatusError:
        """Map an error response (body read) to the most specific typed error."""
        status = response.status_code
        message: str | None = None
        try:
            message = self._extract_message(json.loads(response.content)) if response.content else None
        except ValueError:
            message = None
        if message is None and response.content:
            excerpt = body_excerpt(response.content).strip()
            is_html = excerpt.lower().startswith(("<!doctype", "<html"))
            message = "non-JSON (HTML) error page" if is_html else excerpt
        common: dict[str, Any] = {
            "service": self.service,
            "method": response.request.method,
            "url": redact_url(str(response.request.url)),
            "status": status,
            "api_message": message,
        }
        reason = response.reason_phrase or "error"
        if status in (401, 403):
            return AuthenticationError(reason, **common)
        if status == 404:
            return NotFoundError(reason, **common)
        if status == 429:
            return RateLimitedError(
                reason, retry_after=parse_retry_after(response.headers.get("Retry-After")), **common
            )
        if status >= 500:
            return ServerError(reason, **common)
        if 400 <= status < 500:
            return BadRequestError(reason, **common)
        return APIStatusError(reason, **common)


class ServiceClient:
    """Base of every service client: an async context manager around one :class:`HTTPCore`.

    Subclasses build ``self._http`` in ``__init__`` and never hold plain secrets in attributes
    that reach ``repr``.
    """

    _http: HTTPCore

    async def __aenter__(self: ClientT) -> ClientT:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's pooled connections."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._http.config.base_url!r})"


async def poll_until(
    check: Callable[[], Awaitable[tuple[bool, Any]]],
    *,
    timeout: float,
    poll: float,
    max_poll: float = 30.0,
    what: str,
    service: str,
) -> Any:
    """Call ``check`` until it reports done, backing the interval off, within ``timeout`` seconds.

    Args:
        check: Returns ``(done, value)``.
        timeout: Seconds before :class:`~prefect_soar.errors.WaitTimeoutError`.
        poll: First interval in seconds; grows by half each round up to ``max_poll``.
        max_poll: Longest interval in seconds.
        what: What is awaited, for the error message.
        service: Service name for the error.

    Returns:
        The value of the first ``check`` that reported done.
    """
    from prefect_soar.errors import WaitTimeoutError

    deadline = time.monotonic() + timeout
    interval = max(poll, 0.01)
    while True:
        done, value = await check()
        if done:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(f"{what} was not ready after {timeout:g}s", service=service)
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_poll)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


__all__ = [
    "NO_RETRY",
    "HTTPConfig",
    "HTTPCore",
    "RetryPolicy",
    "ServiceClient",
    "SoarError",
    "TokenAuth",
    "build_async_client",
    "parse_retry_after",
    "poll_until",
    "redact",
    "redact_url",
    "register_secret",
]
