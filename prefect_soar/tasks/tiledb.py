"""Prefect tasks for TileDB Cloud: run SQL, read tasks and stored results, list task history, wait for results.

Every task takes a :class:`~prefect_soar.blocks.tiledb.TileDBCredentials` block first, opens one
client for its work and logs ids and counts only. Reads are retried by the task on transient
failures (network, 429, 5xx) on top of the client's own retries; ``run_sql`` is never retried,
since a repeat would run the query twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import get_run_logger, task

from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.errors import BadInputError, RateLimitedError, ServerError, TransportError
from prefect_soar.models.tiledb import ArrayTask, ArrayTaskData, SQLParameters, SQLResult, TaskResult


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only failures that may pass: transport errors, 429 and 5xx."""
    error = getattr(state, "data", None)
    return isinstance(error, TransportError | RateLimitedError | ServerError)


def _namespace(credentials: TileDBCredentials, namespace: str | None) -> str:
    chosen = namespace or credentials.namespace
    if not chosen:
        raise BadInputError("give a namespace, or set one on the TileDB credentials block", service="tiledb")
    return chosen


@task(
    name="tiledb-run-sql",
    description="Run a SQL query on TileDB Cloud and return its task id and rows.",
    retries=0,
)
async def run_sql(
    credentials: TileDBCredentials,
    query: str,
    namespace: str | None = None,
    name: str | None = None,
    result_format: str = "json",
    store_results: bool = False,
    parameters: list[Any] | None = None,
    init_commands: list[str] | None = None,
    resource_class: str | None = None,
    output_uri: str | None = None,
) -> SQLResult:
    """Run a SQL query (``POST /sql/{namespace}``); the call returns when the query has finished.

    Args:
        credentials: The TileDB Cloud credentials block.
        query: The SQL text; ``?`` placeholders take ``parameters``.
        namespace: Organization or user to run under; defaults to the block's namespace.
        name: Task name shown in TileDB Cloud.
        result_format: ``json`` (rows decoded) or another ``ResultFormat`` (kept as bytes).
        store_results: Keep the result server-side for ``get_task_result`` (up to 24 hours).
        parameters: Values for the ``?`` placeholders.
        init_commands: Commands run before the query.
        resource_class: Resource class, e.g. ``standard``.
        output_uri: Array to write the result to instead of returning it.

    Returns:
        The task id and the rows (``None`` when the query returned none).
    """
    logger = get_run_logger()
    sql = SQLParameters(
        name=name, query=query, result_format=result_format, store_results=store_results or None,
        parameters=parameters, init_commands=init_commands, resource_class=resource_class, output_uri=output_uri,
    )
    async with credentials.get_client() as client:
        result = await client.run_sql(_namespace(credentials, namespace), sql)
    logger.info("TileDB SQL task %s finished with %d rows", result.task_id, len(result.rows or []))
    return result


@task(
    name="tiledb-get-task",
    description="Fetch one TileDB Cloud task (status, timing, cost, query).",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_transient,
)
async def get_task(credentials: TileDBCredentials, task_id: str) -> ArrayTask:
    """Fetch one task (``GET /task/{id}``).

    Args:
        credentials: The TileDB Cloud credentials block.
        task_id: The task id.

    Returns:
        The task.
    """
    async with credentials.get_client() as client:
        found = await client.task_id_get(task_id)
    get_run_logger().info("TileDB task %s is %s", task_id, found.status)
    return found


@task(
    name="tiledb-get-task-result",
    description="Fetch a TileDB Cloud task's stored result: ready, still running, or missing.",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_transient,
)
async def get_task_result(credentials: TileDBCredentials, task_id: str) -> TaskResult:
    """Fetch a stored result once (``GET /task/{id}/result``).

    Args:
        credentials: The TileDB Cloud credentials block.
        task_id: The task id (of a query run with ``store_results``).

    Returns:
        The result with ``status`` ``ready`` (200), ``running`` (202) or ``missing`` (404).
    """
    async with credentials.get_client() as client:
        result = await client.task_id_result_get(task_id)
    get_run_logger().info("TileDB result of task %s: %s", task_id, result.status)
    return result


