"""Async client of the Acronis Cyber Protect Cloud Task Manager API v2.

Auth is OAuth2 client credentials: ``POST {dc}/api/2/idp/token`` with HTTP Basic
``client_id:client_secret`` and the form body ``grant_type=client_credentials``. The token is cached
until shortly before its ``expires_on`` (15 minutes early for the usual 2-hour token, like the
official examples; ``expires_in`` is accepted too) and fetched again once when a call gets a 401.

Listing is cursor-based: the first request carries the filters, ``order``, ``lod`` and ``limit``;
every next page sends only ``limit`` and ``after`` (the cursor encodes the query). Paging stops when
the answer has no ``after``, and a cursor that comes back twice raises instead of looping.

Example:
    >>> async with AcronisClient("https://eu2-cloud.acronis.com", client_id, client_secret) as client:
    ...     async for task in client.iter_tasks(type="backup", result_code="error",
    ...                                         completed_at=TimeFilter.after(since), max_items=500):
    ...         print(task.key, task.resource.name if task.resource else "", task.error_message)
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from prefect_soar._http import HTTPConfig, HTTPCore, RetryPolicy, ServiceClient, TokenAuth
from prefect_soar._redact import register_secret
from prefect_soar.clients.acronis_filters import (
    ActivityQuery,
    BaseQuery,
    TaskQuery,
    TimeFilter,
    build_query,
    task_id_value,
)
from prefect_soar.errors import BadInputError, InvalidResponseError
from prefect_soar.models.acronis import Activity, ActivityPage, Page, Task, TaskPage, Token

SERVICE = "acronis"
TOKEN_PATH = "/api/2/idp/token"
TASK_MANAGER_PATH = "/api/task_manager/v2"
TASKS_PATH = f"{TASK_MANAGER_PATH}/tasks"
ACTIVITIES_PATH = f"{TASK_MANAGER_PATH}/activities"
DEFAULT_TOKEN_LIFETIME = 7200.0
EARLY_REFRESH_SECONDS = 900.0
_API_SUFFIXES = (TASK_MANAGER_PATH, "/api/2")

logger = logging.getLogger("prefect_soar.acronis")

PageT = TypeVar("PageT", bound=Page[Any])


def normalize_base_url(base_url: str) -> str:
    """Validate the data-centre URL and drop a trailing API path (``/api/task_manager/v2``, ``/api/2``).

    Raises:
        BadInputError: Not an ``http(s)://host`` URL.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise BadInputError("base_url is empty; give the data-centre URL, e.g. https://eu2-cloud.acronis.com",
                            service=SERVICE)
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInputError(
            f"base_url {base_url!r} is not an http(s) URL; give the data-centre URL, e.g. https://eu2-cloud.acronis.com",
            service=SERVICE,
        )
    for suffix in _API_SUFFIXES:
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    return url


class AcronisTokenAuth(TokenAuth):
    """Client-credentials bearer token of one API client, fetched through the client's own HTTP core."""

    refresh_margin = 0.0  # the early refresh is folded into the lifetime fetch_token returns

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__()
        basic = httpx.BasicAuth(client_id, client_secret)
        register_secret(client_secret)
        register_secret(base64.b64encode(f"{client_id}:{client_secret}".encode()).decode())
        self._basic = basic
        self._http: HTTPCore | None = None

    def bind(self, http: HTTPCore) -> None:
        """Attach the HTTP core the token request goes through."""
        self._http = http

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def fetch_token(self) -> tuple[str, float]:
        """``POST /api/2/idp/token``; return the token and how long to use it (seconds)."""
        assert self._http is not None, "AcronisTokenAuth is not bound to an HTTPCore"
        http = self._http
        response = await http.request(
            "POST", TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=self._basic, idempotent=True,
        )
        token = http.parse(Token, http.decode_json(response), response)
        register_secret(token.access_token)
        if token.id_token:
            register_secret(token.id_token)
        return token.access_token, token_lifetime(token)


def token_lifetime(token: Token, *, now: float | None = None) -> float:
    """Seconds to keep using ``token``: until ``expires_on`` (or ``expires_in``), minus an early-refresh margin.

    The margin is 15 minutes, or an eighth of the lifetime for short-lived tokens.
    """
    current = time.time() if now is None else now
    if token.expires_on is not None:
        lifetime = float(token.expires_on) - current
        if lifetime <= 0:
            logger.warning(
                "acronis token expires_on is %.0fs in the past: check this machine's clock; "
                "the token is used for one request only", -lifetime,
            )
    elif token.expires_in is not None:
        lifetime = float(token.expires_in)
    else:
        lifetime = DEFAULT_TOKEN_LIFETIME
    return max(lifetime - min(EARLY_REFRESH_SECONDS, max(lifetime, 0.0) / 8), 0.0)


