"""The ThreatConnect v2 request layer: auth choice, envelopes, typed errors and paging.

:class:`ThreatConnectAPI` is the base of :class:`~prefect_soar.clients.threatconnect.ThreatConnectClient`;
it holds the one :class:`~prefect_soar._http.HTTPCore` and knows the v2 rules:

* success is HTTP 2xx **and** ``status: Success``; ``{"status": "Failure", "message": ...}``
  becomes a typed error carrying the API's message;
* 401 answers get a hint that names the likely cause (clock skew, wrong secret, expired token);
* collections page with ``resultStart``/``resultLimit`` (at most 10,000), ``resultCount`` is kept
  from the first page, paging stops on a short page, and items are deduplicated by id.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from prefect_soar._http import HTTPConfig, HTTPCore, RetryPolicy, ServiceClient, default_message, redact, redact_url
from prefect_soar.clients.threatconnect_auth import Clock, ThreatConnectHMACAuth, ThreatConnectTokenAuth
from prefect_soar.errors import AuthenticationError, BadInputError, BadRequestError, InvalidResponseError
from prefect_soar.models.threatconnect import Owner, V2Envelope

SERVICE = "threatconnect"
DEFAULT_BASE_URL = "https://app.threatconnect.com/api"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000

ModelT = TypeVar("ModelT", bound=BaseModel)
Params = Sequence[tuple[str, str | int]]


def tc_message(body: Any) -> str | None:
    """The API's message in a v2 (``status``/``message``) or v3 (``errCode``) error body."""
    message = default_message(body)
    if message and isinstance(body, dict) and body.get("errCode"):
        return f"{message} (errCode {body['errCode']})"
    return message


def check_page_size(page_size: int) -> int:
    """Validate a page size (1 to 10,000)."""
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadInputError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}", service=SERVICE
        )
    return page_size