@task(
    name="tiledb-list-tasks",
    description="List one page of TileDB Cloud tasks with filters.",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_transient,
)
async def list_tasks(
    credentials: TileDBCredentials,
    namespace: str | None = None,
    created_by: str | None = None,
    array: str | None = None,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
    page: int = 1,
    per_page: int = 100,
    type: str | None = None,
    exclude_type: list[str] | None = None,
    file_type: list[str] | None = None,
    exclude_file_type: list[str] | None = None,
    status: str | None = None,
    search: str | None = None,
    orderby: str | None = None,
) -> ArrayTaskData:
    """List one page of tasks (``GET /tasks``); TileDB lists the last 7 days unless ``start``/``end`` say.

    Args:
        credentials: The TileDB Cloud credentials block.
        namespace: Only tasks of this namespace.
        created_by: Only tasks run by this username.
        array: Only tasks on this array (name or URI).
        start: Only tasks started at or after this time (timezone-aware, or Unix seconds).
        end: Only tasks started at or before this time.
        page: 1-based page number.
        per_page: Page size.
        type: Task type: SQL, UDF, QUERY, GENERIC_UDF, BATCH_UDF or CLIENT_COMPUTATION.
        exclude_type: Task types to leave out.
        file_type: Only tasks whose array stores these file types (e.g. notebook, ml_model).
        exclude_file_type: Leave out tasks whose array stores these file types.
        status: Only tasks in this status, e.g. FAILED.
        search: Text matched against name, namespace and description.
        orderby: Sort field, e.g. start_time or name.

    Returns:
        The page and its pagination metadata.
    """
    async with credentials.get_client() as client:
        data = await client.tasks_get(
            namespace=namespace, created_by=created_by, array=array, start=start, end=end, page=page,
            per_page=per_page, type=type, exclude_type=exclude_type, file_type=file_type,
            exclude_file_type=exclude_file_type, status=status, search=search, orderby=orderby,
        )
    meta = data.pagination_metadata
    get_run_logger().info(
        "TileDB tasks page %d: %d tasks of %s", page, len(data.array_tasks), meta.total_items if meta else "?"
    )
    return data


@task(
    name="tiledb-list-all-tasks",
    description="List every matching TileDB Cloud task across pages, up to a cap.",
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=_transient,
)
async def list_all(
    credentials: TileDBCredentials,
    namespace: str | None = None,
    created_by: str | None = None,
    array: str | None = None,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
    type: str | None = None,
    exclude_type: list[str] | None = None,
    file_type: list[str] | None = None,
    exclude_file_type: list[str] | None = None,
    status: str | None = None,
    search: str | None = None,
    orderby: str | None = None,
    per_page: int = 100,
    max_items: int | None = 1000,
    max_pages: int | None = None,
) -> list[ArrayTask]:
    """List every matching task, page after page, in one task run (``end`` pinned to now when unset).

    Args:
        credentials: The TileDB Cloud credentials block.
        namespace: Only tasks of this namespace.
        created_by: Only tasks run by this username.
        array: Only tasks on this array (name or URI).
        start: Only tasks started at or after this time (timezone-aware, or Unix seconds).
        end: Only tasks started at or before this time; defaults to now.
        type: Task type: SQL, UDF, QUERY, GENERIC_UDF, BATCH_UDF or CLIENT_COMPUTATION.
        exclude_type: Task types to leave out.
        file_type: Only tasks whose array stores these file types.
        exclude_file_type: Leave out tasks whose array stores these file types.
        status: Only tasks in this status, e.g. FAILED.
        search: Text matched against name, namespace and description.
        orderby: Sort field, e.g. start_time or name.
        per_page: Page size of each request.
        max_items: Stop after this many tasks (None: no cap).
        max_pages: Stop after this many pages (None: no cap).

    Returns:
        The tasks, each once.
    """
    filters: dict[str, Any] = {
        "namespace": namespace, "created_by": created_by, "array": array, "start": start, "end": end,
        "type": type, "exclude_type": exclude_type, "file_type": file_type,
        "exclude_file_type": exclude_file_type, "status": status, "search": search, "orderby": orderby,
    }
    async with credentials.get_client() as client:
        tasks = [
            found
            async for found in client.iter_tasks(per_page=per_page, max_items=max_items, max_pages=max_pages, **filters)
        ]
    get_run_logger().info("TileDB listed %d tasks", len(tasks))
    return tasks


@task(
    name="tiledb-wait-for-result",
    description="Poll a TileDB Cloud task's stored result until it is ready.",
    retries=0,
)
async def wait_for_result(
    credentials: TileDBCredentials,
    task_id: str,
    timeout_seconds: float = 900.0,
    poll_seconds: float = 2.0,
) -> TaskResult:
    """Wait for a stored result, polling with backoff (``GET /task/{id}/result`` until 200).

    Args:
        credentials: The TileDB Cloud credentials block.
        task_id: The task id (of a query run with ``store_results``).
        timeout_seconds: Seconds to wait before failing with ``WaitTimeoutError``.
        poll_seconds: First polling interval; it grows up to 30 seconds.

    Returns:
        The ready result (fails with ``TileDBTaskFailedError`` if the task failed, ``NotFoundError``
        if the result was not stored or expired).
    """
    async with credentials.get_client() as client:
        result = await client.wait_for_result(task_id, timeout=timeout_seconds, poll=poll_seconds)
    rows = result.rows
    get_run_logger().info("TileDB result of task %s ready (%s rows)", task_id, len(rows) if rows is not None else "?")
    return result


__all__ = ["get_task", "get_task_result", "list_all", "list_tasks", "run_sql", "wait_for_result"]
