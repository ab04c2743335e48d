"""Async client of the TileDB Cloud v1 tasks and serverless SQL API (the generated ``TasksApi``, done right).

The four operations keep the generated client's names and parameters (``run_sql``,
``task_id_get``, ``task_id_result_get``, ``tasks_get``) and fix what it gets wrong: a ``202``
from ``GET /task/{id}/result`` is "still running", not a decoding error; ``POST /sql`` is never
retried blindly (it may run the query twice); the task id of ``X-TILEDB-CLOUD-TASK-ID`` is kept,
on errors too; ``start``/``end`` take ``datetime``. On top: :meth:`TileDBClient.iter_tasks` over
all pages, :meth:`TileDBClient.wait_for_result` and :meth:`TileDBClient.wait_for_task`.

Example:
    ```python
    async with TileDBClient(api_key="...") as tiledb:
        answer = await tiledb.run_sql("my-org", SQLParameters(query="select 1 as x", result_format="json"))
        print(answer.task_id, answer.rows)
    ```
"""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator, Generator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from prefect_soar._http import HTTPConfig, HTTPCore, RetryPolicy, ServiceClient, default_message, poll_until
from prefect_soar._redact import register_secret
from prefect_soar.errors import APIStatusError, BadInputError, NotFoundError, SoarError
from prefect_soar.models.tiledb import (
    UNSUCCESSFUL_STATUSES,
    ArrayTask,
    ArrayTaskData,
    ResultFormat,
    SQLParameters,
    SQLResult,
    TaskResult,
)

SERVICE = "tiledb"
DEFAULT_BASE_URL = "https://api.tiledb.com/v1"
API_KEY_HEADER = "X-TILEDB-REST-API-KEY"
TASK_ID_HEADER = "X-TILEDB-CLOUD-TASK-ID"
SQL_TIMEOUT = 960.0
"""Read timeout of ``run_sql``: TileDB stops a query after 15 minutes, so wait a little longer."""
_ERROR_STATUSES = frozenset(range(400, 600))
_KNOWN_FORMATS = frozenset(fmt.value for fmt in ResultFormat)

Epoch = int | float | datetime
"""A point in time for the ``start``/``end`` filters: a timezone-aware datetime or Unix seconds."""


class TileDBTaskFailedError(SoarError):
    """A TileDB task ended without a result: ``FAILED``, ``CANCELLED``, ``RESOURCES_UNAVAILABLE`` or ``DENIED``.

    Attributes:
        task_id: The task.
        task_status: Its final status.
    """

    hint = "Read the task's status_message and logs (task_id_get) and fix the query or resources"

    def __init__(self, message: str, *, task_id: str, task_status: str | None, **kwargs: Any) -> None:
        self.task_id = task_id
        self.task_status = task_status
        super().__init__(message, **kwargs)


class _APIKeyAuth(httpx.Auth):
    """Sends the API key header; a separate object so no config or repr holds the key."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[API_KEY_HEADER] = self._api_key
        yield request


def tiledb_message(body: Any) -> str | None:
    """The message of TileDB's ``Error`` envelope, with its code and request id for support."""
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        extras = [f"{key} {body[key]}" for key in ("code", "request_id") if body.get(key) not in (None, "")]
        return f"{body['message']} ({', '.join(extras)})" if extras else body["message"]
    return default_message(body)