def check_id(value: Any, what: str) -> int:
    """Validate a positive integer id."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadInputError(f"{what} must be a positive integer, got {value!r}", service=SERVICE)
    return value


class ThreatConnectAPI(ServiceClient):
    """The v2 request layer shared by the ThreatConnect client's operations.

    Args:
        base_url: The API root including ``/api`` (``https://<host>/api`` on premises).
        access_id: HMAC Access ID (with ``secret_key``).
        secret_key: HMAC Secret Key.
        api_token: API token (``Authorization: TC-Token``), instead of the HMAC pair.
        default_owner: Owner used when a call names none; empty means the API user's organization.
        verify: TLS verification: ``True``, ``False`` (lab only) or a CA bundle path.
        timeout: Seconds for connect, read and write.
        proxy: Proxy URL.
        retry: Retry policy (GET/PUT/DELETE and safe POSTs only).
        transport: An injected httpx transport (tests).
        max_concurrency: Requests in flight when fanning out (owners, filter paths, sub-steps).
        clock: Unix-time source for HMAC timestamps (tests).
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        access_id: str | None = None,
        secret_key: str | None = None,
        api_token: str | None = None,
        default_owner: str | None = None,
        verify: bool | str = True,
        timeout: float = 30.0,
        proxy: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency: int = 8,
        clock: Clock | None = None,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise BadInputError(f"base_url must be an http(s) URL, got {base_url!r}", service=SERVICE)
        if max_concurrency < 1:
            raise BadInputError("max_concurrency must be at least 1", service=SERVICE)
        auth: httpx.Auth
        if api_token and (access_id or secret_key):
            raise BadInputError(
                "give either access_id + secret_key (HMAC) or api_token, not both", service=SERVICE
            )
        if api_token:
            auth = ThreatConnectTokenAuth(api_token)
        elif access_id and secret_key:
            auth = ThreatConnectHMACAuth(access_id, secret_key, clock=clock or time.time)
        elif access_id or secret_key:
            raise BadInputError("HMAC auth needs both access_id and secret_key", service=SERVICE)
        else:
            raise BadInputError("no credentials: give access_id + secret_key, or api_token", service=SERVICE)
        self.default_owner = default_owner or None
        self.max_concurrency = max_concurrency
        # find_or_create_task: (owner, marker) -> [asyncio.Lock, waiters]
        self._marker_locks: dict[tuple[str, str], list[Any]] = {}
        config = HTTPConfig(
            base_url=base_url, timeout=timeout, verify=verify, proxy=proxy,
            retry=retry or RetryPolicy(), transport=transport, headers={"Accept": "application/json"},
        )
        self._http = HTTPCore(SERVICE, config, auth=auth, message_extractor=tc_message)

    # -- sending ------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        ok: set[int] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, params=params, json=json_body, idempotent=idempotent, ok=ok)
        except AuthenticationError as exc:
            raise _explain_auth(exc) from exc

    def _envelope(self, response: httpx.Response) -> V2Envelope:
        if not response.content.strip():
            return V2Envelope(status="Success")
        envelope = self._http.parse(V2Envelope, self._http.decode_json(response), response)
        if envelope.succeeded:
            return envelope
        if envelope.status is None:
            raise InvalidResponseError(
                "the answer has no v2 status field", body_excerpt=redact(response.text[:200]), service=SERVICE,
                method=response.request.method, url=redact_url(str(response.request.url)), status=response.status_code,
            )
        raise BadRequestError(
            f"the API reported {envelope.status}", service=SERVICE, method=response.request.method,
            url=redact_url(str(response.request.url)), status=response.status_code, api_message=envelope.message,
        )

    async def _v2(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> tuple[V2Envelope, httpx.Response]:
        """Send a v2 request and return its successful envelope."""
        response = await self._send(method, path, params=params, json_body=json_body, idempotent=idempotent)
        return self._envelope(response), response

    def _entity(self, envelope: V2Envelope, response: httpx.Response, key: str, model: type[ModelT]) -> ModelT:
        data = envelope.data or {}
        if key not in data:
            raise InvalidResponseError(
                f"the answer has no data.{key}", body_excerpt=redact(response.text[:200]), service=SERVICE,
                method=response.request.method, url=redact_url(str(response.request.url)), status=response.status_code,
            )
        return self._http.parse(model, data[key], response)

    def _entities(self, envelope: V2Envelope, response: httpx.Response, key: str, model: type[ModelT]) -> list[ModelT]:
        raw = (envelope.data or {}).get(key) or []
        if isinstance(raw, dict):  # a one-item list sometimes comes back as an object
            raw = [raw]
        try:
            return TypeAdapter(list[model]).validate_python(raw)  # type: ignore[valid-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InvalidResponseError(
                f"data.{key} does not match {model.__name__}: {where}: {first.get('msg')}",
                body_excerpt=redact(response.text[:200]), service=SERVICE, method=response.request.method,
                url=redact_url(str(response.request.url)), status=response.status_code,
            ) from exc

    def _owner(self, owner: str | None) -> str | None:
        return owner or self.default_owner

    @staticmethod
    def _owner_params(owner: str | None) -> list[tuple[str, str | int]]:
        return [("owner", owner)] if owner else []

    # -- paging -------------------------------------------------------------------

    async def _pages(
        self,
        path: str,
        key: str,
        model: type[ModelT],
        *,
        owner: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        extra: Params | None = None,
        missing_ok: bool = False,
    ) -> AsyncIterator[tuple[list[ModelT], int | None]]:
        """Yield ``(items, resultCount)`` page by page until a short page.

        Args:
            path: Collection path.
            key: Entity key under ``data``.
            model: Entity model.
            owner: Owner sent as ``owner=``.
            page_size: ``resultLimit``.
            extra: More query parameters (``filters``, ``includeTags``...), sent after the paging ones.
            missing_ok: Treat a v2 404 (no such tag, label, group...) as an empty collection.
        """
        check_page_size(page_size)
        start = 0
        total: int | None = None
        while True:
            params: list[tuple[str, str | int]] = [
                *self._owner_params(owner),
                ("resultStart", start), ("resultLimit", page_size), ("createActivityLog", "false"),
                *(extra or []),
            ]
            response = await self._send("GET", path, params=params, ok={404} if missing_ok else None)
            if response.status_code == 404:
                if is_v2_failure(response):
                    return
                raise self._http.status_error(response)
            envelope = self._envelope(response)
            items = self._entities(envelope, response, key, model)
            if start == 0:
                count = (envelope.data or {}).get("resultCount")
                total = count if isinstance(count, int) else None
            yield items, total
            start += len(items)
            if len(items) < page_size or (total is not None and start >= total):
                return

    async def _collect(
        self, path: str, key: str, model: type[ModelT], *, owner: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE, extra: Params | None = None,
    ) -> list[ModelT]:
        """Every item of a paged collection."""
        found: list[ModelT] = []
        async for items, _ in self._pages(path, key, model, owner=owner, page_size=page_size, extra=extra):
            found.extend(items)
        return found

    # -- connectivity -------------------------------------------------------------

    async def list_owners(self) -> list[Owner]:
        """The owners the API user can read (``GET /v2/owners``)."""
        envelope, response = await self._v2("GET", "/v2/owners")
        return self._entities(envelope, response, "owner", Owner)

    async def check_connection(self) -> None:
        """One cheap authenticated call (``GET /v2/owners``); raises a typed error when it fails."""
        await self.list_owners()


def is_v2_failure(response: httpx.Response) -> bool:
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("status", "")).lower() == "failure"


def _explain_auth(exc: AuthenticationError) -> AuthenticationError:
    said = (exc.api_message or "").lower()
    if "timestamp" in said:
        hint = (
            "The request Timestamp is outside the server's 5-minute window: synchronise this host's clock (NTP) "
            "and check its time zone settings"
        )
    elif "signature" in said:
        hint = (
            "The HMAC signature was rejected: check the Access ID and Secret Key in the block, and that no proxy "
            "rewrites the URL"
        )
    elif exc.status == 403:
        hint = "Access denied: check that the API user may read/write this owner and that the base URL uses https"
    else:
        hint = (
            "The credentials were rejected: the API token may have expired or been regenerated, or the keys are wrong"
        )
    return AuthenticationError(
        exc.message, service=exc.service, method=exc.method, url=exc.url, status=exc.status,
        api_message=exc.api_message, hint=hint,
    )


def str_list(values: Sequence[str] | str | None, what: str) -> list[str]:
    """Normalize an optional string or list of strings, rejecting empty items."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise BadInputError(f"{what} must be non-empty strings, got {item!r}", service=SERVICE)
    return items


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "SERVICE", "ThreatConnectAPI"]