def _limit(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInputError(f"{name} must be a positive integer, got {value!r}", service=SERVICE)
    return value


class AcronisClient(ServiceClient):
    """Async client of the Acronis Task Manager API v2 (tasks and activities).

    Args:
        base_url: The data-centre URL, e.g. ``https://eu2-cloud.acronis.com`` (a trailing
            ``/api/task_manager/v2`` is dropped).
        client_id: The API client id.
        client_secret: The API client secret.
        verify: ``True``, ``False`` (lab only) or a CA bundle path.
        timeout: Seconds for connect, read and write.
        proxy: Optional proxy URL.
        retry: Retry policy (defaults to 5 attempts with backoff on 429/502/503/504 and connection errors).
        transport: An injected ``httpx`` transport (tests).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
        proxy: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(client_id, str) or not client_id.strip():
            raise BadInputError("client_id is empty; create an API client in the Management Portal "
                                "(Settings > API clients)", service=SERVICE)
        if not isinstance(client_secret, str) or not client_secret:
            raise BadInputError("client_secret is empty", service=SERVICE)
        dc_url = normalize_base_url(base_url)
        self._auth = AcronisTokenAuth(client_id.strip(), client_secret)
        config = HTTPConfig(
            base_url=dc_url, timeout=timeout, verify=verify, proxy=proxy,
            retry=retry if retry is not None else RetryPolicy(), transport=transport,
            headers={"Accept": "application/json"},
        )
        self._http = HTTPCore(SERVICE, config, auth=self._auth)
        self._auth.bind(self._http)

    # -- connectivity ---------------------------------------------------------------

    async def check_connection(self) -> None:
        """Fetch a token and list one task: proves the URL, the credentials and the Task Manager scope."""
        await self._http.request("GET", TASKS_PATH, params=[("limit", "1")])

    # -- tasks ----------------------------------------------------------------------

    async def list_tasks(
        self,
        query: TaskQuery | Mapping[str, Any] | None = None,
        /,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        **filters: Any,
    ) -> TaskPage:
        """One page of ``GET /api/task_manager/v2/tasks``.

        Args:
            query: A :class:`TaskQuery` (or a mapping of its fields); keyword ``filters`` are merged on top.
            limit: Page size.
            after: Cursor of the next page (from ``page.after``); sent with ``limit`` only, no filters.
            before: Cursor of the previous page (from ``page.before``); sent with ``limit`` only.
            **filters: Any :class:`TaskQuery` field, e.g. ``state="completed"``,
                ``completed_at=TimeFilter.after(t)``.

        Returns:
            The page; ``page.after`` is the next cursor, ``None`` on the last page.

        Raises:
            BadInputError: An invalid filter, or filters given together with a cursor (nothing is sent).
        """
        params = self._page_params(TaskQuery, query, filters, limit=limit, after=after, before=before)
        return await self._get_page(TASKS_PATH, params, TaskPage)

    async def iter_task_pages(
        self,
        query: TaskQuery | Mapping[str, Any] | None = None,
        /,
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
        **filters: Any,
    ) -> AsyncIterator[TaskPage]:
        """Every page of a task query, following ``after`` cursors (filters go on the first request only).

        Args:
            query: A :class:`TaskQuery` (or mapping); keyword ``filters`` are merged on top.
            page_size: ``limit`` of each request.
            max_pages: Stop after this many pages.
            **filters: Any :class:`TaskQuery` field.

        Yields:
            Pages in order.

        Raises:
            InvalidResponseError: The service returned a cursor it had already returned.
        """
        built = build_query(TaskQuery, _as_query(TaskQuery, query), filters)
        async for page in self._pages(TASKS_PATH, built, TaskPage, page_size=page_size, max_pages=max_pages):
            yield page

    async def iter_tasks(
        self,
        query: TaskQuery | Mapping[str, Any] | None = None,
        /,
        *,
        page_size: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        **filters: Any,
    ) -> AsyncIterator[Task]:
        """Every task matching a query, across pages.

        Args:
            query: A :class:`TaskQuery` (or mapping); keyword ``filters`` are merged on top.
            page_size: ``limit`` of each request.
            max_items: Stop after yielding this many tasks (no further page is requested).
            max_pages: Stop after this many pages.
            **filters: Any :class:`TaskQuery` field.

        Yields:
            Tasks in the service's order.
        """
        built = build_query(TaskQuery, _as_query(TaskQuery, query), filters)
        async for item in self._items(TASKS_PATH, built, TaskPage, page_size, max_items, max_pages):
            yield item

    async def get_task(self, task_id: int | str) -> Task:
        """``GET /api/task_manager/v2/tasks/{id}``: one task (not enveloped).

        Args:
            task_id: The numeric id, as an int or its ``idString`` (ids exceed 2**53 and stay exact).

        Raises:
            NotFoundError: No such task.
        """
        number = task_id_value("task_id", task_id)
        response = await self._http.request("GET", f"{TASKS_PATH}/{number}")
        return self._http.parse(Task, self._http.decode_json(response), response)

    # -- activities -----------------------------------------------------------------

    async def list_activities(
        self,
        query: ActivityQuery | Mapping[str, Any] | None = None,
        /,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        **filters: Any,
    ) -> ActivityPage:
        """One page of ``GET /api/task_manager/v2/activities``.

        Args:
            query: An :class:`ActivityQuery` (or mapping); keyword ``filters`` are merged on top.
            limit: Page size.
            after: Cursor of the next page; sent with ``limit`` only.
            before: Cursor of the previous page; sent with ``limit`` only.
            **filters: Any :class:`ActivityQuery` field, e.g. ``task_id=...``.

        Returns:
            The page.
        """
        params = self._page_params(ActivityQuery, query, filters, limit=limit, after=after, before=before)
        return await self._get_page(ACTIVITIES_PATH, params, ActivityPage)

    async def iter_activities(
        self,
        query: ActivityQuery | Mapping[str, Any] | None = None,
        /,
        *,
        page_size: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        **filters: Any,
    ) -> AsyncIterator[Activity]:
        """Every activity matching a query, across pages.

        Args:
            query: An :class:`ActivityQuery` (or mapping); keyword ``filters`` are merged on top.
            page_size: ``limit`` of each request.
            max_items: Stop after yielding this many activities.
            max_pages: Stop after this many pages.
            **filters: Any :class:`ActivityQuery` field.

        Yields:
            Activities in the service's order.
        """
        built = build_query(ActivityQuery, _as_query(ActivityQuery, query), filters)
        async for item in self._items(ACTIVITIES_PATH, built, ActivityPage, page_size, max_items, max_pages):
            yield item

    # -- paging machinery -------------------------------------------------------------

    def _page_params(
        self, query_type: type[BaseQuery], query: Any, filters: Mapping[str, Any], *,
        limit: int | None, after: str | None, before: str | None,
    ) -> list[tuple[str, str]]:
        size = _limit("limit", limit)
        built = build_query(query_type, _as_query(query_type, query), filters)
        cursor_given = [name for name, value in (("after", after), ("before", before)) if value is not None]
        if len(cursor_given) > 1:
            raise BadInputError("give either after or before, not both", service=SERVICE)
        params: list[tuple[str, str]] = [] if cursor_given else built.to_params()
        if cursor_given and not built.is_empty():
            raise BadInputError(
                f"a cursor ({cursor_given[0]}) carries the query: call again with only limit and "
                f"{cursor_given[0]}, without filters, order or lod",
                service=SERVICE,
            )
        if size is not None:
            params.append(("limit", str(size)))
        for name, value in (("after", after), ("before", before)):
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise BadInputError(f"{name} must be a non-empty cursor string", service=SERVICE)
                params.append((name, value))
        return params

    async def _get_page(self, path: str, params: list[tuple[str, str]], model: type[PageT]) -> PageT:
        response = await self._http.request("GET", path, params=params)
        return self._http.parse(model, self._http.decode_json(response), response)

    async def _pages(
        self, path: str, query: BaseQuery, model: type[PageT], *, page_size: int | None, max_pages: int | None,
    ) -> AsyncGenerator[PageT, None]:
        size = _limit("page_size", page_size)
        cap = _limit("max_pages", max_pages)
        params = query.to_params()
        if size is not None:
            params.append(("limit", str(size)))
        seen: set[str] = set()
        count = 0
        while True:
            page = await self._get_page(path, params, model)
            count += 1
            yield page
            cursor = page.after
            if not cursor or (cap is not None and count >= cap):
                return
            if cursor in seen:
                raise InvalidResponseError(
                    f"the service returned the same 'after' cursor twice (page {count}); stopping so paging "
                    "cannot loop forever",
                    body_excerpt=cursor[:40], service=SERVICE, method="GET", url=path,
                    hint="Retry later; if it persists, narrow the query (e.g. a completedAt window) and report it",
                )
            seen.add(cursor)
            params = ([("limit", str(size))] if size is not None else []) + [("after", cursor)]

    async def _items(
        self, path: str, query: BaseQuery, model: type[Page[Any]], page_size: int | None,
        max_items: int | None, max_pages: int | None,
    ) -> AsyncIterator[Any]:
        cap = _limit("max_items", max_items)
        yielded = 0
        pages = self._pages(path, query, model, page_size=page_size, max_pages=max_pages)
        try:
            async for page in pages:
                for item in page.items:
                    yield item
                    yielded += 1
                    if cap is not None and yielded >= cap:
                        return
        finally:
            await pages.aclose()


def _as_query(query_type: type[BaseQuery], query: Any) -> Any:
    if isinstance(query, Mapping):
        return build_query(query_type, None, query)
    return query


__all__ = [
    "AcronisClient",
    "AcronisTokenAuth",
    "ActivityQuery",
    "TaskQuery",
    "TimeFilter",
    "normalize_base_url",
    "token_lifetime",
]