def to_epoch_seconds(value: Epoch, name: str) -> int:
    """Convert a ``start``/``end`` filter to the Unix seconds the API expects.

    Args:
        value: A timezone-aware ``datetime``, or Unix seconds (int, or float rounded down).
        name: The parameter name, for the error.

    Returns:
        Whole seconds since the epoch (never negative).

    Raises:
        BadInputError: Naive datetime, negative or non-finite number, or another type.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BadInputError(
                f"{name} is a naive datetime; give a timezone-aware one (e.g. datetime.now(timezone.utc))",
                service=SERVICE,
            )
        seconds = math.floor(value.timestamp())
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInputError(f"{name} must be a datetime or Unix seconds, not {type(value).__name__}", service=SERVICE)
    elif isinstance(value, float) and not math.isfinite(value):
        raise BadInputError(f"{name} must be a finite number of seconds", service=SERVICE)
    else:
        seconds = math.floor(value)
    if seconds < 0:
        raise BadInputError(f"{name} must not be before 1970-01-01 (got {seconds})", service=SERVICE)
    return seconds


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(f"{name} must be a non-empty string", service=SERVICE)
    return value


def _count(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInputError(f"{name} must be an integer >= 1 (got {value!r})", service=SERVICE)
    return value


def _strings(value: str | Iterable[str] | None, name: str, *, csv: bool) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise BadInputError(f"{name} items must be non-empty strings (got {item!r})", service=SERVICE)
        if csv and "," in item:
            raise BadInputError(f"{name} is sent comma-separated, so an item cannot contain a comma", service=SERVICE)
    return items


def _path_segment(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(f"{name} must be a non-empty string", service=SERVICE)
    return quote(value, safe="")


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


class TileDBClient(ServiceClient):
    """Async client of TileDB Cloud's tasks and SQL endpoints (API v1).

    Args:
        base_url: API root including ``/v1``, e.g. ``https://api.tiledb.com/v1`` or a regional
            ``https://us-east-1.aws.api.tiledb.com/v1``.
        api_key: REST API token, sent as ``X-TILEDB-REST-API-KEY``; preferred over username/password.
        username: Username for HTTP Basic auth (with ``password``) when there is no API key.
        password: Password for HTTP Basic auth.
        verify: ``True`` (system CAs), a CA bundle path, or ``False`` (insecure; lab only).
        timeout: Seconds for connect, read and write of every call but ``run_sql``.
        proxy: Optional proxy URL.
        retry: Retry policy for reads (``POST /sql`` is not retried once sent).
        transport: Injected transport (tests).
        sql_timeout: Read timeout of ``run_sql`` (the query runs while the request is open).

    Raises:
        BadInputError: No usable credentials, or an invalid base URL.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool | str = True,
        timeout: float = 30.0,
        proxy: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sql_timeout: float = SQL_TIMEOUT,
    ) -> None:
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise BadInputError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL}", service=SERVICE)
        if sql_timeout <= 0:
            raise BadInputError("sql_timeout must be a positive number of seconds", service=SERVICE)
        auth = self._auth(api_key, username, password)
        config = HTTPConfig(
            base_url=base_url,
            timeout=timeout,
            verify=verify,
            proxy=proxy,
            headers={"Accept": "application/json"},
            retry=retry or RetryPolicy(),
            transport=transport,
        )
        self._sql_timeout = max(sql_timeout, timeout)
        self._http = HTTPCore(SERVICE, config, auth=auth, message_extractor=tiledb_message)

    @staticmethod
    def _auth(api_key: str | None, username: str | None, password: str | None) -> httpx.Auth:
        if api_key:
            register_secret(api_key)
            return _APIKeyAuth(api_key)
        if username and password:
            register_secret(password)
            register_secret(base64.b64encode(f"{username}:{password}".encode()).decode())
            return httpx.BasicAuth(username, password)
        if username or password:
            raise BadInputError("HTTP Basic auth needs both username and password", service=SERVICE)
        raise BadInputError("give an api_key, or a username and password", service=SERVICE)

    # -- the seed's four operations --------------------------------------------------

    async def run_sql(
        self,
        namespace: str,
        sql: SQLParameters | Mapping[str, Any] | str,
        accept_encoding: str | None = None,
    ) -> SQLResult:
        """Run a SQL query and return its rows and task id (``POST /sql/{namespace}``).

        The call is synchronous on TileDB's side: it returns when the query has finished (up to
        15 minutes). It is never retried once sent, since that could run the query twice.

        Args:
            namespace: Organization or user the query runs under and is charged to.
            sql: The ``SQLParameters``, a dict of them, or just the SQL text.
            accept_encoding: ``Accept-Encoding`` to ask for (e.g. ``deflate``); httpx's default otherwise.

        Returns:
            The task id (``X-TILEDB-CLOUD-TASK-ID``) and the rows (``None`` on 204); a non-JSON
            result format is kept as bytes in ``data``.

        Raises:
            BadInputError: Empty namespace or query, or an unknown ``result_format``.
            APIStatusError: The query was rejected or failed; ``task_id`` is set on the error
                when TileDB gave one.
        """
        body = self._sql_parameters(sql).to_wire()
        path = f"/sql/{_path_segment(namespace, 'namespace')}"
        headers = {"Accept-Encoding": accept_encoding} if accept_encoding else None
        response = await self._http.request(
            "POST", path, json=body, headers=headers, ok=_ERROR_STATUSES, timeout=self._sql_timeout
        )
        task_id = response.headers.get(TASK_ID_HEADER) or None
        if response.status_code >= 400:
            raise self._error_with_task(response, task_id)
        if response.status_code == 204 or not response.content:
            return SQLResult(task_id=task_id, status_code=response.status_code)
        media_type = _media_type(response)
        if _is_json(media_type):
            value = self._http.decode_json(response)
            if isinstance(value, list) and all(isinstance(row, dict) for row in value):
                return SQLResult(task_id=task_id, status_code=response.status_code, rows=value, content_type=media_type)
        return SQLResult(
            task_id=task_id, status_code=response.status_code, content_type=media_type or None, data=response.content
        )

    async def task_id_get(self, id: str) -> ArrayTask:
        """Fetch one task (``GET /task/{id}``).

        Args:
            id: The task id.

        Returns:
            The task.

        Raises:
            NotFoundError: No such task.
        """
        response = await self._http.request("GET", f"/task/{_path_segment(id, 'id')}")
        return self._http.parse(ArrayTask, self._http.decode_json(response), response)

    async def task_id_result_get(self, id: str, accept_encoding: str | None = None) -> TaskResult:
        """Fetch a task's stored result (``GET /task/{id}/result``): ready, running or missing.

        Args:
            id: The task id (of a query run with ``store_results``).
            accept_encoding: ``Accept-Encoding`` to ask for; httpx's default otherwise.

        Returns:
            A :class:`TaskResult` whose ``status`` is ``ready`` (200, decoded by content type),
            ``running`` (202) or ``missing`` (404: not stored, expired, or unknown task).
        """
        headers = {"Accept-Encoding": accept_encoding} if accept_encoding else None
        response = await self._http.request(
            "GET", f"/task/{_path_segment(id, 'id')}/result", headers=headers, ok={404}
        )
        if response.status_code == 202:
            return TaskResult(task_id=id, status="running")
        if response.status_code == 404:
            return TaskResult(task_id=id, status="missing", message=self._message(response))
        media_type = _media_type(response)
        if response.content and _is_json(media_type):
            return TaskResult(
                task_id=id, status="ready", content_type=media_type, value=self._http.decode_json(response)
            )
        return TaskResult(
            task_id=id, status="ready", content_type=media_type or None, data=response.content or None
        )

    async def tasks_get(
        self,
        namespace: str | None = None,
        created_by: str | None = None,
        array: str | None = None,
        start: Epoch | None = None,
        end: Epoch | None = None,
        page: int | None = None,
        per_page: int | None = None,
        type: str | None = None,
        exclude_type: str | Iterable[str] | None = None,
        file_type: str | Iterable[str] | None = None,
        exclude_file_type: str | Iterable[str] | None = None,
        status: str | None = None,
        search: str | None = None,
        orderby: str | None = None,
    ) -> ArrayTaskData:
        """List one page of the tasks the user can see (``GET /tasks``).

        Unset filters are not sent; TileDB then lists the last 7 days. ``exclude_type`` is sent
        comma-separated (``exclude_type=UDF,SQL``), ``file_type`` and ``exclude_file_type`` as
        repeated keys, as the spec's ``collectionFormat`` says.

        Args:
            namespace: Only tasks of this namespace.
            created_by: Only tasks run by this username.
            array: Only tasks on this array (name or URI).
            start: Only tasks started at or after this time (aware datetime or Unix seconds).
            end: Only tasks started at or before this time.
            page: 1-based page number.
            per_page: Page size.
            type: Task type, e.g. ``SQL``, ``UDF``, ``QUERY``, ``GENERIC_UDF``.
            exclude_type: Task types to leave out.
            file_type: Only tasks whose array stores these file types (e.g. ``notebook``).
            exclude_file_type: Leave out tasks whose array stores these file types.
            status: Only tasks in this status, e.g. ``FAILED``.
            search: Text matched against name, namespace and description.
            orderby: Sort field, e.g. ``start_time`` or ``name``.

        Returns:
            The page: ``array_tasks`` (empty when none) and ``pagination_metadata``.

        Raises:
            BadInputError: An invalid filter; nothing was sent.
        """
        params = self.task_query(
            namespace=namespace, created_by=created_by, array=array, start=start, end=end, page=page,
            per_page=per_page, type=type, exclude_type=exclude_type, file_type=file_type,
            exclude_file_type=exclude_file_type, status=status, search=search, orderby=orderby,
        )
        response = await self._http.request("GET", "/tasks", params=params)
        return self._http.parse(ArrayTaskData, self._http.decode_json(response), response)

    # -- beyond the seed -------------------------------------------------------------

    async def iter_tasks(
        self,
        namespace: str | None = None,
        created_by: str | None = None,
        array: str | None = None,
        start: Epoch | None = None,
        end: Epoch | None = None,
        per_page: int = 100,
        type: str | None = None,
        exclude_type: str | Iterable[str] | None = None,
        file_type: str | Iterable[str] | None = None,
        exclude_file_type: str | Iterable[str] | None = None,
        status: str | None = None,
        search: str | None = None,
        orderby: str | None = None,
        *,
        max_items: int | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[ArrayTask]:
        """Yield every matching task, page after page, each task once.

        Takes the filters of :meth:`tasks_get`. When ``end`` is not given it is pinned to the
        time of the first request so that tasks started meanwhile do not shift the pages.
        Stops after ``total_pages``, on an empty or short page, on a page with nothing new (a
        server that ignores ``page`` cannot loop it forever), or at a cap.

        Args:
            namespace: See :meth:`tasks_get`.
            created_by: See :meth:`tasks_get`.
            array: See :meth:`tasks_get`.
            start: See :meth:`tasks_get`.
            end: See :meth:`tasks_get`; defaults to now.
            per_page: Page size.
            type: See :meth:`tasks_get`.
            exclude_type: See :meth:`tasks_get`.
            file_type: See :meth:`tasks_get`.
            exclude_file_type: See :meth:`tasks_get`.
            status: See :meth:`tasks_get`.
            search: See :meth:`tasks_get`.
            orderby: See :meth:`tasks_get`.
            max_items: Stop after this many tasks.
            max_pages: Stop after this many pages.

        Yields:
            Tasks in the server's order, duplicates (from pages shifting) skipped.
        """
        _count(max_items, "max_items")
        _count(max_pages, "max_pages")
        filters: dict[str, Any] = {
            "namespace": namespace, "created_by": created_by, "array": array, "start": start,
            "end": end if end is not None else datetime.now(UTC), "per_page": per_page, "type": type,
            "exclude_type": exclude_type, "file_type": file_type, "exclude_file_type": exclude_file_type,
            "status": status, "search": search, "orderby": orderby,
        }
        self.task_query(**filters)  # validate everything before the first request
        seen: set[str] = set()
        yielded = 0
        page = 1
        while True:
            data = await self.tasks_get(page=page, **filters)
            fresh = 0
            for task in data.array_tasks:
                if task.id is not None and task.id in seen:
                    continue
                if task.id is not None:
                    seen.add(task.id)
                fresh += 1
                yield task
                yielded += 1
                if max_items is not None and yielded >= max_items:
                    return
            meta = data.pagination_metadata
            size = (meta.per_page if meta and meta.per_page else None) or per_page
            if not fresh or (max_pages is not None and page >= max_pages):
                return  # an empty page, or one that repeats what we have (a server ignoring ``page``)
            if meta is not None and meta.total_pages is not None:
                if page >= meta.total_pages:
                    return
            elif len(data.array_tasks) < size:
                return
            page += 1

    async def list_all_tasks(self, *, max_items: int | None = None, **filters: Any) -> list[ArrayTask]:
        """Collect :meth:`iter_tasks` into a list (same filters and caps)."""
        return [task async for task in self.iter_tasks(max_items=max_items, **filters)]

    async def wait_for_result(
        self, id: str, timeout: float = 900.0, poll: float = 2.0, *, max_poll: float = 30.0
    ) -> TaskResult:
        """Poll ``GET /task/{id}/result`` until the result is ready, backing off between polls.

        Args:
            id: The task id (of a query run with ``store_results``).
            timeout: Seconds to wait in total.
            poll: First interval in seconds; it grows by half each round up to ``max_poll``.
            max_poll: Longest interval in seconds.

        Returns:
            The ready result.

        Raises:
            WaitTimeoutError: Still running after ``timeout`` seconds.
            TileDBTaskFailedError: The task ended FAILED, CANCELLED or without resources.
            NotFoundError: The result was not stored, has expired, or the task is unknown.
        """
        _path_segment(id, "id")
        self._check_wait(timeout, poll)

        async def check() -> tuple[bool, TaskResult]:
            result = await self.task_id_result_get(id)
            if result.status == "missing":
                raise await self._missing_result_error(id, result)
            return result.ready, result

        result: TaskResult = await poll_until(
            check, timeout=timeout, poll=poll, max_poll=max_poll, what=f"the result of TileDB task {id}",
            service=SERVICE,
        )
        return result

    async def wait_for_task(
        self, id: str, timeout: float = 900.0, poll: float = 2.0, *, max_poll: float = 30.0
    ) -> ArrayTask:
        """Poll ``GET /task/{id}`` until the task reaches a terminal status (it is returned, not raised).

        Args:
            id: The task id.
            timeout: Seconds to wait in total.
            poll: First interval in seconds, backed off up to ``max_poll``.
            max_poll: Longest interval in seconds.

        Returns:
            The task in its terminal status (check ``task.succeeded``).

        Raises:
            WaitTimeoutError: Not terminal after ``timeout`` seconds.
        """
        _path_segment(id, "id")
        self._check_wait(timeout, poll)

        async def check() -> tuple[bool, ArrayTask]:
            task = await self.task_id_get(id)
            return task.is_terminal, task

        task: ArrayTask = await poll_until(
            check, timeout=timeout, poll=poll, max_poll=max_poll, what=f"TileDB task {id}", service=SERVICE
        )
        return task

    async def check_connection(self) -> None:
        """One cheap authenticated call (``GET /tasks?page=1&per_page=1``)."""
        await self.tasks_get(page=1, per_page=1)

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def task_query(
        *,
        namespace: str | None = None,
        created_by: str | None = None,
        array: str | None = None,
        start: Epoch | None = None,
        end: Epoch | None = None,
        page: int | None = None,
        per_page: int | None = None,
        type: str | None = None,
        exclude_type: str | Iterable[str] | None = None,
        file_type: str | Iterable[str] | None = None,
        exclude_file_type: str | Iterable[str] | None = None,
        status: str | None = None,
        search: str | None = None,
        orderby: str | None = None,
    ) -> list[tuple[str, str]]:
        """Validate the ``GET /tasks`` filters and serialise them as the spec says (unset ones left out).

        Returns:
            Query pairs in the spec's order: csv for ``exclude_type``, repeated keys for the file types.

        Raises:
            BadInputError: An invalid value.
        """
        pairs: list[tuple[str, str]] = []
        for name, text in (("namespace", namespace), ("created_by", created_by), ("array", array)):
            if _text(text, name) is not None:
                pairs.append((name, str(text)))
        start_s = None if start is None else to_epoch_seconds(start, "start")
        end_s = None if end is None else to_epoch_seconds(end, "end")
        if start_s is not None and end_s is not None and start_s > end_s:
            raise BadInputError(f"start ({start_s}) is after end ({end_s})", service=SERVICE)
        for name, number in (("start", start_s), ("end", end_s), ("page", _count(page, "page")),
                             ("per_page", _count(per_page, "per_page"))):
            if number is not None:
                pairs.append((name, str(number)))
        if _text(type, "type") is not None:
            pairs.append(("type", str(type)))
        excluded = _strings(exclude_type, "exclude_type", csv=True)
        if excluded:
            pairs.append(("exclude_type", ",".join(excluded)))
        for name, values in (("file_type", file_type), ("exclude_file_type", exclude_file_type)):
            pairs.extend((name, item) for item in _strings(values, name, csv=False))
        for name, text in (("status", status), ("search", search), ("orderby", orderby)):
            if _text(text, name) is not None:
                pairs.append((name, str(text)))
        return pairs

    @staticmethod
    def _sql_parameters(sql: SQLParameters | Mapping[str, Any] | str) -> SQLParameters:
        if isinstance(sql, str):
            params = SQLParameters(query=sql)
        elif isinstance(sql, SQLParameters):
            params = sql
        elif isinstance(sql, Mapping):
            try:
                params = SQLParameters.model_validate(dict(sql))
            except ValueError as exc:
                raise BadInputError(f"invalid SQL parameters: {exc}", service=SERVICE) from exc
        else:
            raise BadInputError("sql must be SQLParameters, a dict or the SQL text", service=SERVICE)
        if not params.query or not params.query.strip():
            raise BadInputError("the SQL query is empty", service=SERVICE)
        if params.result_format is not None and params.result_format not in _KNOWN_FORMATS:
            raise BadInputError(
                f"unknown result_format {params.result_format!r}; use one of {sorted(_KNOWN_FORMATS)}",
                service=SERVICE,
            )
        return params

    @staticmethod
    def _check_wait(timeout: float, poll: float) -> None:
        if not timeout > 0 or not poll > 0:
            raise BadInputError("timeout and poll must be positive numbers of seconds", service=SERVICE)

    def _message(self, response: httpx.Response) -> str | None:
        if not response.content:
            return None
        try:
            return tiledb_message(self._http.decode_json(response))
        except SoarError:
            return response.content[:200].decode("utf-8", errors="replace")

    def _error_with_task(self, response: httpx.Response, task_id: str | None) -> APIStatusError:
        error = self._http.status_error(response)
        if task_id:
            error.task_id = task_id  # type: ignore[attr-defined]
            error.hint = f"TileDB task id {task_id} (see task_id_get for its logs). {error.hint}"
            error.args = (error._render(),)
        return error

    async def _missing_result_error(self, id: str, result: TaskResult) -> SoarError:
        try:
            task: ArrayTask | None = await self.task_id_get(id)
        except NotFoundError:
            task = None
        if task is not None and task.status in UNSUCCESSFUL_STATUSES:
            detail = f": {task.status_message}" if task.status_message else ""
            return TileDBTaskFailedError(
                f"task {id} ended {task.status}{detail}", task_id=id, task_status=task.status, service=SERVICE,
                method="GET", url=f"/task/{id}",
            )
        what = "is unknown" if task is None else f"is {task.status} but has no stored result"
        return NotFoundError(
            f"task {id} {what}", service=SERVICE, method="GET", url=f"/task/{id}/result", status=404,
            api_message=result.message,
            hint="Run the query with store_results=True; TileDB keeps stored results for up to 24 hours",
        )


__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_BASE_URL",
    "TASK_ID_HEADER",
    "Epoch",
    "TileDBClient",
    "TileDBTaskFailedError",
    "tiledb_message",
    "to_epoch_seconds",
]
